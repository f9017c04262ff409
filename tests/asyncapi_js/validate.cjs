// Validate an AsyncAPI document (JSON on stdin) with the AsyncAPI project's own parser.
// Prints {"diagnostics": [...], "channels": n, "operations": n, "messages": [...]} as JSON.
"use strict";
const { Parser } = require("@asyncapi/parser");

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const source = Buffer.concat(chunks).toString("utf8");
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(source);
  const result = {
    diagnostics: diagnostics.map((d) => ({
      code: String(d.code),
      message: d.message,
      path: d.path.join("."),
      severity: d.severity,
    })),
    parsed: document !== undefined,
  };
  if (document !== undefined) {
    result.version = document.version();
    result.channels = document.channels().all().map((c) => c.address());
    result.operations = document.operations().all().map((o) => [o.id(), o.action()]);
    result.messages = document.components().messages().all().map((m) => m.id());
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(2);
});
