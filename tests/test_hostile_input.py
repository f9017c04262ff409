"""Property-based tests (hypothesis): hostile input never escapes as an unexpected error.

Every public broadcast function, ``broadcast_batch``, ``broadcast`` through every catalogue
constructor and the validators of ``opsmessaging.helpers`` get arbitrary arguments: each
call ends as a result (ok, disabled, error) or ``InvalidMessage``, and every row it stored
reads back, round-trips its wire form and re-validates against its payload type. The
WebSocket endpoint gets arbitrary frames through a real server and keeps answering.

Examples per property: 60 (profile ``default``), 1,000 with ``OPSMESSAGING_FUZZ=soak``.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.contrib.auth.models import User
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from opsmessaging import builders, catalogue, helpers, pubsub
from opsmessaging.catalogue import Kind, all_types, logs
from opsmessaging.categories import Category
from opsmessaging.envelope import Envelope
from opsmessaging.exceptions import InvalidMessage
from opsmessaging.models import Message
from opsmessaging.pubsub import BatchResult, BroadcastResult
from tests.live import live_asgi_server, receive, send, ws_connect

# --- strategies ----------------------------------------------------------------------------

#: Every allowed value of every catalogue field, plus names that pass the name rules, so
#: that arbitrary draws often get past the first check and reach deeper ones.
VOCABULARY = sorted(
    {c for t in all_types() for f in t.fields for c in f.choices}
    | {"web1@h", "node-2", "main_store", "c1", "persistence", "emitter", "node_failure"}
    | set(Category.values)
    | {"events", "", " ", "a b", "x" * 300}
)

text = st.text(st.characters(exclude_categories=()), max_size=40)  # with surrogates
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included
    text,
    st.binary(max_size=20),
    st.sampled_from(VOCABULARY),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=5))])),
    st.decimals(allow_nan=True),
    st.just(object()),
    st.sampled_from(list(Category)),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(text, st.integers(), st.none()), inner, max_size=4),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=12,
)
mappings = st.dictionaries(
    st.one_of(text, st.sampled_from(VOCABULARY)), junk, max_size=5
)
argument = st.one_of(st.sampled_from(VOCABULARY), junk, mappings)
node_lists = st.lists(st.sampled_from(["web1@h", "web2@h", "db@x", "bad node", ""]))

#: Keyword options a caller might pass: the envelope options, common payload fields, junk.
OPTION_NAMES = sorted(
    {"node", "topic", "source_node", "originating_node", "category", "bogus"}
    | {f.name for t in all_types() for f in t.fields}
)
options = st.dictionaries(st.sampled_from(OPTION_NAMES), argument, max_size=4)


def _aware(draw_dt: datetime) -> datetime:
    return draw_dt.replace(tzinfo=UTC)


#: A value of each field kind that passes that kind's check.
KIND_VALUES = {
    Kind.STRING: st.text(min_size=1, max_size=30),
    Kind.IDENTIFIER: st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.:@/\-]{0,30}\Z"),
    Kind.IP_ADDRESS: st.ip_addresses().map(str),
    Kind.NODE: st.sampled_from(["web1@h", "node-2", "db.x@host-1"]),
    Kind.INTEGER: st.integers(min_value=-5, max_value=10**6),
    Kind.NUMBER: st.one_of(st.integers(-5, 10**6), st.floats(-1e6, 1e6)),
    Kind.BOOLEAN: st.booleans(),
    Kind.OBJECT: st.dictionaries(
        st.text(max_size=8), st.integers() | st.text(max_size=8)
    ),
    Kind.ARRAY: st.lists(st.integers() | st.text(max_size=8), max_size=4),
    Kind.DATETIME: st.datetimes().map(_aware),
    Kind.ANY: st.integers() | st.text(max_size=8),
}


def field_value(field: catalogue.Field) -> st.SearchStrategy[Any]:
    """A plausible value for ``field`` (its choices, or its kind), or junk."""
    if field.choices:
        plausible = st.sampled_from(field.choices)
    elif field.items is not None:
        item = KIND_VALUES[field.items]
        plausible = st.lists(item, max_size=3) | st.dictionaries(
            st.text(max_size=5), item
        )
    else:
        plausible = KIND_VALUES[field.kind]
    return st.one_of(plausible, plausible, junk)


@st.composite
def call_arguments(draw, function, payload_type: catalogue.PayloadType | None = None):
    """Positional arguments for ``function``'s required parameters, and keyword options
    (never one of its named parameters: giving one twice is Python's error, not input)."""
    args = []
    parameters = inspect.signature(function).parameters
    for name, parameter in parameters.items():
        if parameter.kind is not parameter.POSITIONAL_OR_KEYWORD:
            continue
        if parameter.default is not parameter.empty and draw(st.booleans()):
            break
        field = payload_type.field_map.get(name) if payload_type else None
        if field is not None:
            args.append(draw(field_value(field)))
        elif name in ("nodes", "failed_nodes"):
            args.append(draw(node_lists | junk))
        else:
            args.append(draw(argument))
    if payload_type is not None:
        fields = st.sampled_from(payload_type.fields).flatmap(
            lambda f: st.tuples(st.just(f.name), field_value(f))
        )
        kwargs = dict(draw(st.lists(fields, max_size=4)))
    else:
        kwargs = draw(options)
    return args, {k: v for k, v in kwargs.items() if k not in parameters}


# --- the property --------------------------------------------------------------------------


def _last_id() -> int:
    return Message.objects.order_by("-id").values_list("id", flat=True).first() or 0


def assert_stored_rows_are_valid(after_id: int) -> int:
    """Every row stored after ``after_id`` reads back, round-trips and re-validates."""
    rows = list(Message.objects.filter(id__gt=after_id))
    for row in rows:
        wire = row.to_wire()
        assert wire["signature_valid"] is True
        envelope = Envelope.from_wire(wire)
        assert envelope == row.envelope
        payload_type = catalogue.get_type(row.payload_type)
        assert set(envelope.payload) == set(payload_type.field_names)
        payload_type.clean(envelope.payload)  # raises if the stored payload is invalid
        assert json.loads(json.dumps(wire)) == wire
    return len(rows)


def ends_well(call) -> BroadcastResult | BatchResult | None:
    """Run ``call``: a result or ``InvalidMessage``, never another exception; nothing
    invalid stored (and nothing at all on ``InvalidMessage``)."""
    before = _last_id()
    try:
        result = call()
    except InvalidMessage as exc:
        assert exc.errors and all(exc.errors.values())  # names a field and a reason
        assert _last_id() == before
        return None
    results = result.results if isinstance(result, BatchResult) else [result]
    for one in results:
        assert isinstance(one, BroadcastResult)
        assert one.status in ("ok", "disabled", "error")
        assert (one.message is not None) == (one.status == "ok")
    stored = assert_stored_rows_are_valid(before)
    assert stored == sum(r.status == "ok" for r in results)
    return result


BROADCAST_FUNCTIONS = sorted(
    name
    for name in pubsub.__all__
    if name.startswith("broadcast_") and name not in ("broadcast_batch",)
)


def test_every_public_broadcast_function_is_fuzzed():
    defined = sorted(
        name
        for name, function in inspect.getmembers(pubsub, inspect.isfunction)
        if name.startswith("broadcast_")
        and name != "broadcast_batch"
        and function.__module__ == pubsub.__name__
    )
    assert defined == BROADCAST_FUNCTIONS
    assert len(defined) == 13  # the original ten, security, log entries, typed


@pytest.mark.django_db
@pytest.mark.parametrize("name", BROADCAST_FUNCTIONS)
@given(data=st.data())
def test_broadcast_functions_end_in_a_result_or_invalid_message(name, data):
    function = getattr(pubsub, name)
    args, kwargs = data.draw(call_arguments(function))
    if name == "broadcast_security_event":
        args = [
            data.draw(st.sampled_from(list(builders.SECURITY_EVENT_TYPES)) | argument)
        ]
        fields = sorted(
            {f.name for t in builders.SECURITY_EVENT_TYPES.values() for f in t.fields}
        )
        kwargs = data.draw(
            st.dictionaries(st.sampled_from(fields), argument, max_size=6)
        )
    ends_well(lambda: function(*args, **kwargs))


CONSTRUCTORS = sorted(
    (module.__name__.rsplit(".", 1)[1], name, function)
    for module in (
        catalogue.alerts,
        catalogue.audit,
        catalogue.diagnostics,
        catalogue.health,
        catalogue.lifecycle,
        catalogue.logs,
        catalogue.metrics,
        catalogue.security,
        catalogue.system,
    )
    for name, function in inspect.getmembers(module, inspect.isfunction)
    if function.__module__ == module.__name__
    and not name.startswith("_")
    and name != "log_level"
)
TYPE_BY_CONSTRUCTOR = {
    re.sub(r"(?<!^)(?=[A-Z])", "_", t.name).lower(): t for t in all_types()
}


def test_every_payload_type_has_a_fuzzed_constructor():
    assert sorted(name for _, name, _ in CONSTRUCTORS) == sorted(TYPE_BY_CONSTRUCTOR)
    assert len(CONSTRUCTORS) == 36


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("module", "name", "constructor"), CONSTRUCTORS, ids=[c[1] for c in CONSTRUCTORS]
)
@given(data=st.data())
def test_broadcast_of_any_constructed_payload_ends_well(
    module, name, constructor, data
):
    payload_type = TYPE_BY_CONSTRUCTOR[name]
    args, kwargs = data.draw(call_arguments(constructor, payload_type))
    envelope_options = data.draw(options)

    def build_and_broadcast():
        return pubsub.broadcast(constructor(*args, **kwargs), **envelope_options)

    ends_well(build_and_broadcast)


