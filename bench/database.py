"""The database of a benchmark: a PostgreSQL database of its own, created and migrated."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def setup(url: str) -> None:
    """Point Django at ``url`` (creating the database if needed), set it up, migrate."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django
    import psycopg

    name = urlparse(url).path.lstrip("/")
    admin_url = url.replace("postgres://", "postgresql://", 1).rsplit("/", 1)[0]
    with psycopg.connect(admin_url + "/postgres", autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reset(connection: Any) -> None:
    """Empty the store: every message and every category's sequence."""
    from opsmessaging.models import CategorySequence, Message

    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {Message._meta.db_table}, {CategorySequence._meta.db_table} "
            f"RESTART IDENTITY"
        )
