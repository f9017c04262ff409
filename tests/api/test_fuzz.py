"""Hostile input to the HTTP API: generated bodies and query strings never cause a 5xx.

Property-based (hypothesis) through the Django test client, which re-raises any
exception a view lets escape: every request ends as an answer the API documents (2xx, or a
4xx whose JSON names what was wrong), a refused broadcast stores nothing, and an accepted
one is stored exactly as answered. Bodies over Django's size limit get a 413.
"""

from __future__ import annotations

import http.client
import json
import os
from datetime import UTC
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from opsmessaging.api.filters import MessageQuerySerializer
from opsmessaging.api.parsers import MAX_JSON_DEPTH
from opsmessaging.api.serializers import PAYLOAD_TYPE_NAMES
from opsmessaging.catalogue import Kind, get_type
from opsmessaging.catalogue.base import Field
from opsmessaging.models import Message
from tests.api.conftest import URL, alert, client_for, health
from tests.live import live_asgi_server

pytestmark = pytest.mark.django_db

#: Examples per property, the same ones every run; ``OPSMESSAGING_FUZZ_EXAMPLES=5000``
#: (for example) runs that many new ones each time.
EXAMPLES = int(os.environ.get("OPSMESSAGING_FUZZ_EXAMPLES", "0")) or 100
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="OPSMESSAGING_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
no_throttle = override_settings(OPSMESSAGING={"API_WRITE_THROTTLE_RATE": None})

# --- strategies -------------------------------------------------------------------------

#: Text as hostile as it gets: NUL, controls, astral characters, long runs.
texts = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["", "\x00", "a\x00b", " ", "é" * 300, "𝔘" * 10, "../../etc", "1e309", "-1"]
)
numbers = st.integers(-(2**70), 2**70) | st.floats()
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4)
    ),
    max_leaves=12,
)
names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
nodes = st.from_regex(r"[a-z][a-z0-9]{0,8}(@[a-z0-9]{1,8})?", fullmatch=True)


def plausible(kind: Kind, field: Field | None = None) -> st.SearchStrategy[Any]:
    """Values a client would send for a field of ``kind`` (often valid)."""
    if field is not None and field.choices:
        return st.sampled_from(field.choices)
    low = None if field is None else field.minimum
    high = None if field is None else field.maximum
    items = None if field is None else field.items
    return {
        Kind.STRING: st.text(min_size=1, max_size=20),
        Kind.IDENTIFIER: names,
        Kind.IP_ADDRESS: st.ip_addresses().map(str),
        Kind.NODE: nodes,
        Kind.INTEGER: st.integers(
            int(low) if low is not None else -1000,
            int(high) if high is not None else 10**6,
        ),
        Kind.NUMBER: st.floats(
            low if low is not None else -1e6,
            high if high is not None else 1e6,
        ),
        Kind.BOOLEAN: st.booleans(),
        Kind.OBJECT: st.dictionaries(
            names, plausible(items) if items else json_values, max_size=3
        ),
        Kind.ARRAY: st.lists(plausible(items) if items else json_values, max_size=3),
        Kind.DATETIME: st.datetimes(timezones=st.just(UTC)).map(
            lambda moment: moment.isoformat()
        ),
        Kind.ANY: json_values,
    }[kind]


@st.composite
def payloads(draw: st.DrawFn, type_name: str, hostile: bool) -> dict[str, Any]:
    """A payload of ``type_name``: its required fields and some others; when
    ``hostile``, maybe one field spoiled or an unknown one added."""
    payload: dict[str, Any] = {}
    for field in get_type(type_name).fields:
        if field.required or draw(st.integers(0, 3)) == 0:
            payload[field.name] = draw(plausible(field.kind, field))
    if hostile and payload and draw(st.booleans()):
        payload[draw(st.sampled_from(sorted(payload)))] = draw(json_values)
    if hostile and draw(st.integers(0, 3)) == 0:
        payload[draw(texts)] = draw(json_values)
    return payload


@st.composite
def broadcasts(draw: st.DrawFn, hostile: bool | None = None) -> Any:
    """A broadcast body, well made or (``hostile``, half of them by default) with
    hostile values, a wrong shape or anything at all."""
    if hostile is None:
        hostile = draw(st.booleans())
    if hostile and draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    type_name = draw(st.sampled_from(PAYLOAD_TYPE_NAMES))
    body: dict[str, Any] = {
        "type": type_name,
        "payload": draw(payloads(type_name, hostile)),
    }
    if hostile and draw(st.integers(0, 5)) == 0:
        body["type"] = draw(json_values)
    if hostile and draw(st.integers(0, 5)) == 0:
        del body["payload"]
    for option in ("topic", "category", "node", "source_node", "originating_node"):
        if draw(st.integers(0, 5)) == 0:
            body[option] = draw(names | nodes | json_values if hostile else nodes)
    if hostile and draw(st.integers(0, 5)) == 0:
        body[draw(texts)] = draw(json_values)
    return body