@st.composite
def batch_events(draw):
    events = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from([*pubsub.BATCH_KINDS, "junk"]))
        if kind == "junk":
            events.append(draw(junk))
        elif kind == "payload":
            events.append(("payload", draw(argument)))
        else:
            args, _ = draw(call_arguments(pubsub.BATCH_KINDS[kind]))
            events.append((kind, *args))
    return events


@pytest.mark.django_db
@given(events=batch_events(), shared=options)
def test_broadcast_batch_ends_well(events, shared):
    ends_well(lambda: pubsub.broadcast_batch(events, **shared))


@pytest.mark.django_db
@given(events=batch_events())
def test_broadcast_batch_disabled_stores_nothing(events):
    pubsub.disable()
    result = ends_well(lambda: pubsub.broadcast_batch(events))
    assert result is None or result.disabled or not events


# --- oversized payloads ----------------------------------------------------------------


@pytest.mark.django_db
@given(extra=st.integers(min_value=-200, max_value=200))
def test_payloads_over_max_payload_bytes_are_refused_naming_the_payload(
    settings, extra
):
    limit = 4096
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "MAX_PAYLOAD_BYTES": limit}
    payload = catalogue.diagnostics.debug_trace("c", "dump", {"blob": "x" * 3900})
    size = len(json.dumps(payload.to_json(), separators=(",", ":")).encode())
    payload = catalogue.diagnostics.debug_trace(
        "c", "dump", {"blob": "x" * (3900 + limit - size + extra)}
    )
    before = _last_id()
    if extra > 0:
        with pytest.raises(InvalidMessage) as refused:
            pubsub.broadcast(payload)
        assert list(refused.value.errors) == ["payload"]
        assert f"the limit is {limit}" in refused.value.errors["payload"][0]
        assert _last_id() == before
    else:
        assert pubsub.broadcast(payload).status == "ok"


