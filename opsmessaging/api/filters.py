"""The query parameters of the message history and the filter backend that applies them."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

from opsmessaging.api.pagination import ORDERS
from opsmessaging.catalogue import all_types
from opsmessaging.categories import TOPIC_MAX_LENGTH, TOPIC_PATTERN, Category
from opsmessaging.conf import conf
from opsmessaging.nodenames import NODE_FIELDS, NODE_NAME_MAX_LENGTH, NODE_NAME_PATTERN
from opsmessaging.severity import Severity
from opsmessaging.store import MessageQuerySet

SEVERITY_LABELS = [severity.label for severity in Severity]
NODE_FIELD_CHOICES = ["any", *NODE_FIELDS]
_MAX_BIGINT = 2**63 - 1


class MessageQuerySerializer(serializers.Serializer[Any]):
    """Validates the query string of ``GET messages/``; every parameter is optional."""

    category = serializers.ChoiceField(
        choices=Category.values, required=False, help_text="Only this category."
    )
    topic = serializers.CharField(
        required=False,
        max_length=TOPIC_MAX_LENGTH,
        trim_whitespace=False,
        validators=[RegexValidator(TOPIC_PATTERN, "Not a topic: no message has it.")],
        help_text="Only this topic (exact), e.g. `node_failure` or `main_store:health`.",
    )
    tag = serializers.ChoiceField(
        choices=[t.tag for t in all_types()],
        required=False,
        help_text="Only this message tag, e.g. `system_alert`.",
    )
    payload_type = serializers.ChoiceField(
        choices=[t.name for t in all_types()],
        required=False,
        help_text="Only this payload type, e.g. `SystemAlert`.",
    )
    node = serializers.CharField(
        required=False,
        max_length=NODE_NAME_MAX_LENGTH,
        trim_whitespace=False,
        validators=[
            RegexValidator(NODE_NAME_PATTERN, "Not a node name: no message has it.")
        ],
        help_text="Only messages of this node: in any of `node`, `source_node` and "
        "`originating_node`, or in the one named by `node_field`.",
    )
    node_field = serializers.ChoiceField(
        choices=NODE_FIELD_CHOICES,
        default="any",
        help_text="Which node field `node` matches.",
    )
    severity = serializers.ChoiceField(
        choices=SEVERITY_LABELS,
        required=False,
        help_text="Only this severity (messages without one never match).",
    )
    min_severity = serializers.ChoiceField(
        choices=SEVERITY_LABELS,
        required=False,
        help_text="Only this severity or a higher one.",
    )
    since = serializers.DateTimeField(
        required=False,
        help_text="Only messages timestamped at or after this time (RFC 3339).",
    )
    until = serializers.DateTimeField(
        required=False,
        help_text="Only messages timestamped before this time (RFC 3339).",
    )
    after = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=_MAX_BIGINT,
        help_text="Only messages after this sequence number of `category` (which it "
        "needs), for catching up; combine with `order=oldest`.",
    )
    order = serializers.ChoiceField(
        choices=list(ORDERS),
        default="newest",
        help_text="`newest` first (the default) or `oldest` first.",
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # Built here so that its maximum (validated and documented) follows the setting.
        fields["limit"] = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=conf.API_MAX_PAGE_SIZE,
            help_text="Messages per page (default `OPSMESSAGING['API_PAGE_SIZE']`).",
        )
        return fields

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # DRF would read an empty parameter as an absent one: say it is wrong instead.
        items = data.items() if hasattr(data, "items") else ()
        blank = {
            name: ["May not be blank: leave the parameter out instead."]
            for name, value in items
            if name in self.fields and value == ""
        }
        if blank:
            raise serializers.ValidationError(blank)
        value: dict[str, Any] = super().to_internal_value(data)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("after") is not None and attrs.get("category") is None:
            raise serializers.ValidationError(
                {"after": ["Give a category too: sequences number each category."]}
            )
        return attrs

    def filters(self) -> dict[str, Any]:
        """Return the validated filters as ``MessageQuerySet.matching`` arguments."""
        data = dict(self.validated_data)
        for name in ("order", "limit"):
            data.pop(name, None)
        for name in ("severity", "min_severity"):
            if name in data:
                data[name] = Severity[data[name].upper()]
        return data


class MessageFilter(BaseFilterBackend):
    """Applies ``MessageQuerySerializer``; a bad parameter is a 400 naming it."""

    def filter_queryset(
        self, request: Request, queryset: QuerySet[Any], view: Any
    ) -> QuerySet[Any]:
        if getattr(view, "action", "list") != "list":
            return queryset  # one message by id: the filters are the list's
        params = MessageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        assert isinstance(queryset, MessageQuerySet)
        return queryset.matching(**params.filters())
