"""The public broadcast API (the original's ``PubSubIntegration``).

Every function builds a catalogue payload, wraps it in a validated envelope and hands it to
``publish``, the one path that stores (and later fans out) every message. Invalid input
raises ``InvalidMessage`` and stores nothing; a store failure is returned, not raised. While
the database is unreachable, messages wait in this node's spool (``opsmessaging.spool``)
and are stored, in order, once it is back.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)

from opsmessaging import categories, codec, fanout, integrity, schema, spool
from opsmessaging.catalogue import (
    Payload,
    alerts,
    audit,
    diagnostics,
    get_type,
    health,
    lifecycle,
    logs,
    metrics,
    security,
    system,
)
from opsmessaging.catalogue.base import registry
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.envelope import Envelope
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.helpers import (
    cluster_context,
    current_timestamp,
    format_timestamp,
    get_node,
    is_node_name,
    this_node,
)
from opsmessaging.models import Message

logger = logging.getLogger(__name__)

Status = Literal["ok", "disabled", "error", "spooled"]
_ENVELOPE_OPTIONS = ("topic", "node", "source_node", "originating_node")


@dataclass(frozen=True)
class BroadcastResult:
    """The outcome of one broadcast: ``status``, the stored ``message`` and any ``error``.

    ``spooled`` means the database was unreachable and the message waits in this node's
    spool: ``message`` is None, ``envelope`` is what was spooled (its ``message_id`` is the
    one it will be stored with) and ``error`` says why.
    """

    status: Status
    message: Message | None = None
    error: str | None = None
    envelope: Envelope | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class BatchResult:
    """The outcome of ``broadcast_batch``: counts and one result per event, in order."""

    success: int
    errors: int
    disabled: bool = False
    results: list[BroadcastResult] = field(default_factory=list)
    spooled: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the original's summary map (``success``, ``errors``, ``disabled``), with
        ``spooled`` when messages were spooled."""
        summary: dict[str, Any] = {"success": self.success, "errors": self.errors}
        if self.disabled:
            summary["disabled"] = True
        if self.spooled:
            summary["spooled"] = self.spooled
        return summary


# --- switches and intervals -------------------------------------------------------------

_override: bool | None = None


def enabled() -> bool:
    """Tell whether broadcasting is on: ``enable()``/``disable()``, else the setting."""
    return conf.PUBSUB_INTEGRATION if _override is None else _override


def enable() -> None:
    """Turn broadcasting on in this process, whatever the setting says."""
    global _override
    _override = True


def disable() -> None:
    """Turn broadcasting off in this process: nothing is stored, results say ``disabled``."""
    global _override
    _override = False


def reset() -> None:
    """Forget ``enable()``/``disable()`` and follow ``PUBSUB_INTEGRATION`` again."""
    global _override
    _override = None


def health_broadcast_interval() -> int:
    """Milliseconds between scheduled health broadcasts (read live from settings)."""
    return conf.HEALTH_BROADCAST_INTERVAL


def metrics_broadcast_interval() -> int:
    """Milliseconds between scheduled metrics broadcasts (read live from settings)."""
    return conf.METRICS_BROADCAST_INTERVAL


# --- the one publishing path -------------------------------------------------------------


def envelope_for(payload: Payload, **options: Any) -> Envelope:
    """Wrap a payload in a validated envelope; options are ``topic`` and the node fields."""
    unknown = sorted(set(options) - {*_ENVELOPE_OPTIONS, "category"})
    if unknown:
        raise InvalidMessage(dict.fromkeys(unknown, "unknown option"))
    return Envelope.from_payload(payload, **options)


def publish(envelope: Envelope) -> BroadcastResult:
    """Store one validated envelope and report the outcome; never raises for store errors."""
    if not enabled():
        return BroadcastResult("disabled")
    [result] = _publish([envelope], many=False)
    return result


