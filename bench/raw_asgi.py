"""The fan-out benchmark's baseline: a bare Channels consumer, served like the demo.

    uvicorn bench.raw_asgi:application --ws websockets-sansio --lifespan off

A WebSocket connected to ``/ws/raw/`` joins one group (``GROUP``) and forwards the
pre-built JSON text of every ``raw.message`` event sent to it (``{"type": "raw.message",
"text": "..."}``), nothing else: no authentication, no subscription, no store. It uses the
demo settings' channel layer (``REDIS_URL``: channels_redis's pub/sub layer), so it is
the raw limit of Channels on this machine that ``bench/fanout.py`` compares with.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_application = get_asgi_application()  # sets Django up before the imports below

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

#: The one group every connection joins.
GROUP = "bench.raw"
#: The WebSocket path.
PATH = "/ws/raw/"


class RawConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Joins ``GROUP`` and sends each ``raw.message`` event's text as it is."""

    groups = [GROUP]

    async def raw_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": URLRouter([path(PATH.strip("/") + "/", RawConsumer.as_asgi())]),
    }
)
