"""Store the messages this node spooled while the database was unreachable."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from opsmessaging import pubsub


class Command(BaseCommand):
    help = (
        "Store this node's spooled messages (OPSMESSAGING['SPOOL_DIR']), oldest first, "
        "and fan them out to subscribers. The next broadcast does it too; run this after "
        "an outage on a node that broadcasts rarely, or from a periodic task."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = pubsub.drain_spool()
        if report is None:
            raise CommandError(
                "No spool is configured: set OPSMESSAGING['SPOOL_DIR'] to use one."
            )
        summary = f"Drained {report.drained} spooled message(s)"
        if report.rejected:
            summary += f"; rejected {report.rejected} record(s) (see the log)"
        if not report.complete:
            raise CommandError(
                f"{summary}; {report.remaining} message(s) remain spooled: {report.error}"
            )
        self.stdout.write(self.style.SUCCESS(f"{summary}."))
