"""Node fields, millisecond timestamps, validation helpers and ids."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import override_settings

from opsmessaging import helpers
from opsmessaging.catalogue import system
from opsmessaging.exceptions import (
    InvalidMessage,
    InvalidNodeFields,
    InvalidTimestamp,
    MissingFields,
)


@override_settings(OPSMESSAGING={"NODE_NAME": "web1@h"})
@pytest.mark.parametrize(
    "getter", [helpers.get_node, helpers.get_source_node, helpers.get_originating_node]
)
def test_node_getters_default_to_this_node(getter):
    assert getter() == "web1@h"
    assert getter({}) == "web1@h"


@pytest.mark.parametrize(
    ("getter", "option"),
    [
        (helpers.get_node, "node"),
        (helpers.get_source_node, "source_node"),
        (helpers.get_originating_node, "originating_node"),
    ],
)
def test_node_getters_prefer_their_option(getter, option):
    assert getter({option: "custom_node", "other": "x"}) == "custom_node"


@override_settings(OPSMESSAGING={})
def test_default_node_name_is_the_role_at_hostname(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "app server 3")
    # A process that serves nothing (a shell, a command, the tests) is a command.
    assert helpers.this_node() == "command@app-server-3"
    assert helpers.is_node_name(helpers.this_node())


def test_current_timestamp_is_utc_truncated_to_milliseconds():
    before = datetime.now(UTC)
    value = helpers.current_timestamp()
    after = datetime.now(UTC)
    assert value.tzinfo is UTC
    assert value.microsecond % 1000 == 0
    assert before - timedelta(milliseconds=1) < value <= after


def test_truncate_converts_to_utc_and_rejects_naive():
    local = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=timezone(timedelta(hours=2)))
    assert helpers.truncate_to_milliseconds(local) == datetime(
        2026, 1, 2, 1, 4, 5, 678_000, tzinfo=UTC
    )
    with pytest.raises(InvalidTimestamp):
        helpers.truncate_to_milliseconds(datetime(2026, 1, 2))


def test_format_timestamp_has_three_fractional_digits_and_z():
    assert (
        helpers.format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 7_999, tzinfo=UTC))
        == "2026-01-02T03:04:05.007Z"
    )
    assert (
        helpers.format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
        == "2026-01-02T03:04:05.000Z"
    )


def test_parse_timestamp_round_trips_and_requires_an_offset():
    value = datetime(2026, 1, 2, 3, 4, 5, 7_000, tzinfo=UTC)
    assert helpers.parse_timestamp(helpers.format_timestamp(value)) == value
    with pytest.raises(InvalidTimestamp) as error:
        helpers.parse_timestamp("2026-01-02T03:04:05")
    assert "no UTC offset" in str(error.value)
    with pytest.raises(InvalidTimestamp):
        helpers.parse_timestamp("yesterday")


@pytest.mark.parametrize(
    "name", ["node1", "web1@app-3", "django@vm.local", "n_1.a-b@h_2"]
)
def test_is_node_name_accepts(name):
    assert helpers.is_node_name(name)


@pytest.mark.parametrize(
    "name", ["", " ", "a b", "@host", "a@", "a@b@c", "-x", None, 7, "x" * 256]
)
def test_is_node_name_refuses(name):
    assert not helpers.is_node_name(name)


def test_validate_operational_fields_reports_missing_ones_but_not_false():
    assert helpers.validate_operational_fields({"a": False, "b": 0}, ["a", "b"]) == {
        "a": False,
        "b": 0,
    }
    with pytest.raises(MissingFields) as error:
        helpers.validate_operational_fields({"a": None}, ["a", "b"])
    assert error.value.errors == {
        "a": ["this field is required"],
        "b": ["this field is required"],
    }
    assert error.value.default_code == "missing_fields"


def test_validate_operational_fields_requires_a_list():
    with pytest.raises(TypeError):
        helpers.validate_operational_fields({}, "a")


def test_validate_operational_fields_accepts_payloads_and_dataclasses():
    @dataclass
    class Legacy:
        event: str | None

    payload = system.system_lifecycle("started", "s", "1")
    assert helpers.validate_operational_fields(payload, ["event"]) is payload
    with pytest.raises(MissingFields):
        helpers.validate_operational_fields(Legacy(None), ["event"])


def test_validate_node_fields_allows_missing_and_names_bad_ones():
    assert helpers.validate_node_fields({"node": "n1"}) == {"node": "n1"}
    with pytest.raises(InvalidNodeFields) as error:
        helpers.validate_node_fields(
            {"node": "n1", "source_node": "", "originating_node": 5}
        )
    assert list(error.value.errors) == ["source_node", "originating_node"]


def test_validate_operational_message_runs_the_three_checks():
    good = {"event": "x", "node": "n1", "timestamp": helpers.current_timestamp()}
    assert helpers.validate_operational_message(good, ["event"]) is good
    with pytest.raises(MissingFields) as missing:
        helpers.validate_operational_message({"event": "x"}, ["event"])
    assert list(missing.value.errors) == ["timestamp"]
    with pytest.raises(InvalidNodeFields):
        helpers.validate_operational_message({**good, "node": "bad node"}, ["event"])
    with pytest.raises(InvalidTimestamp) as not_datetime:
        helpers.validate_operational_message({**good, "timestamp": "2026"}, ["event"])
    assert "not_datetime" in str(not_datetime.value)
    with pytest.raises(InvalidTimestamp):
        helpers.validate_operational_message(
            {**good, "timestamp": datetime(2026, 1, 1)}, ["event"]
        )


def test_validation_errors_are_value_errors():
    assert issubclass(InvalidMessage, ValueError)
    assert issubclass(MissingFields, InvalidMessage)


@pytest.mark.parametrize(
    ("generate", "prefix"),
    [(helpers.generate_message_id, "msg"), (helpers.generate_operational_id, "op")],
)
def test_generated_ids_have_prefix_microseconds_and_six_url_safe_characters(
    generate, prefix
):
    before = int(datetime.now(UTC).timestamp() * 1_000_000)
    value = generate()
    after = int(datetime.now(UTC).timestamp() * 1_000_000)
    match = re.fullmatch(rf"{prefix}_(\d+)_([A-Za-z0-9_-]{{6}})", value)
    assert match is not None, value
    assert before - 1 <= int(match.group(1)) <= after + 1
    assert generate("custom").startswith("custom_")
    assert len({generate() for _ in range(200)}) == 200


@pytest.mark.django_db
def test_enrich_metadata_adds_cluster_context_and_meta_wins():
    meta = helpers.enrich_metadata({"a": 1, "cluster_context": "mine"})
    assert meta == {"a": 1, "cluster_context": "mine"}
    assert set(helpers.enrich_metadata()["cluster_context"]) == {
        "node_name",
        "connected_nodes",
        "cluster_size",
        "node_type",
    }
