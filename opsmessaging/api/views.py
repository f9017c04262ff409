"""Views of the API: thin translations between HTTP and the app.

Reading goes through ``permissions.filter_viewable`` (a message of a category the user may
not see does not exist for them), broadcasting through ``pubsub`` after
``permissions.can_add_category``. ``InvalidMessage`` becomes a 400 naming each field.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connections, router
from django.db.models import QuerySet
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)
from rest_framework.decorators import action
from rest_framework.exceptions import (
    NotFound,
    ParseError,
    PermissionDenied,
    ValidationError,
)
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.serializers import Serializer
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from opsmessaging import alerting, checkins, cloudevents, pubsub, relay
from opsmessaging.api.filters import MessageFilter, MessageQuerySerializer
from opsmessaging.api.openapi import MessageAutoSchema
from opsmessaging.api.pagination import MessageCursorPagination
from opsmessaging.api.parsers import BoundedJSONParser, RequestTooLarge
from opsmessaging.api.permissions import MessagePermission
from opsmessaging.api.renderers import (
    CloudEventRenderer,
    CloudEventsBatchRenderer,
    MessageCSVRenderer,
)
from opsmessaging.api.serializers import (
    PAYLOAD_TYPE_NAMES,
    BatchResultSerializer,
    BatchSerializer,
    BroadcastSerializer,
    CategorySerializer,
    CloudEventSerializer,
    ClusterSerializer,
    CompatibilitySerializer,
    ErrorSerializer,
    MessageSerializer,
    MonitorSerializer,
    NodeSerializer,
    NotStoredSerializer,
    PayloadTypeSerializer,
    flatten_errors,
)
from opsmessaging.api.throttling import BroadcastRateThrottle, CompatibilityRateThrottle
from opsmessaging.capture import drf
from opsmessaging.catalogue import alerts, get_type
from opsmessaging.categories import Category
from opsmessaging.codec import escape_surrogates
from opsmessaging.compatibility import (
    cached_compatibility_status,
    status_for_categories,
)
from opsmessaging.conf import conf
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.helpers import cluster_context
from opsmessaging.models import CategorySequence, Message, Node
from opsmessaging.nodenames import this_node
from opsmessaging.permissions import (
    can_add_category,
    filter_viewable,
    viewable_categories,
)
from opsmessaging.schema import describe_catalogue, describe_type
from opsmessaging.timestamps import check_clock_skew, parse_timestamp

#: Topics listed per category by ``categories/``.
TOPICS_LISTED = 100
_ENVELOPE_OPTIONS = ("topic", "category", "node", "source_node", "originating_node")
_NODE_OPTIONS = ("node", "source_node", "originating_node")
#: The permission to set node fields through the API (else this server's node is used).
OVERRIDE_NODE_PERMISSION = "opsmessaging.override_message_node"

# Documented error responses (every body is JSON).
_VALIDATION = OpenApiResponse(
    {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    description="Bad input: each offending field (dotted for nested ones, e.g. "
    "`payload.severity` or `events[2].type`) with its reasons. Nothing was stored.",
)
_UNAUTHENTICATED = OpenApiResponse(
    ErrorSerializer, description="Not authenticated (no or a bad token)."
)
_FORBIDDEN = OpenApiResponse(
    ErrorSerializer,
    description="Not allowed (or, with session authentication, not logged in).",
)
_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not found.")
_TOO_LARGE = OpenApiResponse(
    ErrorSerializer,
    description="The body is over `DATA_UPLOAD_MAX_MEMORY_SIZE` (Django's setting). "
    "Nothing was stored.",
)
_THROTTLED = OpenApiResponse(
    ErrorSerializer,
    description="Too many broadcasts (`OPSMESSAGING['API_WRITE_THROTTLE_RATE']`).",
)
_NOT_STORED = OpenApiResponse(
    NotStoredSerializer,
    description="Nothing was stored: broadcasting is disabled, or the store failed.",
)
_READ_ERRORS = {
    (401, "application/json"): _UNAUTHENTICATED,
    (403, "application/json"): _FORBIDDEN,
}
_WRITE_ERRORS = {
    400: _VALIDATION,
    401: _UNAUTHENTICATED,
    403: _FORBIDDEN,
    413: _TOO_LARGE,
    429: _THROTTLED,
    503: _NOT_STORED,
}


def _wait_for_sequences(messages: list[Message]) -> None:
    """Give ``messages`` their sequences once numbered, waiting at most
    ``API_SEQUENCE_WAIT`` (not at all inside a transaction: none can be numbered yet)."""
    pending = {m.pk: m for m in messages if m.sequence is None}
    alias = router.db_for_write(Message)
    if not pending or connections[alias].in_atomic_block:
        return
    found = relay.wait_for_sequences(list(pending), conf.API_SEQUENCE_WAIT / 1000)
    for pk, sequence in found.items():
        pending[pk].sequence = sequence


class JSONErrorsMixin:
    """Answer errors in JSON whatever format was asked; every 400 maps fields to reasons.

    The views need no ``REST_FRAMEWORK`` setting of the project: without
    ``DEFAULT_AUTHENTICATION_CLASSES`` they take a token or a session, their schema is
    drf-spectacular's, and failed authentication and throttling are captured.
    """

    schema: ViewInspector | None = AutoSchema()

    def get_authenticators(self) -> list[BaseAuthentication]:
        if "DEFAULT_AUTHENTICATION_CLASSES" in getattr(settings, "REST_FRAMEWORK", {}):
            return super().get_authenticators()  # type: ignore[misc, no-any-return]
        return [TokenAuthentication(), SessionAuthentication()]

    def get_exception_handler(self) -> Any:
        return drf.exception_handler

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, InvalidMessage):
            exc = ValidationError(exc.errors)
        elif isinstance(exc, RequestDataTooBig):  # Django's limit, met reading the body
            request = getattr(self, "request", None)
            length = request.META.get("CONTENT_LENGTH") if request else None
            exc = RequestTooLarge.over_limit(length)
        elif isinstance(
            exc, ParseError
        ):  # a body that is not JSON: a 400 like the others
            exc = ValidationError({"non_field_errors": [str(exc.detail)]})
        response: Response = super().handle_exception(exc)  # type: ignore[misc]
        return response

    def finalize_response(
        self, request: Request, response: Any, *args: Any, **kwargs: Any
    ) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if isinstance(response, Response) and response.status_code >= 400:
            # An error may quote the caller's text: a lone surrogate in it (a payload key,
            # say) cannot be encoded as UTF-8.
            response.data = escape_surrogates(response.data)
            if not isinstance(response.accepted_renderer, JSONRenderer):
                response.accepted_renderer = JSONRenderer()
                response.accepted_media_type = JSONRenderer.media_type
        return response


def validated(serializer_class: type[Serializer[Any]], data: Any) -> dict[str, Any]:
    """Validate a body with ``serializer_class``; errors become a flat 400."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationError(flatten_errors(serializer.errors))
    return dict(serializer.validated_data)


