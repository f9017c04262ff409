"""Audit capture of data: opt-in model registration (``DataChange``) and data deletions
(``ComplianceEvent``). The public entry point is ``opsmessaging.audit_trail``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from opsmessaging.capture.guard import guarded
from opsmessaging.capture.request import (
    SYSTEM_USER,
    client_ip,
    current_request,
    request_user_id,
)
from opsmessaging.catalogue import audit
from opsmessaging.conf import conf

# Where pre_save leaves the stored values for post_save to compare against.
_BEFORE_ATTRIBUTE = "_opsmessaging_audit_before"


@dataclass(frozen=True)
class AuditedModel:
    """A registered model and the fields (attribute names) whose values are recorded."""

    model: type[models.Model]
    fields: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    def values(self, instance: models.Model) -> dict[str, Any]:
        return {name: _json_value(getattr(instance, name)) for name in self.fields}


_registry: dict[type[models.Model], AuditedModel] = {}


def register(model: type[models.Model], fields: Iterable[str]) -> None:
    """Record creates, updates and deletes of ``model`` as ``DataChange`` messages.

    Only the listed fields are recorded, with their values before and after; an update
    that changes none of them records nothing. A foreign key is recorded by its id
    (``author`` and ``author_id`` both work). Call it from your ``AppConfig.ready()``.
    Raises ``ImproperlyConfigured`` for an unknown or non-column field, no fields, or a
    model registered twice. Never list passwords, tokens or other secrets.

    ``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()`` send no model signals and
    are not recorded; fixture loading (``raw`` saves) is not recorded either.
    """
    if model in _registry:
        raise ImproperlyConfigured(
            f"{model._meta.label} is already registered with opsmessaging.audit_trail"
        )
    if isinstance(fields, str):
        raise ImproperlyConfigured("fields must be a list of field names, not a string")
    names = list(dict.fromkeys(fields))
    if not names:
        raise ImproperlyConfigured(
            f"register({model._meta.label}) needs at least one field"
        )
    attnames = []
    for name in names:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            raise ImproperlyConfigured(
                f"{model._meta.label} has no field {name!r}"
            ) from None
        if not getattr(field, "concrete", False) or field.many_to_many:
            raise ImproperlyConfigured(
                f"{model._meta.label}.{name} is not a column; only concrete, non-many-to-many "
                "fields can be audited"
            )
        attnames.append(field.attname)  # type: ignore[union-attr]
    _registry[model] = AuditedModel(model, tuple(attnames))
    uid = f"opsmessaging.capture.data_changes.{model._meta.label_lower}"
    pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}.pre_save")
    post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}.post_save")
    post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}.post_delete")


def unregister(model: type[models.Model]) -> None:
    """Stop recording ``model``; does nothing if it was not registered."""
    if _registry.pop(model, None) is None:
        return
    uid = f"opsmessaging.capture.data_changes.{model._meta.label_lower}"
    pre_save.disconnect(sender=model, dispatch_uid=f"{uid}.pre_save")
    post_save.disconnect(sender=model, dispatch_uid=f"{uid}.post_save")
    post_delete.disconnect(sender=model, dispatch_uid=f"{uid}.post_delete")


def registered_fields(model: type[models.Model]) -> tuple[str, ...] | None:
    """Return the audited fields of ``model``, or None if it is not registered."""
    audited = _registry.get(model)
    return None if audited is None else audited.fields


def _json_value(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


@guarded
def _before_save(
    sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any
) -> None:
    audited = _registry.get(sender)
    if (
        audited is None
        or raw
        or instance._state.adding
        or not conf.CAPTURE_DATA_CHANGES
    ):
        return
    stored = (
        sender._base_manager.using(kwargs.get("using"))
        .filter(pk=instance.pk)
        .values(*audited.fields)
        .first()
    )
    if stored is not None:
        setattr(instance, _BEFORE_ATTRIBUTE, _json_value(stored))


@guarded
def _after_save(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    audited = _registry.get(sender)
    before = instance.__dict__.pop(_BEFORE_ATTRIBUTE, None)
    if audited is None or raw or not conf.CAPTURE_DATA_CHANGES:
        return
    after = audited.values(instance)
    if created or before is None:
        changes = {
            name: {"before": None, "after": value} for name, value in after.items()
        }
        action = "create"
    else:
        changes = {
            name: {"before": before.get(name), "after": value}
            for name, value in after.items()
            if before.get(name) != value
        }
        action = "update"
    if changes:
        _record(audited, instance, action, changes)


@guarded
def _after_delete(
    sender: type[models.Model], instance: models.Model, **kwargs: Any
) -> None:
    audited = _registry.get(sender)
    if audited is None or not conf.CAPTURE_DATA_CHANGES:
        return
    changes = {
        name: {"before": value, "after": None}
        for name, value in audited.values(instance).items()
    }
    _record(audited, instance, "delete", changes)


def _record(
    audited: AuditedModel,
    instance: models.Model,
    action: str,
    changes: dict[str, dict[str, Any]],
) -> None:
    # audit_trail.register runs from models.py, before the app registry is ready.
    from opsmessaging import pubsub

    request = current_request.get()
    pubsub.broadcast(
        audit.data_change(
            request_user_id(request) or SYSTEM_USER,
            audited.label,
            str(instance.pk),
            action,
            changes=changes,
            source_ip=client_ip(request),
        )
    )


def record_data_deletion(
    compliance_rule: str,
    affected_data: Any,
    action_taken: str = "deleted",
    *,
    user_id: str | None = None,
    automated: bool = True,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """Broadcast a ``ComplianceEvent`` ``data_deletion`` (e.g. for a retention prune).

    ``affected_data`` says what went, e.g. ``{"category": "metrics", "messages": 1200,
    "before": "2026-01-01T00:00:00.000Z"}``. Returns the ``BroadcastResult``; invalid
    arguments raise ``InvalidMessage`` naming the field.
    """
    # audit_trail.register runs from models.py, before the app registry is ready.
    from opsmessaging import pubsub

    return pubsub.broadcast(
        audit.compliance_event(
            "data_deletion",
            compliance_rule,
            affected_data,
            action_taken,
            user_id=user_id,
            automated=automated,
            metadata=dict(metadata or {}),
        )
    )