# --- helpers --------------------------------------------------------------------------


def _valid_or_invalid(call) -> object:
    try:
        return call()
    except InvalidMessage as exc:
        assert exc.errors
        return exc


@given(
    message=junk | mappings, required=st.lists(st.sampled_from(VOCABULARY), max_size=4)
)
def test_validate_operational_fields_and_message_end_well(message, required):
    _valid_or_invalid(lambda: helpers.validate_operational_fields(message, required))
    _valid_or_invalid(lambda: helpers.validate_operational_message(message, required))


@given(message=junk | mappings)
def test_validate_node_fields_ends_well(message):
    _valid_or_invalid(lambda: helpers.validate_node_fields(message))


def _not_names(value: object) -> bool:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return True
    return not all(isinstance(name, str) for name in value)


@given(required=junk.filter(_not_names))
def test_required_fields_that_are_not_a_list_of_names_are_a_type_error(required):
    with pytest.raises(
        TypeError, match="required_fields must be a list of field names"
    ):
        helpers.validate_operational_fields({}, required)


@given(value=junk)
def test_timestamp_validators_end_well(value):
    for function in (
        helpers.parse_timestamp,
        helpers.truncate_to_milliseconds,
        helpers.format_timestamp,
    ):
        _valid_or_invalid(lambda f=function: f(value))


