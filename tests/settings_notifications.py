"""The demo settings plus the notification routes given as JSON in
``TEST_NOTIFICATIONS``, for the live notification test's Celery worker."""

from __future__ import annotations

import json
import os

from project.settings import *  # noqa: F403
from project.settings import OPSMESSAGING

OPSMESSAGING["NOTIFICATIONS"] = json.loads(os.environ.get("TEST_NOTIFICATIONS", "[]"))
OPSMESSAGING["NOTIFICATION_RETRY_DELAY"] = 200
