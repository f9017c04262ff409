"""Builders: a broadcast's arguments to a validated envelope, one per broadcast kind.

Each builder takes the arguments of its ``pubsub.broadcast_*`` function and returns the
``Envelope`` to publish, raising ``InvalidMessage`` (naming the field) for bad input; it
stores nothing. ``BATCH_KINDS`` maps the event kinds of ``broadcast_batch`` to them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opsmessaging import categories
from opsmessaging.catalogue import (
    Payload,
    alerts,
    audit,
    diagnostics,
    get_type,
    health,
    lifecycle,
    logs,
    security,
    system,
)
from opsmessaging.catalogue import metrics as metric_types
from opsmessaging.envelope import Envelope
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.nodenames import get_node, is_node_name

_ENVELOPE_OPTIONS = (
    "topic",
    "node",
    "source_node",
    "originating_node",
    "sender",
    "received_by",
)


def envelope_for(payload: Payload, **options: Any) -> Envelope:
    """Wrap a payload in a validated envelope; options are ``topic``, the node fields
    and the sender fields (``sender``, ``received_by``)."""
    unknown = sorted(set(options) - {*_ENVELOPE_OPTIONS, "category"})
    if unknown:
        raise InvalidMessage(dict.fromkeys(unknown, "unknown option"))
    return Envelope.from_payload(payload, **options)


def _split(opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split keyword options into envelope options and payload fields.

    ``node`` goes to both: it is the payload's node and the envelope's. An option given as
    None means "the default", as in the original's ``opts[:node] || Node.self()``.
    """
    popped = {name: opts.pop(name, None) for name in _ENVELOPE_OPTIONS}
    envelope = {name: value for name, value in popped.items() if value is not None}
    if "node" in envelope:
        opts["node"] = envelope["node"]
    return envelope, opts


def system_lifecycle(
    event: str, system_name: str, version: str, **opts: Any
) -> Envelope:
    env, fields = _split(opts)
    env.setdefault("topic", categories.LIFECYCLE_TOPIC)
    return envelope_for(
        _construct(system.system_lifecycle, event, system_name, version, fields=fields),
        **env,
    )


def system_config(
    component: str,
    changes: dict[str, Any],
    previous_config: dict[str, Any] | None = None,
    changed_by: str = "system",
    **opts: Any,
) -> Envelope:
    env, fields = _split(opts)
    env.setdefault("topic", categories.CONFIG_TOPIC)
    payload = _construct(
        system.system_config,
        component,
        changes,
        previous_config=previous_config,
        changed_by=changed_by,
        fields=fields,
    )
    return envelope_for(payload, **env)


