"""Read-only admin of stored messages and nodes, fast at millions of rows."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cached_property
from typing import Any, cast

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from opsmessaging.catalogue import all_types
from opsmessaging.categories import Category
from opsmessaging.helpers import format_timestamp
from opsmessaging.models import Message, Node
from opsmessaging.permissions import filter_viewable
from opsmessaging.severity import Severity

#: The changelist counts at most this many rows (then shows that many pages).
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]
    """Counts at most ``COUNT_CAP + 1`` rows instead of the whole (filtered) table."""

    @cached_property
    def count(self) -> int:
        rows = cast(QuerySet[Any], self.object_list)
        return rows[: COUNT_CAP + 1].count()


class _ChoiceFilter(admin.SimpleListFilter):
    field_name = ""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field_name: value}) if value else queryset


class CategoryFilter(_ChoiceFilter):
    title = "category"
    parameter_name = field_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(c.value, c.value) for c in Category]


class TopicFilter(_ChoiceFilter):
    title = "topic (choose a category first)"
    parameter_name = field_name = "topic"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        category = request.GET.get("category")
        if category not in Category.values:
            return []
        return [
            (t, t) for t in Message.objects.distinct_values("topic", category=category)
        ]


class NodeFilter(_ChoiceFilter):
    title = "node"
    parameter_name = field_name = "node"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(n, n) for n in Message.objects.distinct_values("node")]


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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return filter_viewable(super().get_queryset(request), request.user)

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
    list_display = ("name", "role", "status", "last_heartbeat_at", "started_at")
    list_filter = ("status", "role")
    readonly_fields = (
        "name",
        "role",
        "status",
        "started_at",
        "last_heartbeat_at",
        "metadata",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