def check_payload_timestamp(payload: Any, field: str) -> None:
    """Refuse a payload ``timestamp`` too far from this server's clock (see
    ``timestamps.check_clock_skew``); a malformed one is left to the broadcast to name."""
    value = payload.get("timestamp") if isinstance(payload, dict) else None
    if not isinstance(value, str):
        return
    try:
        parsed = parse_timestamp(value, field)
    except InvalidMessage:
        return
    check_clock_skew(parsed, field)


def envelope_options(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body[name] for name in _ENVELOPE_OPTIONS if name in body}


def sender_options(request: Request) -> dict[str, Any]:
    """The signed sender fields of what ``request`` broadcasts: its user and this node."""
    return {"sender": request.user.get_username(), "received_by": this_node()}


def check_may_set_nodes(user: Any, bodies: list[dict[str, Any]]) -> None:
    """Refuse node fields in ``bodies`` unless ``user`` has ``override_message_node``."""
    if user.has_perm(OVERRIDE_NODE_PERMISSION):
        return
    if any(name in body for body in bodies for name in _NODE_OPTIONS):
        raise PermissionDenied(
            "Setting node, source_node or originating_node needs the permission "
            f"{OVERRIDE_NODE_PERMISSION!r}; leave them out to use this server's node."
        )


#: The payload fields of an ``AlertAck`` a client may give; the rest is the server's.
ACK_FIELDS = ("alert_id", "ack_note", "ack_by")


