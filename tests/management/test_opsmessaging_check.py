"""``manage.py opsmessaging_check``."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("opsmessaging_check", *args, stdout=out, no_color=True)
    return out.getvalue()


def test_check_prints_the_report_and_passes_when_compatible():
    output = run()
    lines = output.splitlines()
    assert lines[0] == "operational_helpers"
    assert "  node_helper: true" in lines
    assert lines[-3:] == ["system checks", "  none", "compatible"]


def test_check_json_is_the_compatibility_status():
    status = json.loads(run("--json"))
    assert status["compatible"] is True
    assert status["checks"] == []


def test_check_fails_with_exit_status_1_and_says_why():
    out = StringIO()
    with (
        override_settings(OPSMESSAGING={"API_MAX_BATCH_SIZE": -5}),
        pytest.raises(CommandError) as caught,
    ):
        call_command("opsmessaging_check", stdout=out, no_color=True)
    assert caught.value.returncode == 1
    assert str(caught.value) == "operational messaging is not compatible"
    assert out.getvalue().splitlines()[-4:] == [
        "system checks",
        "  opsmessaging.E301 (error): OPSMESSAGING['API_MAX_BATCH_SIZE'] must be a "
        "positive integer, not -5.",
        "    hint: The default is 500.",
        "NOT compatible",
    ]
