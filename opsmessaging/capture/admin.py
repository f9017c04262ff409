"""Audit capture of the Django admin: every ``LogEntry`` becomes an ``AdminAction``.

Users created or deleted are ``user_created``/``user_deleted``; changes to a user's groups,
permissions, staff or superuser status, and any change to a group or permission, are
``permissions_changed``; everything else is ``object_created``/``object_updated``/
``object_deleted``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models.signals import post_save
from django.utils import translation

from opsmessaging import pubsub
from opsmessaging.capture.guard import guarded
from opsmessaging.capture.request import client_ip, current_request
from opsmessaging.catalogue import audit
from opsmessaging.conf import conf

#: Fields of the user model whose change is a change of permissions.
PERMISSION_FIELDS = frozenset(
    {"groups", "user_permissions", "is_superuser", "is_staff"}
)
_ACTIONS = {1: "add", 2: "change", 3: "delete"}
_OBJECT_ACTION_TYPES = {
    "add": "object_created",
    "change": "object_updated",
    "delete": "object_deleted",
}


def connect() -> None:
    """Connect the admin ``LogEntry`` saves (only when the admin is installed)."""
    post_save.connect(
        on_log_entry_saved,
        sender="admin.LogEntry",
        dispatch_uid="opsmessaging.capture.admin.log_entry",
    )


def changed_field_names(
    model: type[models.Model] | None, change_message: str
) -> list[str]:
    """Return the names of the fields a ``LogEntry`` change message says were changed.

    The admin stores field *labels* (untranslated verbose names); they are mapped back to
    field names, and a label with no matching field is kept as it is.
    """
    try:
        parts = json.loads(change_message) if change_message else []
    except ValueError:
        return []  # an old free-text message names no fields
    labels: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        changed = part.get("changed") if isinstance(part, dict) else None
        if isinstance(changed, dict) and "name" not in changed:  # not an inline's
            labels.extend(str(label) for label in changed.get("fields", []))
    if model is None:
        return labels
    with translation.override(None):
        by_label = {
            str(getattr(field, "verbose_name", field.name)).lower(): field.name
            for field in model._meta.get_fields()
        }
    return [by_label.get(label.lower(), label) for label in labels]


def admin_action_type(
    model: type[models.Model] | None, action: str, changed_fields: list[str]
) -> str:
    """Return the ``AdminAction.action_type`` of an admin action on ``model``."""
    # Only imported where django.contrib.auth is installed (this module does not need it).
    from django.contrib.auth.models import Group, Permission

    if model is not None and model is get_user_model():
        if action == "add":
            return "user_created"
        if action == "delete":
            return "user_deleted"
        if PERMISSION_FIELDS.intersection(changed_fields):
            return "permissions_changed"
    elif model is Group or model is Permission:
        return "permissions_changed"
    return _OBJECT_ACTION_TYPES[action]


@guarded
def on_log_entry_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if not created or raw or not conf.CAPTURE_ADMIN:
        return
    action = _ACTIONS.get(instance.action_flag)
    if action is None:
        return
    content_type = instance.content_type
    model = content_type.model_class() if content_type is not None else None
    object_type = (
        f"{content_type.app_label}.{content_type.model}" if content_type else "unknown"
    )
    object_id = str(instance.object_id)  # an int until the row is read back
    changed = changed_field_names(model, instance.change_message)
    with translation.override(None):
        summary = str(instance.get_change_message())
    pubsub.broadcast(
        audit.admin_action(
            str(instance.user_id),
            admin_action_type(model, action, changed),
            f"{object_type}:{object_id}",
            details={
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "object_repr": instance.object_repr,
                "changed_fields": changed,
                "change_message": summary,
                "log_entry_id": instance.pk,
            },
            source_ip=client_ip(current_request.get()),
        )
    )
