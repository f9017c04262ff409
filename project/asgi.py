"""ASGI entry point of the demo project: HTTP (Django) and WebSocket (opsmessaging).

``opsmessaging.asgi`` wires the WebSocket route, the static files while DEBUG, and the
lifespan (start and stop announced, the node's heartbeat); the demo adds its embedded
Celery worker and beat when no broker is configured.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from opsmessaging.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()

from project.lifecycle import start_background  # noqa: E402  (needs Django set up)

start_background()
