"""ASGI entry point of the demo project.

``LifespanMiddleware`` announces the server's start and stop as ``system`` lifecycle
messages (and registers the node) through the ASGI lifespan protocol.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_asgi_application()

from opsmessaging.capture.lifecycle import LifespanMiddleware  # noqa: E402  (needs the apps loaded)

application = LifespanMiddleware(application, role="web")