def acknowledgement_request(
    body: dict[str, Any], user: Any, prefix: str = ""
) -> tuple[object, object]:
    """Return ``(alert_id, ack_note)`` of an ``AlertAck`` body, for ``alerting``.

    An acknowledgement is made by ``alerting.acknowledge`` as the authenticated user: a
    body that sets anything else (another ``ack_by``, its times, node fields or a topic)
    is a 400 naming each such field.
    """
    payload = body.get("payload") or {}
    errors: dict[str, list[str]] = {}
    for name in envelope_options(body):
        if name == "category" and body[name] == alerts.AlertAck.category.value:
            continue
        errors[f"{prefix}{name}"] = [
            "An acknowledgement is stored by this server as the authenticated user; "
            "leave this out."
        ]
    for key in payload:
        if key not in ACK_FIELDS:
            errors[f"{prefix}payload.{key}"] = [
                "Set by the server for an acknowledgement; the fields are: "
                + ", ".join(ACK_FIELDS)
                + "."
            ]
    username = user.get_username()
    if "ack_by" in payload and payload["ack_by"] != username:
        errors[f"{prefix}payload.ack_by"] = [
            f"Must be the authenticated user ({username!r}), or left out."
        ]
    if "alert_id" not in payload:
        errors[f"{prefix}payload.alert_id"] = ["This field is required."]
    if errors:
        raise ValidationError(errors)
    return payload["alert_id"], payload.get("ack_note", "")


def not_stored(result: pubsub.BroadcastResult | pubsub.BatchResult) -> Response:
    if (
        isinstance(result, pubsub.BatchResult)
        and result.disabled
        or (isinstance(result, pubsub.BroadcastResult) and result.status == "disabled")
    ):
        body = {
            "status": "disabled",
            "detail": "Broadcasting is disabled on this server; nothing was stored.",
        }
    else:
        body = {
            "status": "error",
            "detail": "The store failed; nothing was stored (the reason is in the "
            "server log).",
        }
    return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)