@st.composite
def batches(draw: st.DrawFn) -> Any:
    """A batch body: well-made events, events with one hostile among them, or anything."""
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return draw(json_values)
    events = draw(st.lists(broadcasts(hostile=False), max_size=5))
    if shape == 1:
        events.insert(draw(st.integers(0, len(events))), draw(broadcasts(hostile=True)))
    return {"events": events}


queries = st.dictionaries(
    st.sampled_from([*MessageQuerySerializer().fields, "limit", "cursor", "format"])
    | texts,
    texts
    | numbers.map(str)
    | nodes
    | st.sampled_from(["csv", "cloudevents", "oldest", "alerts", "1", "0"]),
    max_size=5,
)


def encode(value: Any) -> bytes:
    """Encode like a careless client: NaN and infinities as bare words."""
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def nested(depth: int, inner: str = "1") -> str:
    return '{"a":' * depth + inner + "}" * depth


# --- fixtures and checks --------------------------------------------------------------


@pytest.fixture
def admin_client(django_user_model):
    alert("one")
    health()
    return client_for(django_user_model.objects.create_superuser("fuzz", password=None))


def post(client, path: str, body: bytes):
    return client.post(URL + path, body, content_type="application/json")


def assert_refusal_names_fields(response) -> None:
    body = json.loads(response.content)
    assert isinstance(body, dict) and body, body
    for field, reasons in body.items():
        assert isinstance(field, str)
        assert isinstance(reasons, list) and reasons, body
        assert all(isinstance(reason, str) and reason for reason in reasons), body


def assert_stored_once_or_refused(response, before: int, stored: int) -> None:
    assert response.status_code in (201, 400), response.content
    event(f"HTTP {response.status_code}")
    if response.status_code == 201:
        assert Message.objects.count() == before + stored
    else:
        assert_refusal_names_fields(response)
        assert Message.objects.count() == before


# --- properties -----------------------------------------------------------------------


@no_throttle
@fuzz
@given(body=broadcasts())
def test_a_generated_broadcast_is_stored_or_refused_naming_the_field(
    admin_client, body
):
    before = Message.objects.count()
    response = post(admin_client, "messages/", encode(body))
    assert_stored_once_or_refused(response, before, 1)
    if response.status_code == 201:
        wire = json.loads(response.content)
        assert Message.objects.get(id=wire["id"]).to_wire() == wire


@no_throttle
@fuzz
@given(body=batches())
def test_a_generated_batch_is_stored_whole_or_refused_naming_the_field(
    admin_client, body
):
    before = Message.objects.count()
    response = post(admin_client, "messages/batch/", encode(body))
    events = body["events"] if response.status_code == 201 else []
    assert_stored_once_or_refused(response, before, len(events))
    if response.status_code == 201:
        ids = [r["message"]["id"] for r in json.loads(response.content)["results"]]
        stored = Message.objects.filter(id__in=ids).order_by("id")
        assert [m.payload_type for m in stored] == [e["type"] for e in events]


@no_throttle
@fuzz
@given(
    body=st.binary(max_size=200),
    path=st.sampled_from(["messages/", "messages/batch/"]),
)
def test_generated_bytes_are_refused_as_a_bad_body(admin_client, body, path):
    before = Message.objects.count()
    response = post(admin_client, path, body)
    assert response.status_code == 400, response.content
    assert_refusal_names_fields(response)
    assert Message.objects.count() == before


@no_throttle
@fuzz
@given(
    depth=st.integers(1, 5000),
    where=st.sampled_from(["body", "payload", "metadata", "events"]),
)
def test_deeply_nested_json_is_stored_or_refused_never_a_crash(
    admin_client, depth, where
):
    alert = '"severity": "info", "category": "system", "title": "t", "source": "s"'
    inner = nested(depth)
    # Each case: the path, the body, and how deep the body's nesting is.
    path, body, total = {
        "body": ("messages/", inner, depth),
        "payload": ("messages/", f'{{"type": "SystemAlert", "payload": {inner}}}', 1),
        "metadata": (
            "messages/",
            f'{{"type": "SystemAlert", "payload": {{{alert}, "metadata": {inner}}}}}',
            2,
        ),
        "events": ("messages/batch/", f'{{"events": [{inner}]}}', 2),
    }[where]
    total += 0 if where == "body" else depth
    before = Message.objects.count()
    response = post(admin_client, path, body.encode())
    assert_stored_once_or_refused(response, before, 1)
    too_deep = {
        "non_field_errors": [
            f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep."
        ]
    }
    refused_for_depth = json.loads(response.content) == too_deep
    assert refused_for_depth == (total > MAX_JSON_DEPTH)


