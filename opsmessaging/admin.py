"""Read-only admin of stored messages and nodes, fast at millions of rows.

Besides the lists: a compatibility status view, an action that acknowledges alerts (the
operations page's function), and links to and from the live operations page.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cached_property
from typing import Any, cast

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from opsmessaging import alerting, nodes
from opsmessaging.catalogue import all_types
from opsmessaging.catalogue.alerts import SystemAlert
from opsmessaging.categories import Category
from opsmessaging.compatibility import compatibility_status, status_for_categories
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.models import CheckIn, Message, Monitor, Node, Notification
from opsmessaging.permissions import (
    can_view_category,
    filter_viewable,
    viewable_categories,
)
from opsmessaging.severity import Severity
from opsmessaging.timestamps import format_timestamp

#: The changelist counts at most this many rows (then shows that many pages).
COUNT_CAP = 10_000


def operations_url(**query: str) -> str | None:
    """Return the URL of the live operations page (with ``query``), if it is mounted."""
    try:
        url = reverse("opsmessaging:operations")
    except NoReverseMatch:
        return None
    return f"{url}?{urlencode(query)}" if query else url


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]
    """Counts at most ``COUNT_CAP + 1`` rows instead of the whole (filtered) table."""

    @cached_property
    def count(self) -> int:
        rows = cast(QuerySet[Any], self.object_list)
        return rows[: COUNT_CAP + 1].count()


class SortableOnlyChangeList(ChangeList):
    """Sorts only by the ``sortable_by`` columns, even when ``?o=`` names another.

    Django applies any column index given in ``?o=``; sorting a large table by a column
    without a suitable index reads and sorts all of it.
    """

    def get_ordering_field(self, field_name: Any) -> Any:
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)


class _ChoiceFilter(admin.SimpleListFilter):
    field_name = ""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field_name: value}) if value else queryset


class CategoryFilter(_ChoiceFilter):
    title = "category"
    parameter_name = field_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(c.value, c.value) for c in viewable_categories(request.user)]


class TopicFilter(_ChoiceFilter):
    title = "topic (choose a category first)"
    parameter_name = field_name = "topic"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        category = request.GET.get("category")
        if category not in Category.values or not can_view_category(
            request.user, category
        ):
            return []  # the topics of a hidden category are not even listed
        return [
            (t, t) for t in Message.objects.distinct_values("topic", category=category)
        ]


class NodeFilter(_ChoiceFilter):
    title = "node"
    parameter_name = field_name = "node"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        allowed = viewable_categories(request.user)
        if len(allowed) == len(Category):
            names = Message.objects.distinct_values("node")
        else:  # only nodes that sent something the user may see
            names = sorted(
                {
                    name
                    for category in allowed
                    for name in Message.objects.distinct_values("node", category.value)
                }
            )[:100]
        return [(n, n) for n in names]


class PayloadTypeFilter(_ChoiceFilter):
    title = "payload type"
    parameter_name = field_name = "payload_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t.name, f"{t.name} ({t.category.value})") for t in all_types()]


class MinimumSeverityFilter(admin.SimpleListFilter):
    title = "minimum severity"
    parameter_name = "severity"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(s.value), f"{s.label} and above") for s in Severity]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(severity__gte=int(value))
        return queryset


class TimeFilter(admin.SimpleListFilter):
    title = "time"
    parameter_name = "within"
    WINDOWS = {
        "15m": timedelta(minutes=15),
        "1h": timedelta(hours=1),
        "24h": timedelta(days=1),
        "7d": timedelta(days=7),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, f"last {key}") for key in self.WINDOWS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        window = self.WINDOWS.get(self.value() or "")
        return (
            queryset.filter(timestamp__gte=timezone.now() - window)
            if window
            else queryset
        )


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "sequence",
        "time",
        "category",
        "topic",
        "payload_type",
        "node",
        "severity_label",
        "integrity_flag",
    )
    list_display_links = ("sequence", "time")
    list_filter = (
        CategoryFilter,
        TopicFilter,
        NodeFilter,
        MinimumSeverityFilter,
        PayloadTypeFilter,
        TimeFilter,
    )
    search_fields = ("message_id",)
    search_help_text = "Exact message id, topic or node."
    ordering = ("-id",)
    # Only time has an index that serves its order; sorting by sequence or topic would
    # sort the whole table.
    sortable_by = ("time",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    # Facet counts run one full COUNT per filter choice.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    fields = (
        "message_id",
        "category",
        "topic",
        "sequence",
        "tag",
        "payload_type",
        "version",
        "time",
        "severity_label",
        "node",
        "source_node",
        "originating_node",
        "integrity_outcome",
        "payload_pretty",
    )
    readonly_fields = fields
    actions = ["acknowledge_alerts"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return filter_viewable(super().get_queryset(request), request.user)

    def lookup_allowed(self, lookup: str, value: str, request: Any = None) -> bool:
        # Only the list filters' parameters, which use indexed equality or ranges: any
        # other lookup, ?payload__title= or ?topic__icontains= say, is a 400, not a scan.
        return lookup in {f.parameter_name for f in self.list_filter}

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return SortableOnlyChangeList

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "compatibility/",
                self.admin_site.admin_view(self.compatibility_view),
                name="opsmessaging_compatibility",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"operations_url": operations_url(), **(extra_context or {})}
        return super().changelist_view(request, context)

    def compatibility_view(self, request: HttpRequest) -> TemplateResponse:
        """The compatibility report and the app's system checks, for readers."""
        allowed = viewable_categories(request.user)
        if not allowed:
            raise PermissionDenied
        status = compatibility_status()
        if len(allowed) < len(Category):
            status = status_for_categories(status, allowed)
        context = {
            **self.admin_site.each_context(request),
            "title": "Compatibility status",
            "opts": self.model._meta,
            "status": status,
            "sections": [
                (name, json.dumps(section, indent=2, sort_keys=True))
                for name, section in status["report"].items()
            ],
            "operations_url": operations_url(),
        }
        return TemplateResponse(
            request, "admin/opsmessaging/compatibility.html", context
        )

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return alerting.may_acknowledge(request.user)

    @admin.action(
        description="Acknowledge the selected alerts", permissions=["acknowledge"]
    )
    def acknowledge_alerts(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        """Ask for a note, then acknowledge each selected open alert (``alerting``)."""
        selected = list(queryset.filter(payload_type=SystemAlert.name))
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/opsmessaging/message/acknowledge_alerts.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Acknowledge alerts",
                    "opts": self.model._meta,
                    "alerts": [(m, alerting.payload_of(m)) for m in selected],
                    "ignored": queryset.exclude(payload_type=SystemAlert.name).count(),
                    "selected_ids": [m.pk for m in queryset],
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "ack_note_max_length": alerting.ACK_NOTE_MAX_LENGTH,
                },
            )
        note = request.POST.get("ack_note", "")
        done = 0
        refused: list[str] = []
        for message in selected:
            try:
                result = alerting.acknowledge(message, request.user, note)
            except InvalidMessage as exc:
                refused.extend(r for reasons in exc.errors.values() for r in reasons)
                continue
            if result.ok:
                done += 1
            else:
                refused.append(f"{message.message_id}: {result.status} {result.error}")
        if done:
            self.message_user(request, f"Acknowledged {done} alert(s).")
        for reason in refused:
            self.message_user(request, f"Not acknowledged: {reason}", level="warning")
        if not selected:
            self.message_user(
                request, "No alert was selected (only SystemAlerts).", level="warning"
            )
        return None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # Exact matches only: each uses an index, unlike the default LIKE '%term%'. Topic
        # is indexed after category, so naming every category lets that index serve it.
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = (
            Q(message_id=term)
            | Q(category__in=Category.values, topic=term)
            | Q(node=term)
        )
        return queryset.filter(matches), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="time (UTC)", ordering="timestamp")
    def time(self, obj: Message) -> str:
        return format_timestamp(obj.timestamp)

    @admin.display(description="severity", ordering="severity")
    def severity_label(self, obj: Message) -> str:
        return "" if obj.severity is None else Severity(obj.severity).label

    @admin.display(description="payload")
    def payload_pretty(self, obj: Message) -> str:
        return format_html(
            '<pre style="white-space: pre-wrap">{}</pre>',
            json.dumps(
                obj.to_wire()["payload"], indent=2, sort_keys=True, ensure_ascii=False
            ),
        )

    @admin.display(description="signature")
    def integrity_flag(self, obj: Message) -> str:
        if obj.signature_valid:
            return "✓"
        return format_html(
            '<strong style="color: #ba2121">TAMPERED ({})</strong>', obj.integrity
        )

    @admin.display(description="signature check")
    def integrity_outcome(self, obj: Message) -> str:
        return str(obj.integrity)


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_filter = ("status", "role")
    readonly_fields = (
        "name",
        "role",
        "status",
        "status_changed_at",
        "started_at",
        "last_heartbeat_at",
        "metadata",
        "config",
    )

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        # Read once per page, not once per row.
        view = nodes.cluster_view(can_view_category(request.user, Category.ALERTS))

        @admin.display(description="alive", boolean=True)
        def alive(obj: Node) -> bool:
            return obj.name in view.alive

        @admin.display(description="failure reported by")
        def failure_reported_by(obj: Node) -> str:
            report = view.failure_of(obj)
            if report is None:
                return ""
            return (
                f"{report['reported_by']} at {format_timestamp(report['reported_at'])}"
            )

        return (
            "name",
            "role",
            "status",
            alive,
            "last_heartbeat_at",
            "status_changed_at",
            failure_reported_by,
            "started_at",
            "links",
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"operations_url": operations_url(), **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.display(description="messages")
    def links(self, obj: Node) -> str:
        links = [
            (
                f"{reverse('admin:opsmessaging_message_changelist')}?"
                f"{urlencode({'node': obj.name})}",
                "stored",
            )
        ]
        live = operations_url(node=obj.name)
        if live is not None:
            links.append((live, "live"))
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CheckInInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CheckIn
    extra = 0
    max_num = 0
    can_delete = False
    fields = readonly_fields = (
        "status",
        "started_at",
        "finished_at",
        "duration_ms",
        "node",
        "error",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[CheckIn]:
        return super().get_queryset(request).order_by("-started_at", "-id")


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Written by the app only: shown, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Monitor)
class MonitorAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "status",
        "is_alerting",
        "consecutive_failures",
        "consecutive_successes",
        "last_ok_at",
        "next_due_at",
    )
    list_filter = ("status", "is_alerting")
    search_fields = ("name",)
    inlines = [CheckInInline]
    readonly_fields = tuple(
        f.name for f in Monitor._meta.get_fields() if f.concrete and f.name != "id"
    )


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "route",
        "kind",
        "channel",
        "status",
        "attempts",
        "severity",
        "title",
    )
    list_filter = ("status", "route", "kind", "channel")
    search_fields = ("alert_id", "title", "target")
    readonly_fields = tuple(
        f.name for f in Notification._meta.get_fields() if f.concrete and f.name != "id"
    )