@extend_schema_view(
    list=extend_schema(
        summary="Message history, newest first",
        description="Filtered history with cursor pagination (follow `next`). "
        "`format=csv` gives the page as CSV, `format=cloudevents` as a CloudEvents "
        "batch; both carry the `next`/`previous` links in a `Link` header.",
        parameters=[MessageQuerySerializer],
        responses={
            (200, "application/json"): MessageSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            # A CloudEvents batch is a bare array (the links are in the Link header).
            (200, cloudevents.BATCH_MEDIA_TYPE): CloudEventSerializer(many=True),
            (400, "application/json"): _VALIDATION,
            (404, "application/json"): OpenApiResponse(
                ErrorSerializer, description="Invalid cursor."
            ),
            **_READ_ERRORS,
        },
    ),
    retrieve=extend_schema(
        summary="One message",
        description="`format=cloudevents` gives it as a CloudEvent. A message of a "
        "category the user may not see is not found.",
        parameters=[
            OpenApiParameter(
                "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Store id."
            )
        ],
        responses={
            (200, "application/json"): MessageSerializer,
            (200, cloudevents.MEDIA_TYPE): CloudEventSerializer,
            (404, "application/json"): _NOT_FOUND,
            **_READ_ERRORS,
        },
    ),
    create=extend_schema(
        summary="Broadcast one message",
        description="Validated by the catalogue, stored and delivered like "
        "`pubsub.broadcast_typed`. The category follows from `type`; broadcasting it "
        "needs the category's add permission.",
        request=BroadcastSerializer,
        responses={201: MessageSerializer, **_WRITE_ERRORS},
    ),
    batch=extend_schema(
        summary="Broadcast several messages, all or none",
        description="Every event is validated first; one bad event fails the batch "
        "and nothing is stored. The events are stored in one transaction.",
        request=BatchSerializer,
        responses={201: BatchResultSerializer, **_WRITE_ERRORS},
    ),
)
class MessageViewSet(
    JSONErrorsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Message],
):
    """Stored messages: read the history, broadcast new ones."""

    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    pagination_class = MessageCursorPagination
    filter_backends = [MessageFilter]
    permission_classes = [MessagePermission]
    parser_classes = [BoundedJSONParser]
    # Any path segment reaches the view, so that a non-number is a JSON 404 too.
    lookup_value_regex = "[^/]+"
    schema = MessageAutoSchema()

    def get_queryset(self) -> QuerySet[Message]:
        return filter_viewable(Message.objects.all(), self.request.user)

    def get_object(self) -> Message:
        if not re.fullmatch(r"[0-9]+", self.kwargs["pk"]):
            raise NotFound("No Message matches the given query.")
        return super().get_object()

    def get_renderers(self) -> list[BaseRenderer]:
        classes: list[type[BaseRenderer]] = [JSONRenderer]
        if self.action in ("list", None):  # None: a method it refuses (405 in JSON)
            classes += [MessageCSVRenderer, CloudEventsBatchRenderer]
        if self.action in ("retrieve", None):
            classes += [CloudEventRenderer]
        return [renderer() for renderer in classes]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # DRF reads no body without a Content-Length, so a chunked one (ASGI) would be
        # empty: read it here, within DATA_UPLOAD_MAX_MEMORY_SIZE, and give its length.
        if request.method == "POST" and not request.META.get("CONTENT_LENGTH"):
            request.META["CONTENT_LENGTH"] = str(len(request.body))

    def get_throttles(self) -> list[BaseThrottle]:
        if self.request.method not in SAFE_METHODS:
            return [BroadcastRateThrottle()]
        return super().get_throttles()

    def _check_may_add(self, categories: set[str]) -> None:
        refused = sorted(
            c for c in categories if not can_add_category(self.request.user, c)
        )
        if refused:
            raise PermissionDenied(
                f"You do not have permission to broadcast {', '.join(refused)} messages."
            )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Broadcast one message; the 201 carries it as stored, with its sequence once
        the relay has numbered it (within ``API_SEQUENCE_WAIT``; null after that, or
        inside ``ATOMIC_REQUESTS``, whose transaction commits after the response)."""
        body = validated(BroadcastSerializer, request.data)
        self._check_may_add({get_type(body["type"]).category.value})
        check_payload_timestamp(body.get("payload"), "payload.timestamp")
        if body["type"] == alerts.AlertAck.name:
            alert_id, ack_note = acknowledgement_request(body, request.user)
            try:
                result = alerting.acknowledge(
                    alert_id,  # type: ignore[arg-type]
                    request.user,
                    ack_note,  # type: ignore[arg-type]
                    received_by=this_node(),
                )
            except InvalidMessage as exc:
                raise exc.prefixed("payload") from None
        else:
            check_may_set_nodes(request.user, [body])
            result = pubsub.broadcast_typed(
                body["type"],
                body.get("payload"),
                **envelope_options(body),
                **sender_options(request),
            )
        if not result.ok or result.message is None:
            return not_stored(result)
        _wait_for_sequences([result.message])
        return Response(result.message.to_wire(), status=status.HTTP_201_CREATED)

    @action(detail=False, methods=["post"])
    def batch(self, request: Request) -> Response:
        events = validated(BatchSerializer, request.data)["events"]
        problems: dict[str, list[str]] = {}
        categories = set()
        for index, event in enumerate(events):
            try:
                categories.add(get_type(event["type"]).category.value)
                check_payload_timestamp(event.get("payload"), "payload.timestamp")
            except InvalidMessage as exc:
                problems.update(exc.prefixed(f"events[{index}]").errors)
        if problems:
            raise ValidationError(problems)
        self._check_may_add(categories)
        check_may_set_nodes(request.user, events)
        items: list[object] = [
            ("typed", event["type"], event.get("payload"), envelope_options(event))
            for event in events
        ]
        acknowledgements = {
            index: acknowledgement_request(event, request.user, f"events[{index}].")
            for index, event in enumerate(events)
            if event["type"] == alerts.AlertAck.name
        }
        if acknowledgements:
            result = alerting.broadcast_with_acknowledgements(
                items, acknowledgements, request.user, received_by=this_node()
            )
        else:
            result = pubsub.broadcast_batch(items, **sender_options(request))
        if result.disabled or result.errors:
            return not_stored(result)
        _wait_for_sequences(
            [r.message for r in result.results if r.message is not None]
        )
        body = {
            "success": result.success,
            "errors": result.errors,
            "disabled": result.disabled,
            "results": [
                {
                    "status": item.status,
                    "message": item.message.to_wire() if item.message else None,
                    "error": item.error,
                }
                for item in result.results
            ],
        }
        return Response(body, status=status.HTTP_201_CREATED)


class CategoryListView(JSONErrorsMixin, APIView):
    """Each category the user may see, with its topics and the extent of its history."""

    permission_classes = [MessagePermission]

    @extend_schema(
        summary="Categories with their topics, counts and last message time",
        description="Cheap at any size: topics come from a loose index scan; the count "
        "is `last_sequence - first_sequence + 1` (sequences have no gaps and retention "
        "removes the oldest first).",
        responses={200: CategorySerializer(many=True), **_READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        rows = []
        for category in viewable_categories(request.user):
            topics = Message.objects.distinct_values(
                "topic", category=category.value, limit=TOPICS_LISTED + 1
            )
            rows.append(
                {
                    "category": category.value,
                    "label": category.label,
                    "topics": topics[:TOPICS_LISTED],
                    "topics_truncated": len(topics) > TOPICS_LISTED,
                    **Message.objects.category_stats(category.value),
                    "epoch": CategorySequence.epoch_of(category),
                }
            )
        return Response(CategorySerializer(rows, many=True).data)


class NodeListView(JSONErrorsMixin, APIView):
    """The node registry and this node's view of the cluster."""

    permission_classes = [MessagePermission]

    @extend_schema(
        summary="Cluster nodes and the cluster context",
        responses={200: ClusterSerializer, **_READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        context = cluster_context()
        connected = {context["node_name"], *context["connected_nodes"]}
        nodes = NodeSerializer(
            Node.objects.all(), many=True, context={"connected": connected}
        )
        return Response({"cluster": context, "nodes": nodes.data})


class MonitorListView(JSONErrorsMixin, APIView):
    """Monitored jobs (the periodic runs, users' tasks) and their latest check-ins."""

    permission_classes = [MessagePermission]

    @extend_schema(
        summary="Check-ins of scheduled work",
        responses={200: MonitorSerializer(many=True), **_READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        rows: Any = checkins.monitor_overview()
        return Response(MonitorSerializer(rows, many=True).data)


class CompatibilityView(JSONErrorsMixin, APIView):
    """Whether messaging works here, for monitors and load balancers (no login needed)."""

    permission_classes = [AllowAny]
    throttle_classes = [CompatibilityRateThrottle]

    @extend_schema(
        summary="Compatibility status (200 compatible, 503 not)",
        description="`pubsub.validate_messaging_compatibility()` and the app's system "
        "checks, computed at most `COMPATIBILITY_CACHE_TTL` ms ago on this node. Anyone "
        "gets the status code and `compatible`; users who may read messages also get "
        "the `report` and the `checks`.",
        responses={
            200: CompatibilitySerializer,
            503: OpenApiResponse(
                CompatibilitySerializer, description="Something is not compatible."
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many requests "
                "(`OPSMESSAGING['COMPATIBILITY_THROTTLE_RATE']`).",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        result = cached_compatibility_status()
        code = 200 if result["compatible"] else 503
        allowed = viewable_categories(request.user)
        if not allowed:
            result = {"compatible": result["compatible"]}
        elif len(allowed) < len(Category):
            result = status_for_categories(result, allowed)
        return Response(result, status=code)


class PayloadTypeListView(JSONErrorsMixin, APIView):
    """The catalogue of payload types, each with its JSON Schema."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Every payload type with its JSON Schema",
        operation_id="opsmessaging_types_list",
        responses={200: PayloadTypeSerializer(many=True), **_READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(describe_catalogue())


class PayloadTypeDetailView(JSONErrorsMixin, APIView):
    """One payload type of the catalogue."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="One payload type with its JSON Schema",
        parameters=[
            OpenApiParameter(
                "name", str, OpenApiParameter.PATH, enum=PAYLOAD_TYPE_NAMES
            )
        ],
        responses={
            200: PayloadTypeSerializer,
            404: _NOT_FOUND,
            **_READ_ERRORS,
        },
    )
    def get(self, request: Request, name: str) -> Response:
        if name not in PAYLOAD_TYPE_NAMES:
            raise NotFound(f"No payload type {name!r}.")
        return Response(describe_type(name))
