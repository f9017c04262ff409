"""Write the JSON Schema of every payload type and version to a directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsmessaging.schema import all_schemas, describe_catalogue


class Command(BaseCommand):
    help = (
        "Write one JSON Schema file per payload type and version (e.g. "
        "ComponentHealth.v2.schema.json) and an index.json of the catalogue into --out, so "
        "producers in other languages can validate what they send."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", required=True, help="Directory to write (created if missing)."
        )

    def handle(self, *args: Any, out: str, **options: Any) -> None:
        directory = Path(out)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            schemas = all_schemas()
            for stem, document in schemas.items():
                (directory / f"{stem}.schema.json").write_text(
                    json.dumps(document, indent=2, ensure_ascii=False) + "\n"
                )
            (directory / "index.json").write_text(
                json.dumps(describe_catalogue(), indent=2, ensure_ascii=False) + "\n"
            )
        except OSError as exc:
            raise CommandError(f"cannot write schemas to {directory}: {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {len(schemas)} schemas and index.json to {directory}."
            )
        )
