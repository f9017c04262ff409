"""Settings of ``bench/store.py``: the demo's, without DEBUG, plus django-eventstream.

django-eventstream is the peer the store is compared with: its events are persisted in
this database (``DjangoModelStorage``) and published to Redis, as opsmessaging's are.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS

# DEBUG keeps every query in memory: no production process runs that way.
DEBUG = False
INSTALLED_APPS = [*INSTALLED_APPS, "django_eventstream"]
EVENTSTREAM_STORAGE_CLASS = "django_eventstream.storage.DjangoModelStorage"
_redis = urlparse(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9")
EVENTSTREAM_REDIS = {
    "host": _redis.hostname or "127.0.0.1",
    "port": _redis.port or 6379,
    "db": int(_redis.path.strip("/") or 0),
}
