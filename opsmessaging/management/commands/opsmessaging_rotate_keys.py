"""Re-encrypt stored payloads with the current encryption key, in bounded batches."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsmessaging import codec
from opsmessaging.models import Message


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted payload with the first key of "
        "OPSMESSAGING['ENCRYPTION_KEYS'] (all keys must still be listed), a batch of rows "
        "per transaction. Run it after putting a new key first; then old keys can go."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Rows per transaction (default 500).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the rows to re-encrypt; change nothing.",
        )

    def handle(
        self, *args: Any, batch_size: int, dry_run: bool, **options: Any
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        rows = Message.objects.filter(payload_encoding__in=codec.ENCRYPTED_ENCODINGS)
        if dry_run:
            self.stdout.write(
                f"{rows.count()} encrypted payload(s) would be re-encrypted."
            )
            return
        try:
            done = Message.objects.rotate_encryption(batch_size)
        except codec.UnreadablePayload as exc:
            raise CommandError(
                f"{exc}; keep every old key in ENCRYPTION_KEYS"
            ) from None
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {done} payload(s)."))
