"""Serializers: the error flattening every 400 goes through, and the documented shapes."""

from __future__ import annotations

import pytest

from opsmessaging.api.serializers import (
    CloudEventSerializer,
    MessageSerializer,
    flatten_errors,
)
from opsmessaging.cloudevents import to_cloudevent
from opsmessaging.envelope import WIRE_FIELDS
from tests.api.conftest import alert


def test_flatten_errors_names_nested_fields_with_dots_and_indexes():
    detail = {
        "events": {1: {"type": ["required"], "payload": {"x": ["bad"]}}},
        "limit": ["too big"],
    }
    assert flatten_errors(detail) == {
        "events[1].type": ["required"],
        "events[1].payload.x": ["bad"],
        "limit": ["too big"],
    }


def test_flatten_errors_skips_the_valid_items_of_a_list():
    assert flatten_errors({"events": [{}, {"type": ["required"]}]}) == {
        "events[1].type": ["required"]
    }


def test_flatten_errors_of_a_bare_message():
    assert flatten_errors(["not an object"]) == {"non_field_errors": ["not an object"]}


def test_the_message_serializer_documents_exactly_the_wire_fields():
    assert list(MessageSerializer().fields) == list(WIRE_FIELDS)


@pytest.mark.django_db
def test_the_cloudevent_serializer_documents_exactly_the_cloudevent_keys():
    event = to_cloudevent(alert("one").to_wire())
    assert set(CloudEventSerializer().fields) == set(event)
