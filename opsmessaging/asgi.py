"""The project's ASGI application with the app's wiring: ``get_asgi_application()``.

In ``asgi.py``, in place of Django's own::

    from opsmessaging.asgi import get_asgi_application

    application = get_asgi_application()
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from django.core.asgi import get_asgi_application as get_django_asgi_application

from opsmessaging.nodenames import set_process_role


def get_asgi_application(role: str = "web") -> Any:
    """Set Django up and return its ASGI application, wrapped for opsmessaging.

    HTTP goes to Django (static files too while ``DEBUG``, as runserver does);
    ``/ws/opsmessaging/`` to the subscription endpoint when Channels is installed; the
    lifespan protocol announces the start and stop of the process, starts its heartbeat
    and, on shutdown (SIGTERM too), marks its node ``stopped``.
    """
    set_process_role(role)  # before anything is sent: the role names the node
    django_application = get_django_asgi_application()
    # Imported once Django is set up: these load models and read settings.
    from django.apps import apps
    from django.conf import settings
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from opsmessaging.capture.lifecycle import LifespanMiddleware

    http: Any = django_application
    if settings.DEBUG and apps.is_installed("django.contrib.staticfiles"):
        http = ASGIStaticFilesHandler(django_application)
    application: Any = http
    if find_spec("channels") is not None:
        # Channels is optional: without it, HTTP and the lifespan only.
        from channels.routing import ProtocolTypeRouter

        from opsmessaging.routing import websocket_application

        application = ProtocolTypeRouter(
            {"http": http, "websocket": websocket_application()}
        )
    return LifespanMiddleware(application, role=role)
