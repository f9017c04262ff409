"""Request bodies: JSON bounded in depth; bodies over Django's size limit are a 413."""

from __future__ import annotations

import io

import pytest
from rest_framework.exceptions import ParseError

from opsmessaging.api.parsers import (
    MAX_JSON_DEPTH,
    BoundedJSONParser,
    RequestTooLarge,
    nesting_depth,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        (1, 0),
        ("text", 0),
        ([], 1),
        ({"a": 1}, 1),
        ({"a": [1, {"b": []}], "c": {}}, 4),
        ([[], [[[]]], {}], 4),
    ],
)
def test_nesting_depth_counts_arrays_and_objects(value, depth):
    assert nesting_depth(value) == depth


def test_nesting_depth_stops_counting_past_the_limit():
    value: list = []
    for _ in range(100_000):  # far deeper than Python's recursion limit
        value = [value]
    assert nesting_depth(value, limit=10) == 11


def parse(text: str):
    return BoundedJSONParser().parse(
        io.BytesIO(text.encode()), "application/json", {"encoding": "utf-8"}
    )


def test_the_parser_accepts_json_nested_to_the_limit():
    assert nesting_depth(parse(nested(MAX_JSON_DEPTH))) == MAX_JSON_DEPTH


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 500, 100_000])
def test_the_parser_refuses_json_nested_deeper_than_the_limit(depth):
    with pytest.raises(ParseError) as raised:
        parse(nested(depth))
    assert str(raised.value.detail) == (
        f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep."
    )


def test_request_too_large_names_the_size_and_the_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    error = RequestTooLarge.over_limit("5000")
    assert (error.status_code, error.default_code) == (413, "request_too_large")
    assert str(error.detail) == (
        "5000 bytes is over the limit of 1000 bytes (DATA_UPLOAD_MAX_MEMORY_SIZE): "
        "send fewer or smaller events."
    )
    assert str(RequestTooLarge.over_limit(None).detail).startswith(
        "The request body is over the limit of 1000 bytes"
    )
