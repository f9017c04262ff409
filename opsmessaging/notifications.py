"""Alert notifications to people: email and signed webhooks, per ``NOTIFICATIONS`` route.

``dispatch`` reads the committed, numbered log of each routed category past its cursor
(kept in the ``PeriodicRun`` row ``notifications``, locked while it moves), records one
``Notification`` per message, route and kind, and sends the Celery task
``opsmessaging.send_notification`` for each once that commit is done. It runs in every
node's heartbeat and in the cluster check. The task locks its row while it sends and
never sends a row already ``sent``: a retry or a redelivery never sends twice.

A webhook carries ``X-OpsMessaging-Timestamp`` (epoch seconds) and
``X-OpsMessaging-Signature: sha256=<hex>``, the HMAC-SHA256 with the route's secret of
``"<timestamp>.<body>"``; see ``signature``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import router, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from opsmessaging import codec
from opsmessaging.categories import Category
from opsmessaging.conf import conf
from opsmessaging.models import Message, Notification, PeriodicRun
from opsmessaging.nodenames import this_node
from opsmessaging.severity import Severity, normalise_severity

logger = logging.getLogger(__name__)

SEND_TASK = "opsmessaging.send_notification"
CURSOR = "notifications"
FORMATS = ("json", "slack")
SCAN_BATCH = 500
TIMESTAMP_HEADER = "X-OpsMessaging-Timestamp"
SIGNATURE_HEADER = "X-OpsMessaging-Signature"
DELIVERY_HEADER = "X-OpsMessaging-Delivery"


class TransientFailure(Exception):
    """Raised when a notice could not be sent but may be on a later attempt."""


@dataclass(frozen=True)
class Route:
    """One ``NOTIFICATIONS`` entry, read by ``routes()``."""

    name: str
    min_severity: int
    categories: tuple[str, ...]
    email: tuple[str, ...]
    webhook: str
    secret: str
    format: str

    @property
    def channel(self) -> str:
        return "webhook" if self.webhook else "email"

    @property
    def target(self) -> str:
        return self.webhook or ", ".join(self.email)


def route_errors(index: int, raw: object) -> list[str]:
    """Return what is wrong with the ``index``-th route (empty when it is fine)."""
    if not isinstance(raw, Mapping):
        return [f"route {index} must be a dict"]
    errors = []
    email, webhook = raw.get("email"), raw.get("webhook")
    if (email is None) == (webhook is None):
        errors.append(f"route {index} needs exactly one of 'email' and 'webhook'")
    if email is not None and (
        not isinstance(email, list | tuple)
        or not email
        or not all(isinstance(a, str) and "@" in a for a in email)
    ):
        errors.append(f"route {index}: 'email' must be a list of addresses")
    if webhook is not None:
        if not isinstance(webhook, str) or not webhook.startswith(
            ("http://", "https://")
        ):
            errors.append(f"route {index}: 'webhook' must be an http(s) URL")
        if not isinstance(raw.get("secret"), str) or not raw.get("secret"):
            errors.append(f"route {index}: a webhook needs a 'secret' to sign with")
        if raw.get("format", "json") not in FORMATS:
            errors.append(f"route {index}: 'format' must be one of {FORMATS}")
    try:
        normalise_severity(raw.get("min_severity", "error"), "min_severity")
    except Exception:  # any unreadable severity is the same setting error
        errors.append(f"route {index}: unknown 'min_severity'")
    categories = raw.get("categories", [Category.ALERTS.value])
    known = {c.value for c in Category}
    if not isinstance(categories, list | tuple) or not set(categories) <= known:
        errors.append(f"route {index}: 'categories' must name categories of {known}")
    return errors


def routes() -> list[Route]:
    """Return the valid routes of ``NOTIFICATIONS`` (a bad one is a system check error)."""
    found = []
    for index, raw in enumerate(conf.NOTIFICATIONS):
        if route_errors(index, raw):
            continue
        found.append(
            Route(
                name=str(raw.get("name") or f"route-{index}"),
                min_severity=int(normalise_severity(raw.get("min_severity", "error"))),
                categories=tuple(raw.get("categories", [Category.ALERTS.value])),
                email=tuple(raw.get("email") or ()),
                webhook=str(raw.get("webhook") or ""),
                secret=str(raw.get("secret") or ""),
                format=str(raw.get("format", "json")),
            )
        )
    return found


def _payload(message: Message) -> dict[str, Any]:
    try:
        return dict(message.envelope.payload)
    except codec.UnreadablePayload:
        return {}


def _fingerprint(message: Message, payload: Mapping[str, Any]) -> str:
    metadata = payload.get("metadata") or {}
    subject = [
        str(metadata.get(k, ""))
        for k in ("monitor", "node", "component")
        if metadata.get(k)
    ]
    kind = payload.get("alert_type") or message.payload_type
    return ":".join([message.category, str(kind), *subject])[:255]


def _is_recovery(payload: Mapping[str, Any]) -> bool:
    return str(payload.get("alert_type") or "").endswith("recovered")


def dispatch() -> list[int]:
    """Record the notices of the messages committed since the last call and send their
    tasks after commit; return the ids of the ``Notification`` rows created."""
    active = routes()
    if not active:
        return []
    alias = router.db_for_write(PeriodicRun)
    created: list[int] = []
    with transaction.atomic(using=alias):
        now = timezone.now()
        PeriodicRun.objects.get_or_create(
            name=CURSOR,
            defaults={"last_sent_at": now, "last_run_at": now, "node": this_node()},
        )
        cursor = PeriodicRun.objects.select_for_update().get(name=CURSOR)
        state = dict(cursor.state)
        for category in sorted({c for r in active for c in r.categories}):
            # Only numbered messages: the sequence is given in commit order, so a
            # cursor on it never skips a message that commits late.
            rows = Message.objects.filter(
                category=category,
                sequence__gt=int(state.get(category, 0)),
                sequence__isnull=False,
            ).order_by("sequence")[:SCAN_BATCH]
            for message in rows:
                created += _record(message, active)
                state[category] = message.sequence
        PeriodicRun.objects.filter(pk=cursor.pk).update(
            state=state, last_run_at=now, node=this_node()
        )
        for pk in created:
            transaction.on_commit(functools.partial(_send_task, pk), using=alias)
    return created


def _record(message: Message, active: list[Route]) -> list[int]:
    payload = _payload(message)
    if message.payload_type == "AlertAck":
        return _record_follow_up(
            payload.get("alert_id"), Notification.Kind.ACK, payload
        )
    if _is_recovery(payload):
        resolved = (payload.get("metadata") or {}).get("resolves")
        if resolved:
            return _record_follow_up(resolved, Notification.Kind.RECOVERY, payload)
    created = []
    alert_id = str(payload.get("alert_id") or message.message_id)
    fingerprint = _fingerprint(message, payload)
    window_start = timezone.now() - timedelta(
        milliseconds=conf.NOTIFICATION_RATE_WINDOW
    )
    for route in active:
        if message.category not in route.categories:
            continue
        if message.severity is None or message.severity < route.min_severity:
            continue
        recent = Notification.objects.filter(
            route=route.name,
            fingerprint=fingerprint,
            kind=Notification.Kind.ALERT,
            created_at__gte=window_start,
        ).exclude(status=Notification.Status.SUPPRESSED)
        suppressed = recent.count() >= conf.NOTIFICATION_RATE_LIMIT
        row, is_new = Notification.objects.get_or_create(
            alert_id=alert_id,
            route=route.name,
            kind=Notification.Kind.ALERT,
            defaults={
                "channel": route.channel,
                "target": route.target[:1000],
                "fingerprint": fingerprint,
                "severity": Severity(message.severity).label,
                "title": str(payload.get("title") or message.payload_type)[:1000],
                "status": Notification.Status.SUPPRESSED
                if suppressed
                else Notification.Status.PENDING,
                "response": "rate-limited: a repeat within the window"
                if suppressed
                else "",
            },
        )
        if is_new and not suppressed:
            created.append(row.pk)
    return created


def _record_follow_up(
    alert_id: object, kind: str, payload: Mapping[str, Any]
) -> list[int]:
    """Tell the routes that were sent ``alert_id`` that it was acknowledged or resolved."""
    if not isinstance(alert_id, str):
        return []
    created = []
    sent = Notification.objects.filter(
        alert_id=alert_id, kind=Notification.Kind.ALERT, status=Notification.Status.SENT
    )
    names = {r.name: r for r in routes()}
    for original in sent:
        route = names.get(original.route)
        if route is None:
            continue
        if kind == Notification.Kind.ACK:
            title = f"Acknowledged by {payload.get('ack_by')}: {original.title}"
        else:
            title = f"Resolved: {original.title} ({payload.get('title')})"
        row, is_new = Notification.objects.get_or_create(
            alert_id=alert_id,
            route=route.name,
            kind=kind,
            defaults={
                "channel": route.channel,
                "target": route.target[:1000],
                "fingerprint": original.fingerprint,
                "severity": original.severity,
                "title": title[:1000],
            },
        )
        if is_new:
            created.append(row.pk)
    return created


def _send_task(pk: int) -> None:
    from celery import current_app  # celery is an optional dependency

    current_app.send_task(SEND_TASK, args=[pk])


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``X-OpsMessaging-Signature`` of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def acknowledge_url() -> str:
    """Return the admin page where open alerts are acknowledged."""
    try:
        path = reverse("admin:opsmessaging_message_changelist") + "?category=alerts"
    except NoReverseMatch:
        path = "/admin/"
    return conf.NOTIFICATION_BASE_URL + path


def _body(row: Notification, route: Route) -> bytes:
    if route.format == "slack":
        data: dict[str, Any] = {
            "text": f"[{row.severity}] {row.title}",
        }
    else:
        data = {
            "delivery_id": row.pk,
            "alert_id": row.alert_id,
            "kind": row.kind,
            "severity": row.severity,
            "title": row.title,
            "route": row.route,
            "acknowledge_url": acknowledge_url(),
        }
    return json.dumps(data, separators=(",", ":")).encode()


def _post(row: Notification, route: Route) -> str:
    body = _body(row, route)
    stamp = str(int(time.time()))
    request = urllib.request.Request(
        route.webhook,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: signature(route.secret, stamp, body),
            DELIVERY_HEADER: f"{row.alert_id}:{row.route}:{row.kind}",
        },
    )
    try:
        with urllib.request.urlopen(
            request, timeout=conf.NOTIFICATION_TIMEOUT / 1000
        ) as response:
            return (
                f"HTTP {response.status}: {response.read(500).decode(errors='replace')}"
            )
    except urllib.error.HTTPError as exc:
        raise TransientFailure(f"HTTP {exc.code}: {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc


def _email(row: Notification, route: Route) -> str:
    lines = [row.title, "", f"Severity: {row.severity}", f"Alert: {row.alert_id}"]
    if row.kind == Notification.Kind.ALERT:
        lines += ["", f"Acknowledge it: {acknowledge_url()}"]
    try:
        sent = send_mail(
            f"[opsmessaging {row.severity}] {row.title}"[:200],
            "\n".join(lines),
            conf.NOTIFICATION_FROM_EMAIL,
            list(route.email),
        )
    except OSError as exc:
        raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
    return f"sent to {sent} address(es)" if sent else "not sent"


def deliver(pk: int) -> str:
    """Send notification ``pk`` once: return its status after this attempt.

    Raises ``TransientFailure`` when this attempt failed and another may be made (the
    attempt is counted first).
    """
    alias = router.db_for_write(Notification)
    failure: TransientFailure | None = None
    with transaction.atomic(using=alias):
        row = Notification.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.status != Notification.Status.PENDING:
            return row.status if row is not None else "gone"
        route = {r.name: r for r in routes()}.get(row.route)
        row.attempts += 1
        if route is None:
            row.status, row.response = Notification.Status.FAILED, "no such route now"
        else:
            try:
                row.response = (_post if route.webhook else _email)(row, route)
                row.status, row.sent_at = Notification.Status.SENT, timezone.now()
            except TransientFailure as exc:
                row.response = str(exc)[:2000]
                if row.attempts >= conf.NOTIFICATION_MAX_ATTEMPTS:
                    row.status = Notification.Status.FAILED
                else:
                    failure = exc
        row.save()
    if failure is not None:
        raise failure
    return row.status


def retry_delay(attempts: int) -> float:
    """Return the seconds before the retry following attempt number ``attempts``."""
    return float(conf.NOTIFICATION_RETRY_DELAY / 1000 * 2 ** max(0, attempts - 1))


def pending_ids() -> list[int]:
    """Return the notifications still to send (for an operator's resend)."""
    return list(
        Notification.objects.filter(Q(status=Notification.Status.PENDING)).values_list(
            "pk", flat=True
        )
    )
