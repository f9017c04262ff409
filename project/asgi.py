"""ASGI entry point of the demo project."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_asgi_application()

from project.celery import start_embedded  # noqa: E402  (needs the apps loaded)
from project.lifecycle import announce_started  # noqa: E402

announce_started("web")
start_embedded()
