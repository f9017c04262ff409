from __future__ import annotations

from django.apps import AppConfig


class OpsMessagingConfig(AppConfig):
    name = "opsmessaging"
    verbose_name = "Operational messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from opsmessaging import checks  # noqa: F401  (registers the system checks)
        from opsmessaging.capture import connect

        connect()