def _publish(envelopes: list[Envelope], many: bool) -> list[BroadcastResult]:
    """Store and fan out ``envelopes`` (``many``: one transaction), or spool them.

    A pending spool is drained first, so this node's messages are stored in the order they
    were broadcast; while it cannot be drained, new messages queue behind it.
    """
    local = _local_spool()
    if local is not None and local.pending():
        report = local.drain(_store_and_deliver, wait=False)
        if not report.complete:
            waiting = report.error or "earlier spooled messages are being drained"
            return _spool(local, envelopes, waiting)
    try:
        stored = _store(envelopes, many)
    except DatabaseError as exc:
        if local is not None and isinstance(exc, OperationalError | InterfaceError):
            return _spool(local, envelopes, _reason(exc))
        return [_failed(envelope, exc) for envelope in envelopes]
    reason = _deliver_after_commit(stored)
    if reason is not None:
        return [BroadcastResult("error", message, reason) for message in stored]
    return [BroadcastResult("ok", message) for message in stored]


def _store(envelopes: list[Envelope], many: bool) -> list[Message]:
    """Store ``envelopes``; drop the connection when the database cannot be reached.

    Django reopens a dropped connection on its next query, so a long-running process
    (a worker, the logging thread) reconnects once the database is back.
    """
    try:
        if not many:
            return [Message.objects.append(envelopes[0])]
        return Message.objects.append_many(envelopes)
    except (OperationalError, InterfaceError):
        connection = connections[router.db_for_write(Message)]
        if not connection.in_atomic_block:
            connection.close()
        raise


def _store_and_deliver(envelopes: list[Envelope]) -> None:
    """Store spooled messages and fan them out: the same path as any broadcast."""
    _deliver_after_commit(_store(envelopes, many=len(envelopes) > 1))


def _local_spool() -> spool.Spool | None:
    """This node's spool, or None: no ``SPOOL_DIR``, or inside a transaction (whose
    messages must commit or roll back with it, so they are never spooled)."""
    directory = conf.SPOOL_DIR
    if directory is None:
        return None
    if connections[router.db_for_write(Message)].in_atomic_block:
        return None
    return spool.Spool(directory, this_node())


def _spool(
    local: spool.Spool, envelopes: list[Envelope], reason: str
) -> list[BroadcastResult]:
    first = envelopes[0]
    try:
        local.append(envelopes)
    except (spool.SpoolFull, OSError) as exc:
        kind = "spool full" if isinstance(exc, spool.SpoolFull) else "spool failed"
        error = f"{kind}: {exc}; the database is unreachable: {reason}"
        logger.error(
            "Failed to broadcast %d message(s) (first %s to %s/%s): %s",
            len(envelopes),
            first.payload_type,
            first.category.value,
            first.topic,
            error,
        )
        return [BroadcastResult("error", None, error) for _ in envelopes]
    logger.warning(
        "Spooled %d message(s) (first %s to %s/%s) in %s: %s",
        len(envelopes),
        first.payload_type,
        first.category.value,
        first.topic,
        local.path,
        reason,
    )
    return [BroadcastResult("spooled", None, reason, e) for e in envelopes]


def drain_spool(wait: bool = True) -> spool.DrainReport | None:
    """Store this node's spooled messages, oldest first, and fan them out.

    Returns None when no spool is configured (``SPOOL_DIR``) or inside a transaction. Runs
    by itself on the next broadcast; ``manage.py opsmessaging_drain_spool`` or a periodic
    task can call it too. With ``wait=False`` a drain already running is left alone.
    """
    local = _local_spool()
    if local is None:
        return None
    return local.drain(_store_and_deliver, wait=wait)


def _deliver_after_commit(messages: list[Message]) -> str | None:
    """Fan stored messages out now, or when the caller's transaction commits.

    Returns the delivery failure when it happened now; a deferred failure is only logged
    and counted, since the caller has its result already.
    """
    alias = router.db_for_write(Message)
    if connections[alias].in_atomic_block:
        transaction.on_commit(lambda: fanout.deliver(messages), using=alias)
        return None
    return fanout.deliver(messages)


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _failed(envelope: Envelope, exc: Exception) -> BroadcastResult:
    reason = _reason(exc)
    logger.warning(
        "Failed to broadcast %s to %s/%s: %s",
        envelope.payload_type,
        envelope.category.value,
        envelope.topic,
        reason,
    )
    return BroadcastResult("error", None, reason)