@given(value=junk)
def test_node_names_and_options_end_well(value):
    assert helpers.is_node_name(value) in (True, False)
    for function in (
        helpers.get_node,
        helpers.get_source_node,
        helpers.get_originating_node,
    ):
        _valid_or_invalid(lambda f=function: f(value))
        _valid_or_invalid(lambda f=function: f({"node": value, "source_node": value}))


@pytest.mark.django_db
@given(value=junk)
def test_enrich_metadata_ends_well(value):
    _valid_or_invalid(lambda: helpers.enrich_metadata(value))


@given(value=junk)
def test_log_level_maps_or_passes_through(value):
    level = logs.log_level(value)
    assert level in logs.LOG_LEVELS or level is value or isinstance(value, str)


# --- WebSocket frames through a real server ------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
    ),
    max_leaves=8,
)
subscribe_like = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["subscribe", "unsubscribe", "ping", "dance"])
        | json_values
    },
    optional={
        "category": st.sampled_from([*Category.values, "events", "x"]) | json_values,
        "topic": st.sampled_from(["cluster:health", "a b", "x" * 300]) | json_values,
        "since": st.integers(-5, 10) | json_values,
        "filters": st.dictionaries(
            st.sampled_from(["node", "severity", "colour"]),
            st.sampled_from(["web1@h", "warning", "huge"]) | json_values,
        )
        | json_values,
    },
)
frames = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    json_values.map(json.dumps),
    subscribe_like.map(json.dumps),
    subscribe_like.map(lambda d: json.dumps(d)[:-1]),  # cut short
)
FRAME_TYPES = {
    "subscribed",
    "unsubscribed",
    "message",
    "error",
    "pong",
    "behind",
    "resume",
}


@pytest.fixture(scope="module")
def fuzzed_server():
    with live_asgi_server() as address:
        yield address


@pytest.fixture
def connection(fuzzed_server, transactional_db):
    admin = User.objects.create_superuser("fuzz", password="pw")
    pubsub.broadcast_alert("fuzz", "info", "one stored message to replay")
    with ws_connect(fuzzed_server, admin) as ws:
        yield ws
        send(ws, {"action": "ping"})
        assert _answers_until_pong(ws)


def _answers_until_pong(ws) -> list[dict]:
    answers = []
    while True:
        frame = receive(ws, 5)
        assert isinstance(frame, dict) and frame.get("type") in FRAME_TYPES, frame
        if frame["type"] == "error":
            assert isinstance(frame["code"], str) and isinstance(frame["detail"], str)
            assert frame["detail"]
        answers.append(frame)
        if frame["type"] == "pong":
            return answers


@given(frame=frames)
def test_any_frame_gets_answers_and_the_connection_keeps_answering_ping(
    connection, frame
):
    try:
        connection.send(frame)
        send(connection, {"action": "ping"})
        _answers_until_pong(connection)
    except (
        ConnectionClosed
    ) as closed:  # pragma: no cover - the failure being looked for
        pytest.fail(f"the server closed the connection: {closed!r} after {frame!r}")


@given(size=st.integers(min_value=16_385, max_value=200_000))
def test_frames_over_ws_max_frame_bytes_are_refused_with_frame_too_large(
    connection, size
):
    connection.send(json.dumps({"action": "ping", "pad": "x" * size}))
    answer = receive(connection, 5)
    assert (answer["type"], answer["code"]) == ("error", "frame_too_large")
    assert answer["detail"] == "frames are limited to 16384 bytes"