def store_health(
    store_id: str,
    component: str,
    status: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> Envelope:
    categories.validate_store_id(store_id)
    env, fields = _split(opts)
    env.setdefault("topic", categories.store_health_topic(store_id))
    payload = _construct(
        health.component_health,
        component,
        get_node(env),
        status,
        details=_object(details, "details"),
        store_id=store_id,
        fields=_without(fields, "node"),
    )
    return envelope_for(payload, **env)


def cluster_health(
    nodes: Sequence[str], failed_nodes: Sequence[str], event_type: str, **opts: Any
) -> Envelope:
    env, fields = _split(opts)
    env.setdefault("topic", categories.CLUSTER_HEALTH_TOPIC)
    fields.pop(
        "node", None
    )  # ClusterHealth is about the cluster; the envelope keeps it
    known = _node_list(nodes, "nodes")
    failed = _node_list(failed_nodes, "failed_nodes")
    degraded = _node_list(fields.pop("degraded_nodes", ()), "degraded_nodes")
    every = list(dict.fromkeys([*known, *failed]))
    healthy = [n for n in every if n not in failed and n not in degraded]
    quorum = quorum_status(len(every), len(failed))
    if failed and quorum == "lost":
        status = "unhealthy"
    elif failed or degraded:
        status = "degraded"
    else:
        status = "healthy"
    payload = _construct(
        health.cluster_health,
        status,
        healthy,
        len(every),
        degraded_nodes=degraded,
        unhealthy_nodes=failed,
        quorum_status=quorum,
        event_type=event_type,
        fields=fields,
    )
    return envelope_for(payload, **env)


def quorum_status(total: int, failed: int) -> str:
    """Return ``available`` while a strict majority of ``total`` nodes is up, else ``lost``."""
    return "available" if total == 0 or (total - failed) * 2 > total else "lost"


def health_update(
    component: str, status: str, details: Mapping[str, Any] | None = None, **opts: Any
) -> Envelope:
    env, fields = _split(opts)
    env.setdefault("topic", categories.COMPONENT_HEALTH_TOPIC)
    details = _object(details, "details")
    store_id = details.get("store_id")
    if store_id is not None:
        categories.validate_store_id(store_id, "details.store_id")
        fields.setdefault("store_id", store_id)
    payload = _construct(
        health.component_health,
        component,
        get_node(env),
        status,
        details=details,
        fields=_without(fields, "node"),
    )
    return envelope_for(payload, **env)


def metrics(component: str, metrics_data: Mapping[str, Any], **opts: Any) -> Envelope:
    env, fields = _split(opts)
    data = _object(metrics_data, "metrics")
    if isinstance(component, str):
        env.setdefault("topic", component)
    if component in ("persistence", "store"):
        value = data.get("operations_count", data.get("value"))
        if value is None and ("success_count" in data or "error_count" in data):
            value = data.get("success_count", 0) + data.get("error_count", 0)
        payload = _construct(
            metric_types.performance_metric,
            "persistence_operation",
            0 if value is None else value,
            data.get("unit", "operations"),
            component=component,
            tags=data,
            fields=fields,
        )
    elif component in ("emitter", "subscription"):
        operation = "event_emission" if component == "emitter" else "event_processing"
        count_key = "events_emitted" if component == "emitter" else "events_processed"
        payload = _construct(
            metric_types.throughput_metric,
            operation,
            data.get(count_key, data.get("count", 0)),
            data.get("duration_ms", 1000),
            fields=fields,
        )
    else:
        payload = _construct(
            metric_types.performance_metric,
            component,
            data.get("value", 0),
            data.get("unit", "count"),
            component=component,
            tags=data,
            fields=fields,
        )
    return envelope_for(payload, **env)


def alert(
    alert_type: str,
    severity: str,
    message: str,
    context: Mapping[str, Any] | None = None,
    **opts: Any,
) -> Envelope:
    env, fields = _split(opts)
    if isinstance(alert_type, str):
        env.setdefault("topic", alert_type)
    known = alert_type if isinstance(alert_type, str) else None
    category = fields.pop(
        "alert_category", alerts.ALERT_TYPE_CATEGORIES.get(known, "system")
    )
    payload = _construct(
        alerts.system_alert,
        severity,
        category,
        message,
        fields.pop("description", None),
        fields.pop("source", "opsmessaging"),
        metadata=_object(context, "context"),
        alert_type=alert_type,
        fields=fields,
    )
    return envelope_for(payload, **env)


def audit_event(
    event_type: str,
    actor: str,
    resource: str,
    action: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> Envelope:
    env, fields = _split(opts)
    if isinstance(event_type, str):
        env.setdefault("topic", event_type)
    payload = _construct(
        audit.data_change,
        actor,
        fields.pop("resource_type", None),
        resource,
        action,
        metadata=_object(details, "details"),
        event_type=event_type,
        fields=fields,
    )
    return envelope_for(payload, **env)


def lifecycle_event(
    event_type: str,
    process_name: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> Envelope:
    env, fields = _split(opts)
    env.setdefault("topic", categories.PROCESS_LIFECYCLE_TOPIC)
    data = _object(details, "details")
    module = data.get("module") or data.get("component") or "unknown"
    payload = _construct(
        lifecycle.process_lifecycle,
        str(data.get("pid", process_name)),
        module,
        event_type,
        name=process_name,
        reason=data.get("reason"),
        restart_count=data.get("restart_count", 0),
        details=data,
        fields=fields,
    )
    return envelope_for(payload, **env)


def diagnostic(
    diagnostic_type: str, component: str, data: Mapping[str, Any], **opts: Any
) -> Envelope:
    env, fields = _split(opts)
    env.setdefault("topic", categories.DIAGNOSTICS_TOPIC)
    payload = _construct(
        diagnostics.debug_trace,
        component,
        diagnostic_type,
        _object(data, "data"),
        fields=fields,
    )
    return envelope_for(payload, **env)


SECURITY_EVENT_TYPES = {
    "auth_event": security.AuthEvent,
    "access_violation": security.AccessViolation,
    "security_alert": security.SecurityAlert,
    "session_event": security.SessionEvent,
}


def security_event(kind: str, **opts: Any) -> Envelope:
    payload_type = SECURITY_EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if payload_type is None:
        raise InvalidMessage(
            f"unknown security event kind {kind!r}; use one of: {', '.join(SECURITY_EVENT_TYPES)}",
            "kind",
        )
    env, fields = _split(opts)
    if not payload_type.has_node:
        fields.pop("node", None)
    return envelope_for(payload_type.new(**fields), **env)


def log_entry(
    level: str | int, message: str, module: str = "root", **opts: Any
) -> Envelope:
    env, fields = _split(opts)
    payload = _construct(
        logs.log_entry, logs.log_level(level), message, module, fields=fields
    )
    return envelope_for(payload, **env)


def payload(payload: Payload, **opts: Any) -> Envelope:
    return envelope_for(payload, **opts)


def typed(
    payload_type: str,
    payload: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    **opts: Any,
) -> Envelope:
    """Build a payload from its type's name and its fields as JSON gives them, and wrap it.

    ``options`` (for one event of a batch) override ``opts``. Field errors are named
    ``payload.<field>``.
    """
    kind = get_type(payload_type, "type")
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise InvalidMessage(
            f"must be an object of {kind.name}'s fields, got {type(payload).__name__}",
            "payload",
        )
    envelope = {**opts, **(options or {})}
    fields = dict(payload)
    # As in every broadcast_* function, the envelope's node is also the payload's.
    if (
        envelope.get("node") is not None
        and kind.has_node
        and fields.get("node") is None
    ):
        fields["node"] = envelope["node"]
    try:
        built = kind.new(**fields)
    except InvalidMessage as exc:
        raise exc.prefixed("payload") from None
    return envelope_for(built, **envelope)


@functools.cache
def _parameters(constructor: Callable[..., Payload]) -> tuple[str, ...]:
    return tuple(inspect.signature(constructor).parameters)


def _construct(
    constructor: Callable[..., Payload],
    *args: Any,
    fields: dict[str, Any],
    **explicit: Any,
) -> Payload:
    """Call a catalogue constructor; an option naming a field that the broadcast's own
    arguments fill is refused, not silently preferred (nor a ``TypeError``)."""
    taken = {*_parameters(constructor)[: len(args)], *explicit}
    clash = sorted(name for name in fields if name in taken)
    if clash:
        raise InvalidMessage(
            dict.fromkeys(clash, "is set from the broadcast's arguments, not an option")
        )
    return constructor(*args, **explicit, **fields)


def _object(value: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidMessage(f"must be a mapping, got {type(value).__name__}", name)
    return dict(value)


def _without(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in names}


def _node_list(value: Iterable[str], name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidMessage("must be a list of node names", name)
    nodes = list(value)
    bad = [n for n in nodes if not is_node_name(n)]
    if bad:
        raise InvalidMessage(f"not node names: {bad!r}", name)
    return nodes


#: Event tuple kinds accepted by ``broadcast_batch``: ``(kind, *arguments)``.
BATCH_KINDS: dict[str, Callable[..., Envelope]] = {
    "system_lifecycle": system_lifecycle,
    "system_config": system_config,
    "store_health": store_health,
    "cluster_health": cluster_health,
    "health_update": health_update,
    "metrics": metrics,
    "alert": alert,
    "audit_event": audit_event,
    "lifecycle_event": lifecycle_event,
    "diagnostic": diagnostic,
    "security_event": security_event,
    "log_entry": log_entry,
    "payload": payload,
    "typed": typed,
}


def batch_envelope(event: object, opts: dict[str, Any]) -> Envelope:
    if isinstance(event, Payload):
        return envelope_for(event, **opts)
    if not isinstance(event, tuple | list) or not event:
        raise InvalidMessage(
            "must be a catalogue Payload or a (kind, *arguments) tuple", "kind"
        )
    kind, *args = event
    build = BATCH_KINDS.get(kind) if isinstance(kind, str) else None
    if build is None:
        raise InvalidMessage(
            f"unknown event kind {kind!r}; use one of: {', '.join(BATCH_KINDS)}", "kind"
        )
    try:
        return build(*args, **opts)
    except TypeError as exc:  # wrong number of arguments for the kind
        raise InvalidMessage(
            f"bad arguments for {kind!r}: {exc}", "arguments"
        ) from None


def batch_envelopes(events: Iterable[object], **opts: Any) -> list[Envelope]:
    """Build the envelope of every event of a batch; all-or-nothing.

    One bad event raises ``InvalidMessage`` naming it (``events[3].severity``).
    """
    envelopes = []
    problems: dict[str, list[str]] = {}
    for index, event in enumerate(events):
        try:
            envelopes.append(batch_envelope(event, dict(opts)))
        except InvalidMessage as exc:
            problems.update(exc.prefixed(f"events[{index}]").errors)
    if problems:
        raise InvalidMessage(problems)
    return envelopes
