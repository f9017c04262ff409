"""ASGI entry point of the demo project: HTTP (Django) and WebSocket (opsmessaging).

``LifespanMiddleware`` announces the server's start and stop as ``system`` lifecycle
messages (and registers the node) through the ASGI lifespan protocol.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

django_application = get_asgi_application()  # sets Django up before the imports below

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from opsmessaging.capture.lifecycle import LifespanMiddleware  # noqa: E402
from opsmessaging.routing import websocket_application  # noqa: E402

application = LifespanMiddleware(
    ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(django_application)
            if settings.DEBUG
            else django_application,
            "websocket": websocket_application(),
        }
    ),
    role="web",
)
