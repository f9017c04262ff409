"""Rows as a newer node or an intruder leaves them: changed behind the model's back."""

from __future__ import annotations

from django.db import connection

from opsmessaging.models import Message


def set_stored_version(message: Message, version: int) -> None:
    """Store ``message`` as written in a payload version this node does not know."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} SET version = %s WHERE id = %s",
            [version, message.pk],
        )
