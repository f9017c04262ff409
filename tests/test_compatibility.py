"""The compatibility status shared by the API and ``opsmessaging_check``."""

from __future__ import annotations

import pytest
from django.core.checks import Error, Warning
from django.test import override_settings

from opsmessaging import compatibility

pytestmark = pytest.mark.django_db


def test_a_healthy_setup_is_compatible_with_no_checks():
    result = compatibility.compatibility_status()
    assert result["compatible"] is True
    assert result["checks"] == []
    assert result["report"]["gater_integration"]["payload_types"] == 36


def test_the_report_is_plain_json_with_wire_timestamps():
    report = compatibility.compatibility_status()["report"]
    stamp = report["timestamp_precision"]["datetime_format"]
    assert isinstance(stamp, str)
    assert stamp.endswith("Z")
    assert len(stamp) == 24


def test_an_error_check_makes_it_incompatible():
    with override_settings(OPSMESSAGING={"API_WRITE_THROTTLE_RATE": "fast"}):
        result = compatibility.compatibility_status()
    assert result["compatible"] is False
    assert [c["id"] for c in result["checks"]] == ["opsmessaging.E303"]


def test_a_warning_check_leaves_it_compatible():
    with override_settings(OPSMESSAGING={"NODE_NAMES": "x"}):
        result = compatibility.compatibility_status()
    assert result["compatible"] is True
    assert result["checks"] == [
        {
            "id": "opsmessaging.W001",
            "level": "warning",
            "message": "OPSMESSAGING has an unknown key 'NODE_NAMES'; it is ignored.",
            "hint": "Did you mean 'NODE_NAME'?",
        }
    ]


def test_a_failing_report_makes_it_incompatible(monkeypatch):
    monkeypatch.setattr(
        compatibility,
        "validate_messaging_compatibility",
        lambda: {"operational_helpers": {"error": "boom"}},
    )
    result = compatibility.compatibility_status()
    assert result["compatible"] is False
    assert result["report"] == {"operational_helpers": {"error": "boom"}}


def test_describe_check_gives_each_level_its_name():
    assert compatibility.describe_check(Error("bad", hint="fix", id="x.E1")) == {
        "id": "x.E1",
        "level": "error",
        "message": "bad",
        "hint": "fix",
    }
    assert compatibility.describe_check(Warning("meh"))["level"] == "warning"


def test_the_projects_other_checks_do_not_count():
    from django.core.checks.registry import registry

    def project_check(app_configs=None, **kwargs):
        return [Error("not ours", id="project.E001")]

    registry.register(project_check)
    try:
        result = compatibility.compatibility_status()
    finally:
        registry.registered_checks.discard(project_check)
    assert result["compatible"] is True
    assert result["checks"] == []
