"""Automatic capture: security, audit, logging, lifecycle and failures without user code.

``OpsMessagingConfig.ready()`` (``opsmessaging.apps``) connects every receiver of these
modules, each with a ``dispatch_uid``; each source checks its ``OPSMESSAGING`` switch when it fires, so
``override_settings`` works. Three pieces are configured by the project, not connected:
the ``OpsMessagingMiddleware`` (request context and ``PermissionDenied``), the logging
handler in ``LOGGING`` and the ``LifespanMiddleware`` around the ASGI application; DRF
projects also set ``opsmessaging.capture.drf.exception_handler``.
"""

from __future__ import annotations
