"""The live operations page and the JSON it reads (include ``opsmessaging.urls``).

For staff, with the permissions of the API: every read goes through
``opsmessaging.permissions``, so a category the user may not see does not exist on the
page. The page loads a snapshot from the JSON views below, then follows the WebSocket
(``WEBSOCKET_PATH``) from the last sequence of each category it showed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from opsmessaging import alerting, nodes
from opsmessaging.catalogue import all_types, metrics
from opsmessaging.categories import Category, parse_category
from opsmessaging.compatibility import compatibility_status
from opsmessaging.conf import conf
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.models import CategorySequence, Message, Node
from opsmessaging.nodenames import is_node_name, this_node
from opsmessaging.permissions import (
    can_view_category,
    filter_viewable,
    viewable_categories,
)
from opsmessaging.protocol import WEBSOCKET_PATH
from opsmessaging.severity import Severity
from opsmessaging.timestamps import format_timestamp

#: Where ``opsmessaging.routing`` serves the WebSocket subscription endpoint.
#: Messages of the feed loaded per request (the page keeps at most twice as many rows).
FEED_SIZE = 100
#: The newest messages of each charted metric type loaded with the page: about 40 runs of
#: the scheduled metrics of one node (9 throughput, 4 latency, 2 resource messages a run).
METRIC_HISTORY = {
    metrics.ThroughputMetric.name: 360,
    metrics.LatencyMetric.name: 160,
    metrics.ResourceUsage.name: 80,
}

View = Callable[..., HttpResponse]


def _forbidden(detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=403)


def reader_json(view: View) -> View:
    """Allow a JSON view to active staff who may see at least one category (else 403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_active and user.is_staff):
            return _forbidden("Log in as staff to see the operations page.")
        if not viewable_categories(user):
            return _forbidden("You may not see any category of operational messages.")
        return view(request, *args, **kwargs)

    return wrapped


def _url(name: str, *args: Any) -> str | None:
    # The admin may not be mounted in every project: the page then leaves its links out.
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


@staff_member_required
@require_GET
def operations(request: HttpRequest) -> HttpResponse:
    """The live operations page."""
    categories = viewable_categories(request.user)
    if not categories:
        raise PermissionDenied("You may not see any category of operational messages.")
    admin_compatibility = _url("admin:opsmessaging_compatibility")
    config = {
        "websocket": WEBSOCKET_PATH,
        "urls": {
            "feed": reverse("opsmessaging:feed"),
            "metrics": reverse("opsmessaging:metrics"),
            "alerts": reverse("opsmessaging:alerts"),
            "acknowledge": reverse("opsmessaging:acknowledge"),
            "nodes": reverse("opsmessaging:nodes"),
            "compatibility": reverse("opsmessaging:compatibility"),
            "adminMessage": _url("admin:opsmessaging_message_change", 0),
            "adminCompatibility": admin_compatibility,
        },
        "categories": [{"value": c.value, "label": c.label} for c in categories],
        "severities": [s.label for s in Severity],
        "fieldOrder": {t.name: list(t.field_names) for t in all_types()},
        "canAcknowledge": alerting.may_acknowledge(request.user),
        "nodesRefreshMs": max(conf.HEARTBEAT_INTERVAL, 1000),
        "filters": _initial_filters(request.GET, categories),
    }
    links = {
        "admin": _url("admin:index"),
        "messages": _url("admin:opsmessaging_message_changelist"),
        "nodes": _url("admin:opsmessaging_node_changelist"),
        "compatibility": admin_compatibility,
    }
    return render(
        request,
        "opsmessaging/operations.html",
        {
            **admin.site.each_context(request),
            "is_nav_sidebar_enabled": False,  # the page needs the width
            "config": config,
            "links": links,
            "categories": categories,
            "title": "Operations",
        },
    )


def _initial_filters(params: Any, categories: list[Category]) -> dict[str, str]:
    """The filters of the page's address, each kept only if the page can apply it."""
    try:
        parsed = _feed_filters(params)
    except InvalidMessage as exc:
        parsed = _feed_filters({k: v for k, v in params.items() if k not in exc.errors})
    category = parsed.get("category")
    severity = parsed.get("min_severity")
    return {
        "category": category if category in {c.value for c in categories} else "",
        "node": parsed.get("node", ""),
        "min_severity": "" if severity is None else severity.label,
    }


def _feed_filters(params: Any) -> dict[str, Any]:
    """Parse the feed's ``category``, ``node`` and ``min_severity``; empty means any."""
    errors: dict[str, list[str]] = {}
    filters: dict[str, Any] = {}
    category = params.get("category") or None
    if category is not None:
        try:
            filters["category"] = parse_category(category).value
        except InvalidMessage as exc:
            errors.update(exc.errors)
    node = params.get("node") or None
    if node is not None:
        if is_node_name(node):
            filters["node"] = node
        else:
            errors["node"] = [f"{node!r} is not a node name"]
    severity = params.get("min_severity") or None
    if severity is not None:
        labels = {s.label: s for s in Severity}
        if severity in labels:
            filters["min_severity"] = labels[severity]
        else:
            errors["min_severity"] = [
                f"{severity!r} is not a severity; choose one of: {', '.join(labels)}"
            ]
    if errors:
        raise InvalidMessage(errors)
    return filters


