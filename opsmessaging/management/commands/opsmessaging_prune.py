"""Prune stored messages by retention, or before a date, in bounded batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsmessaging import retention
from opsmessaging.categories import parse_category
from opsmessaging.conf import conf
from opsmessaging.exceptions import InvalidMessage


def _parse_before(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--before: {value!r} is not a date or datetime (e.g. 2026-01-31 or "
            "2026-01-31T12:00:00+00:00)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


class Command(BaseCommand):
    help = (
        "Delete the oldest messages of each category past its retention "
        "(OPSMESSAGING['RETENTION_DAYS']), or all before --before, in bounded batches. "
        "Kept history never has holes: it starts at the printed sequence."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--category", help="prune only this category")
        parser.add_argument(
            "--before",
            help="prune messages stamped before this date or datetime (UTC if no offset) "
            "instead of by retention",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be deleted; delete nothing",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            help=f"rows per DELETE (default RETENTION_BATCH_SIZE, {conf.RETENTION_BATCH_SIZE})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        category = options["category"]
        if category is not None:
            try:
                category = parse_category(category)
            except InvalidMessage as exc:
                raise CommandError(f"--category: {exc.errors['category'][0]}") from None
        before = None if options["before"] is None else _parse_before(options["before"])
        batch_size = options["batch_size"]
        if batch_size is not None and batch_size <= 0:
            raise CommandError(f"--batch-size must be positive, not {batch_size}")
        dry_run = options["dry_run"]
        results = retention.prune(
            category, before, batch_size=batch_size, dry_run=dry_run
        )
        verb = "would delete" if dry_run else "deleted"
        for pruned in results:
            self.stdout.write(
                f"{pruned.category.value}: {verb} {pruned.deleted} messages before "
                f"{pruned.before.isoformat()}; kept history starts at sequence "
                f"{pruned.first_kept_sequence}"
            )
        if not results:
            self.stdout.write(
                "nothing to prune: the selected categories are kept forever"
            )
