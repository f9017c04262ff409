"""The set-up the benchmarks share: a PostgreSQL database of their own, created and
migrated, and the environment of the demo server they start."""

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


def server_environment(
    database_url: str, redis_url: str, name: str, pool_size: int
) -> dict[str, str]:
    """The environment of a demo server (``project.settings``) started by benchmark ``name``.

    Pub/sub channels are server-wide, whatever the Redis database: the channel prefix is
    the benchmark's and its process's own, so no other run's messages reach it.
    """
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_DEBUG": "0",
        "DEMO_BACKGROUND_THREADS": "0",
        "PYTHONPATH": str(ROOT),
        "CHANNEL_LAYER_PREFIX": f"opsmessaging-{name}{os.getpid()}",
        "DATABASE_POOL_SIZE": str(pool_size),
    }
