"""Automatic capture: security, audit, logging, lifecycle and failures without user code.

``connect()`` (called by ``OpsMessagingConfig.ready()``) connects every receiver, each
with a ``dispatch_uid``; each source checks its ``OPSMESSAGING`` switch when it fires, so
``override_settings`` works. Three pieces are configured by the project, not connected:
the ``OpsMessagingMiddleware`` (request context and ``PermissionDenied``), the logging
handler in ``LOGGING`` and the ``LifespanMiddleware`` around the ASGI application; DRF
projects also set ``opsmessaging.capture.drf.exception_handler``.
"""

from __future__ import annotations

from importlib.util import find_spec


def connect() -> None:
    """Connect the receivers of every installed source."""
    from django.apps import apps

    from opsmessaging.capture import failures

    failures.connect()
    if apps.is_installed("django.contrib.auth"):
        from opsmessaging.capture import auth

        auth.connect()
    if apps.is_installed("django.contrib.admin"):
        from opsmessaging.capture import admin

        admin.connect()
    if find_spec("celery") is not None:
        from opsmessaging.capture import celery

        celery.connect()
