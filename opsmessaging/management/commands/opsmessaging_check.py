"""``manage.py opsmessaging_check``: is operational messaging working here?"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsmessaging.compatibility import compatibility_status


class Command(BaseCommand):
    help = (
        "Check that operational messaging works on this node: helpers, catalogue, node "
        "fields and timestamps (validate_messaging_compatibility) and the OPSMESSAGING "
        "settings (system checks). Prints the report; exits 0 when all is well and 1 "
        "when not, for CI and health checks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="Print the report as JSON."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        status = compatibility_status()
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2))
        else:
            self._print(status)
        if not status["compatible"]:
            raise CommandError("operational messaging is not compatible", returncode=1)

    def _print(self, status: dict[str, Any]) -> None:
        for section, values in status["report"].items():
            self.stdout.write(self.style.MIGRATE_HEADING(section))
            for name, value in values.items():
                shown = value if isinstance(value, str) else json.dumps(value)
                self.stdout.write(f"  {name}: {shown}")
        self.stdout.write(self.style.MIGRATE_HEADING("system checks"))
        for check in status["checks"]:
            style = (
                self.style.ERROR
                if check["level"] in ("error", "critical")
                else (self.style.WARNING)
            )
            self.stdout.write(
                style(f"  {check['id']} ({check['level']}): {check['message']}")
            )
            if check["hint"]:
                self.stdout.write(f"    hint: {check['hint']}")
        if not status["checks"]:
            self.stdout.write("  none")
        if status["compatible"]:
            self.stdout.write(self.style.SUCCESS("compatible"))
        else:
            self.stdout.write(self.style.ERROR("NOT compatible"))
