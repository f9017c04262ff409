"""Write the AsyncAPI document of the WebSocket protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsmessaging.asyncapi import asyncapi_document


class Command(BaseCommand):
    help = (
        "Print the AsyncAPI 3 document of the WebSocket endpoint (its frames, their JSON "
        "Schemas, close codes and subscription semantics), or write it to --output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default="localhost:8000",
            help="The server's host[:port] in the document (default localhost:8000).",
        )
        parser.add_argument(
            "--protocol", choices=["ws", "wss"], default="ws", help="ws or wss."
        )
        parser.add_argument("--output", help="A file to write instead of stdout.")

    def handle(
        self, *args: Any, host: str, protocol: str, output: str | None, **options: Any
    ) -> None:
        if not host or any(c in host for c in "/ \t"):
            raise CommandError(f"--host must be host[:port], not {host!r}")
        text = json.dumps(
            asyncapi_document(host=host, protocol_name=protocol),
            indent=2,
            ensure_ascii=False,
        )
        if output is None:
            self.stdout.write(text)
            return
        try:
            Path(output).write_text(text + "\n")
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(f"Wrote the AsyncAPI document to {output}.")
        )
