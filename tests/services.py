"""Tell whether a real service is reachable: ``python tests/services.py postgres URL``.

Also imported by ``conftest.py``; exit status 0 means reachable.
"""

from __future__ import annotations

import sys


def postgres_reachable(url: str) -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        with psycopg.connect(
            url.replace("postgres://", "postgresql://", 1).rsplit("/", 1)[0]
            + "/postgres",
            connect_timeout=3,
        ):
            return True
    except psycopg.Error:
        return False


if __name__ == "__main__":
    service, url = sys.argv[1], sys.argv[2]
    if service != "postgres":
        sys.exit(f"unknown service {service!r}")
    sys.exit(0 if postgres_reachable(url) else 1)