def last_sequences(categories: list[Category]) -> dict[str, int]:
    """Return the last committed sequence of each category (0 before its first)."""
    counters = dict(
        CategorySequence.objects.filter(
            category__in=[c.value for c in categories]
        ).values_list("category", "last_sequence")
    )
    return {c.value: counters.get(c.value, 0) for c in categories}


@require_GET
@reader_json
def feed(request: HttpRequest) -> JsonResponse:
    """The newest ``FEED_SIZE`` messages the user may see that match the filters.

    ``last_sequences`` are read first: the page subscribes from them, so a message stored
    while this runs is replayed (and recognised), never lost.
    """
    try:
        filters = _feed_filters(request.GET)
    except InvalidMessage as exc:
        return JsonResponse(exc.errors, status=400)
    sequences = last_sequences(viewable_categories(request.user))
    rows = filter_viewable(
        Message.objects.get_queryset().matching(**filters), request.user
    )
    return JsonResponse(
        {
            "last_sequences": sequences,
            "messages": [m.to_wire() for m in rows.order_by("-id")[:FEED_SIZE]],
        }
    )


@require_GET
@reader_json
def metrics_history(request: HttpRequest) -> JsonResponse:
    """The newest stored messages of each charted metric type, oldest first."""
    if not can_view_category(request.user, Category.METRICS):
        return JsonResponse({"messages": []})
    rows: list[Message] = []
    for payload_type, count in METRIC_HISTORY.items():
        rows += Message.objects.filter(payload_type=payload_type).order_by("-id")[
            :count
        ]
    rows.sort(key=lambda m: m.id)
    return JsonResponse({"messages": [m.to_wire() for m in rows]})


@require_GET
@reader_json
def alert_board(request: HttpRequest) -> JsonResponse:
    """Open alerts and the latest acknowledged ones (see ``alerting.alert_board``)."""
    if not can_view_category(request.user, Category.ALERTS):
        return JsonResponse({"open": [], "acknowledged": []})
    board = alerting.alert_board()
    return JsonResponse(
        {
            "open": [m.to_wire() for m in board.open],
            "acknowledged": [
                {"alert": item.alert.to_wire(), "ack": item.ack.to_wire()}
                for item in board.acknowledged
            ],
        }
    )


@require_POST
@reader_json
def acknowledge(request: HttpRequest) -> JsonResponse:
    """Acknowledge the alert ``alert_id`` with an optional ``ack_note`` (a form POST)."""
    try:
        result = alerting.acknowledge(
            request.POST.get("alert_id", ""),
            request.user,
            request.POST.get("ack_note", ""),
        )
    except PermissionDenied as exc:
        return _forbidden(str(exc))
    except InvalidMessage as exc:
        return JsonResponse(exc.errors, status=400)
    if not result.ok or result.message is None:
        return JsonResponse(
            {
                "status": result.status,
                "detail": "Broadcasting is disabled on this server."
                if result.status == "disabled"
                else f"The acknowledgement was not stored: {result.error}",
            },
            status=503,
        )
    return JsonResponse({"ack": result.message.to_wire()})


def describe_nodes(user: Any) -> list[dict[str, Any]]:
    """Return every registered node with its status, heartbeat and whether it is alive;
    a failed node also says who declared it failed (for users who may see alerts)."""
    view = nodes.cluster_view(can_view_category(user, Category.ALERTS))
    described = []
    for node in Node.objects.order_by("name"):
        report = view.failure_of(node)
        described.append(
            {
                "name": node.name,
                "role": node.role,
                "status": node.status,
                "alive": node.name in view.alive,
                "last_heartbeat_at": _time(node.last_heartbeat_at),
                "status_changed_at": _time(node.status_changed_at),
                "started_at": _time(node.started_at),
                "failure": None
                if report is None
                else {**report, "reported_at": _time(report["reported_at"])},
            }
        )
    return described


def _time(value: Any) -> str | None:
    return None if value is None else format_timestamp(value)


@require_GET
@reader_json
def cluster(request: HttpRequest) -> JsonResponse:
    """The node registry for the cluster strip, with the server's clock and node name."""
    return JsonResponse(
        {
            "now": format_timestamp(timezone.now()),
            "this_node": this_node(),
            "nodes": describe_nodes(request.user),
        }
    )


@require_GET
@reader_json
def compatibility(request: HttpRequest) -> JsonResponse:
    """Whether messaging works here (``compatibility.compatibility_status``), for the badge."""
    status = compatibility_status()
    problems = [
        f"{name}: {section['error']}"
        for name, section in status["report"].items()
        if isinstance(section, dict) and "error" in section
    ] + [
        f"{check['id']}: {check['message']}"
        for check in status["checks"]
        if check["level"] in ("error", "critical")
    ]
    return JsonResponse({"compatible": status["compatible"], "problems": problems})
