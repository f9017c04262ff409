"""WSGI entry point of the demo project.

WSGI has no lifespan protocol: the start is announced when this module is loaded and the
stop when the process exits.
"""

from __future__ import annotations

import atexit
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_wsgi_application()

from opsmessaging.capture import lifecycle  # noqa: E402  (needs the apps loaded)

lifecycle.startup("web")
atexit.register(lifecycle.shutdown)