@fuzz
@given(query=queries)
def test_a_generated_history_query_is_answered_or_refused_naming_the_parameter(
    admin_client, query
):
    response = admin_client.get(URL + "messages/", query)
    assert response.status_code in (200, 400, 404), response.content
    event(f"HTTP {response.status_code}")
    if response.status_code == 400:
        assert_refusal_names_fields(response)


@fuzz
@given(
    segment=texts.filter(lambda s: s not in ("", ".", "..")),
    resource=st.sampled_from(["messages", "types"]),
)
def test_a_generated_resource_name_is_found_or_not_found(
    admin_client, segment, resource
):
    response = admin_client.get(f"{URL}{resource}/{quote(segment, safe='')}/")
    assert response.status_code in (200, 404), response.content


# --- oversized bodies -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["messages/", "messages/batch/"])
def test_a_body_over_the_upload_limit_is_refused_with_413_naming_the_limit(
    admin_client, settings, path
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = encode({"type": "SystemAlert", "payload": {"title": "x" * 20_000}})
    before = Message.objects.count()
    response = post(admin_client, path, body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "detail": f"{len(body)} bytes is over the limit of 10000 bytes "
        "(DATA_UPLOAD_MAX_MEMORY_SIZE): send fewer or smaller events."
    }
    assert Message.objects.count() == before


def test_a_payload_over_max_payload_bytes_is_refused_naming_the_payload(admin_client):
    before = Message.objects.count()
    body = {
        "type": "SystemAlert",
        "payload": {
            "severity": "info",
            "category": "system",
            "title": "x" * 70_000,
            "source": "s",
        },
    }
    response = post(admin_client, "messages/", encode(body))
    assert response.status_code == 400
    [(field, [reason])] = json.loads(response.content).items()
    assert field == "payload"
    assert reason.endswith("the limit is 65536 (OPSMESSAGING['MAX_PAYLOAD_BYTES'])")
    assert Message.objects.count() == before


def post_chunked(body: bytes, token: str) -> tuple[int, Any]:
    """POST ``body`` to the batch endpoint of a live uvicorn server, chunked (so
    without a Content-Length); return the status and the JSON answer."""
    with live_asgi_server() as address:
        host, port = address.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request(
            "POST",
            URL + "messages/batch/",
            body=iter([body[:100], body[100:]]),
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
            },
            encode_chunked=True,
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
        connection.close()
    return response.status, answer


@pytest.fixture
def live_token(django_user_model, settings) -> str:
    from rest_framework.authtoken.models import Token

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    settings.OPSMESSAGING = {"API_WRITE_THROTTLE_RATE": None}
    user = django_user_model.objects.create_superuser("chunky", password=None)
    return Token.objects.create(user=user).key


def chunked_batch(count: int) -> bytes:
    event = {
        "type": "LogEntry",
        "payload": {"level": "info", "message": "chunk", "module": "m"},
    }
    return encode({"events": [event] * count})


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_by_the_api(live_token):
    status, answer = post_chunked(chunked_batch(3), live_token)
    assert (status, answer.get("success")) == (201, 3), answer
    assert Message.objects.filter(payload__message="chunk").count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_the_limit_is_refused_with_413(live_token):
    body = chunked_batch(300)
    assert len(body) > 10_000
    assert post_chunked(body, live_token) == (
        413,
        {
            "detail": "The request body is over the limit of 10000 bytes "
            "(DATA_UPLOAD_MAX_MEMORY_SIZE): send fewer or smaller events."
        },
    )
    assert not Message.objects.exists()


# --- requests that break the OpenAPI description (schemathesis, negative mode) ---------

#: Loaded when the module is collected: the schema view needs no database.
described = schemathesis.openapi.from_wsgi(
    "/api/schema/", get_wsgi_application()
).include(path_regex=r"/(messages|types/\{name\})")  # the operations that take input
described.config.generation.update(modes=[schemathesis.GenerationMode.NEGATIVE])


@described.parametrize()
@settings(fuzz, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES // 4)
@no_throttle
def test_requests_breaking_the_description_are_refused_never_a_server_error(
    case, fuzz_token
):
    response = case.call(headers={"Authorization": f"Token {fuzz_token}"})
    assert response.status_code < 500, (case.method, case.path, response.text)
    event(f"HTTP {response.status_code}")
