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


def redis_reachable(url: str) -> bool:
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=3
        ) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


CHECKS = {"postgres": postgres_reachable, "redis": redis_reachable}

if __name__ == "__main__":
    service, url = sys.argv[1], sys.argv[2]
    if service not in CHECKS:
        sys.exit(f"unknown service {service!r}")
    sys.exit(0 if CHECKS[service](url) else 1)