def broadcast(payload: Payload, **options: Any) -> BroadcastResult:
    """Broadcast any catalogue payload; ``topic=`` defaults to its type's default topic."""
    return publish(envelope_for(payload, **options))


def _typed(
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


def broadcast_typed(
    payload_type: str, payload: Mapping[str, Any] | None = None, **options: Any
) -> BroadcastResult:
    """Broadcast a payload given as its type's name and a mapping of its fields.

    This is the path of the HTTP API and the ``opsmessaging_broadcast`` command: field
    values are plain JSON data (timestamps as RFC 3339 strings). ``options`` are ``topic``,
    ``category`` (refused when it is not the type's) and the node fields; ``node`` also
    fills the payload's own node field when it has one and the payload leaves it out.
    """
    return publish(_typed(payload_type, payload, **options))


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


# --- builders: arguments -> envelope (shared by the broadcast_* functions and batches) ----


def _system_lifecycle(
    event: str, system_name: str, version: str, **opts: Any
) -> Envelope:
    env, fields = _split(opts)
    env.setdefault("topic", categories.LIFECYCLE_TOPIC)
    return envelope_for(
        _construct(system.system_lifecycle, event, system_name, version, fields=fields),
        **env,
    )


def _system_config(
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


def _store_health(
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


def _cluster_health(
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


def _health_update(
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


def _metrics(component: str, metrics_data: Mapping[str, Any], **opts: Any) -> Envelope:
    env, fields = _split(opts)
    data = _object(metrics_data, "metrics")
    if isinstance(component, str):
        env.setdefault("topic", component)
    if component in ("persistence", "store"):
        value = data.get("operations_count", data.get("value"))
        if value is None and ("success_count" in data or "error_count" in data):
            value = data.get("success_count", 0) + data.get("error_count", 0)
        payload = _construct(
            metrics.performance_metric,
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
            metrics.throughput_metric,
            operation,
            data.get(count_key, data.get("count", 0)),
            data.get("duration_ms", 1000),
            fields=fields,
        )
    else:
        payload = _construct(
            metrics.performance_metric,
            component,
            data.get("value", 0),
            data.get("unit", "count"),
            component=component,
            tags=data,
            fields=fields,
        )
    return envelope_for(payload, **env)


def _alert(
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


def _audit_event(
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


def _lifecycle_event(
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


def _diagnostic(
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


def _security_event(kind: str, **opts: Any) -> Envelope:
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


def _log_entry(
    level: str | int, message: str, module: str = "root", **opts: Any
) -> Envelope:
    env, fields = _split(opts)
    payload = _construct(
        logs.log_entry, logs.log_level(level), message, module, fields=fields
    )
    return envelope_for(payload, **env)


def _payload(payload: Payload, **opts: Any) -> Envelope:
    return envelope_for(payload, **opts)


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


# --- the public broadcast functions ------------------------------------------------------


def broadcast_system_lifecycle(
    event: str, system_name: str, version: str, **opts: Any
) -> BroadcastResult:
    """Broadcast a ``SystemLifecycle`` (starting/started/stopping/stopped) to system/"lifecycle"."""
    return publish(_system_lifecycle(event, system_name, version, **opts))


def broadcast_system_config(
    component: str,
    changes: dict[str, Any],
    previous_config: dict[str, Any] | None = None,
    changed_by: str = "system",
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a ``SystemConfig`` change to system/"config"."""
    return publish(
        _system_config(component, changes, previous_config, changed_by, **opts)
    )


def broadcast_store_health(
    store_id: str,
    component: str,
    status: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a store component's ``ComponentHealth`` to health/"<store_id>:health"."""
    return publish(_store_health(store_id, component, status, details, **opts))


def broadcast_cluster_health(
    nodes: Sequence[str], failed_nodes: Sequence[str], event_type: str, **opts: Any
) -> BroadcastResult:
    """Broadcast a ``ClusterHealth`` computed from known and failed nodes to "cluster:health".

    Status is healthy with no failure, degraded with failures but a quorum, unhealthy when
    the quorum (a strict majority of all nodes) is lost.
    """
    return publish(_cluster_health(nodes, failed_nodes, event_type, **opts))


def broadcast_health_update(
    component: str, status: str, details: Mapping[str, Any] | None = None, **opts: Any
) -> BroadcastResult:
    """Broadcast a component's ``ComponentHealth`` to health/"component_health"."""
    return publish(_health_update(component, status, details, **opts))


def broadcast_metrics(
    component: str, metrics: Mapping[str, Any], **opts: Any
) -> BroadcastResult:
    """Broadcast a component's metrics to metrics/"<component>".

    ``persistence``/``store`` give a ``PerformanceMetric`` of operations, ``emitter``/
    ``subscription`` a ``ThroughputMetric``, any other component a ``PerformanceMetric`` of
    ``metrics["value"]``; the whole map is kept in ``tags``.
    """
    return publish(_metrics(component, metrics, **opts))


def broadcast_alert(
    alert_type: str,
    severity: str,
    message: str,
    context: Mapping[str, Any] | None = None,
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a ``SystemAlert`` to alerts/"<alert_type>"; ``context`` is its metadata."""
    return publish(_alert(alert_type, severity, message, context, **opts))


def broadcast_audit_event(
    event_type: str,
    actor: str,
    resource: str,
    action: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a ``DataChange`` by ``actor`` on ``resource`` to audit/"<event_type>"."""
    return publish(_audit_event(event_type, actor, resource, action, details, **opts))


def broadcast_lifecycle_event(
    event_type: str,
    process_name: str,
    details: Mapping[str, Any] | None = None,
    **opts: Any,
) -> BroadcastResult:
    """Broadcast a ``ProcessLifecycle`` to lifecycle/"process_lifecycle"."""
    return publish(_lifecycle_event(event_type, process_name, details, **opts))


def broadcast_diagnostic(
    diagnostic_type: str, component: str, data: Mapping[str, Any], **opts: Any
) -> BroadcastResult:
    """Broadcast a ``DebugTrace`` to diagnostics/"diagnostics"."""
    return publish(_diagnostic(diagnostic_type, component, data, **opts))


def broadcast_security_event(kind: str, **opts: Any) -> BroadcastResult:
    """Broadcast a security payload: ``kind`` is auth_event, access_violation,
    security_alert or session_event; the other keywords are its fields."""
    return publish(_security_event(kind, **opts))


def broadcast_log_entry(
    level: str | int, message: str, module: str = "root", **opts: Any
) -> BroadcastResult:
    """Broadcast a ``LogEntry``; ``level`` may be a catalogue level or a Python logging level."""
    return publish(_log_entry(level, message, module, **opts))


# --- batches ----------------------------------------------------------------------------

#: Event tuple kinds accepted by ``broadcast_batch``: ``(kind, *arguments)``.
BATCH_KINDS: dict[str, Callable[..., Envelope]] = {
    "system_lifecycle": _system_lifecycle,
    "system_config": _system_config,
    "store_health": _store_health,
    "cluster_health": _cluster_health,
    "health_update": _health_update,
    "metrics": _metrics,
    "alert": _alert,
    "audit_event": _audit_event,
    "lifecycle_event": _lifecycle_event,
    "diagnostic": _diagnostic,
    "security_event": _security_event,
    "log_entry": _log_entry,
    "payload": _payload,
    "typed": _typed,
}


def _batch_envelope(event: object, opts: dict[str, Any]) -> Envelope:
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


def broadcast_batch(events: Iterable[object], **opts: Any) -> BatchResult:
    """Validate every event, then store them all in one transaction.

    Each event is a ``Payload`` or a tuple such as ``("alert", type, severity, message,
    context)`` (see ``BATCH_KINDS``); ``opts`` apply to all. Validation is all-or-nothing:
    one bad event raises ``InvalidMessage`` naming it (``events[3].severity``) and nothing is
    stored. A store failure fails the whole batch and is counted in ``errors``; so is a
    failed delivery, whose results keep their stored messages.
    """
    envelopes = []
    problems: dict[str, list[str]] = {}
    for index, event in enumerate(events):
        try:
            envelopes.append(_batch_envelope(event, dict(opts)))
        except InvalidMessage as exc:
            problems.update(exc.prefixed(f"events[{index}]").errors)
    if problems:
        raise InvalidMessage(problems)
    if not enabled():
        return BatchResult(
            0, 0, disabled=True, results=[BroadcastResult("disabled")] * len(envelopes)
        )
    if not envelopes:
        return BatchResult(0, 0)
    results = _publish(
        envelopes, many=True
    )  # one transaction and one fan-out pass for the batch
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "spooled")}
    errors = len(results) - counts["ok"] - counts["spooled"]
    stored = sum(r.message is not None for r in results)
    if errors and stored:
        logger.warning(
            "Batch broadcast: %d stored, delivery failed: %s", stored, results[0].error
        )
    elif errors:
        logger.warning("Batch broadcast: 0 succeeded, %d failed", errors)
    return BatchResult(counts["ok"], errors, results=results, spooled=counts["spooled"])


# --- compatibility report ----------------------------------------------------------------

#: One payload of each category, built by ``validate_messaging_compatibility``.
_SAMPLES: dict[Category, Callable[[], Payload]] = {
    Category.SYSTEM: lambda: system.system_lifecycle(
        "started", "opsmessaging", "1.0.0"
    ),
    Category.HEALTH: lambda: health.component_health(
        "test_component", this_node(), "healthy"
    ),
    Category.METRICS: lambda: metrics.performance_metric(
        "persistence_operation", 100, "operations"
    ),
    Category.SECURITY: lambda: security.auth_event(
        "compat_check", "login_success", "password"
    ),
    Category.AUDIT: lambda: audit.data_change("compat_check", "record", "1", "read"),
    Category.ALERTS: lambda: alerts.system_alert(
        "info", "system", "compat", None, "opsmessaging"
    ),
    Category.DIAGNOSTICS: lambda: diagnostics.debug_trace(
        "compat", "check", {"ok": True}
    ),
    Category.LIFECYCLE: lambda: lifecycle.process_lifecycle(
        "1", "opsmessaging", "started"
    ),
    Category.LOGGING: lambda: logs.log_entry("info", "compat", "opsmessaging"),
}


def samples() -> dict[Category, Callable[[], Payload]]:
    """One payload builder per category, used by the compatibility checks."""
    return dict(_SAMPLES)


def _section(
    tag: str, check: Callable[[], dict[str, Any]]
) -> dict[str, Any] | dict[str, str]:
    try:
        return check()
    except Exception as exc:  # a report must report, not raise
        return {"error": f"{tag}: {type(exc).__name__}: {exc}"}


def _operational_helpers() -> dict[str, Any]:
    return {
        "node_helper": is_node_name(get_node()),
        "timestamp_helper": current_timestamp(),
        "cluster_context": cluster_context(),
    }


def _gater_integration() -> dict[str, Any]:
    tests: dict[str, str] = {}
    for category, build in _SAMPLES.items():
        try:
            envelope = envelope_for(build())
            Envelope.from_wire(envelope.to_wire())  # the wire form round-trips
            tests[f"{category.value}_messages"] = "ok"
        except Exception as exc:  # reported per category
            tests[f"{category.value}_messages"] = f"error: {type(exc).__name__}: {exc}"
    types = registry()
    return {
        "gater_available": len(types) == 36
        and {t.category for t in types.values()} == set(Category),
        "payload_types": len(types),
        "tests": tests,
    }


def _node_consistency() -> dict[str, Any]:
    node = "compat_test_node"
    lifecycle_envelope = _system_lifecycle(
        "started", "opsmessaging", "0.0.1", node=node
    )
    health_envelope = _health_update("test_component", "healthy", {}, node=node)
    every_category = all(
        all(
            is_node_name(getattr(envelope_for(build()), f))
            for f in ("node", "source_node", "originating_node")
        )
        for build in _SAMPLES.values()
    )
    return {
        "system_has_node": lifecycle_envelope.node == node
        and lifecycle_envelope.payload["node"] == node,
        "health_has_node": health_envelope.node == node
        and health_envelope.payload["node"] == node,
        "all_categories_have_node_fields": every_category,
    }


def _timestamp_precision() -> dict[str, Any]:
    first = current_timestamp()
    time.sleep(0.002)
    second = current_timestamp()
    wire = format_timestamp(first)
    return {
        "datetime_format": first,
        "has_precision": second > first,
        "millisecond_truncated": first.microsecond % 1000 == 0
        and second.microsecond % 1000 == 0,
        "utc": first.tzinfo is UTC
        and first.utcoffset() is not None
        and not first.utcoffset(),
        "wire_format": wire,
        "wire_format_valid": len(wire) == 24 and wire.endswith("Z") and wire[19] == ".",
    }


def _signing() -> dict[str, Any]:
    return {**integrity.check_roundtrip(), "stored": Message.objects.verify_latest()}


def _delivery() -> dict[str, Any]:
    return {**fanout.check_round_trip(), **fanout.delivery_stats()}


def validate_messaging_compatibility() -> dict[str, dict[str, Any]]:
    """Check, for real, that helpers, catalogue, node fields, timestamps and delivery work.

    Returns the seed's four sections plus ``delivery`` (a round trip through the channel
    layer and this process's delivery counters), ``signing`` (sign, verify, catch a
    change, and check the newest stored messages) and ``encryption`` (a round trip with
    the configured keys); a section that fails holds ``{"error": reason}``. Nothing is
    stored or broadcast.
    """
    return {
        "operational_helpers": _section(
            "operational_helpers_failure", _operational_helpers
        ),
        "gater_integration": _section("gater_integration_failure", _gater_integration),
        "node_consistency": _section("node_consistency_failure", _node_consistency),
        "timestamp_precision": _section(
            "timestamp_precision_failure", _timestamp_precision
        ),
        "delivery": _section("delivery_failure", _delivery),
        "signing": _section("signing_failure", _signing),
        "encryption": _section("encryption_failure", codec.check_roundtrip),
        "schemas": _section("schemas_failure", schema.check_schemas),
    }


def is_compatible(report: Mapping[str, Mapping[str, Any]]) -> bool:
    """Tell whether a compatibility report says everything works."""
    try:
        helpers_ok = report["operational_helpers"]["node_helper"] is True
        gater = report["gater_integration"]
        gater_ok = gater["gater_available"] is True and all(
            v == "ok" for v in gater["tests"].values()
        )
        nodes_ok = all(v is True for v in report["node_consistency"].values())
        precision = report["timestamp_precision"]
        time_ok = all(
            precision[k] is True
            for k in (
                "has_precision",
                "millisecond_truncated",
                "utc",
                "wire_format_valid",
            )
        )
        delivery = report["delivery"]
        delivery_ok = not delivery["configured"] or delivery["round_trip"] == "ok"
        signing = report["signing"]
        signing_ok = (
            signing["sign_and_verify"] == "secured"
            and signing["tampering_detected"] is True
            and signing["stored"]["invalid"] == 0
        )
        encryption_ok = report["encryption"]["roundtrip"] == "ok"
        schemas_ok = all(v == "ok" for v in report["schemas"]["samples"].values())
    except (KeyError, TypeError):
        return False
    return all(
        (
            helpers_ok,
            gater_ok,
            nodes_ok,
            time_ok,
            delivery_ok,
            signing_ok,
            encryption_ok,
            schemas_ok,
        )
    )


__all__ = [
    "BATCH_KINDS",
    "BatchResult",
    "BroadcastResult",
    "broadcast",
    "broadcast_alert",
    "broadcast_audit_event",
    "broadcast_batch",
    "broadcast_cluster_health",
    "broadcast_diagnostic",
    "broadcast_health_update",
    "broadcast_lifecycle_event",
    "broadcast_log_entry",
    "broadcast_metrics",
    "broadcast_security_event",
    "broadcast_store_health",
    "broadcast_system_config",
    "broadcast_system_lifecycle",
    "broadcast_typed",
    "disable",
    "drain_spool",
    "enable",
    "enabled",
    "get_type",
    "health_broadcast_interval",
    "is_compatible",
    "metrics_broadcast_interval",
    "publish",
    "quorum_status",
    "reset",
    "validate_messaging_compatibility",
]
