"""``manage.py opsmessaging_tail``: history, filters, formats, and following other processes."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from opsmessaging import pubsub
from opsmessaging.categories import Category
from opsmessaging.helpers import current_timestamp
from opsmessaging.management.commands.opsmessaging_tail import Command, parse_since
from opsmessaging.models import Message

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
NODE = "web1@app-1"


def alert(title: str, severity: str = "critical", **opts) -> Message:
    opts = {"node": NODE, "timestamp": T0, "alert_id": "a1", **opts}
    result = pubsub.broadcast_alert("node_failure", severity, title, {}, **opts)
    assert result.message is not None
    return result.message


def tail(*args: str) -> list[str]:
    out = StringIO()
    call_command("opsmessaging_tail", *args, stdout=out, no_color=True)
    return out.getvalue().splitlines()


def test_tail_shows_recent_messages_oldest_first_one_line_each():
    first = alert("one")
    second = alert("two", severity="warning")
    assert tail() == [
        f"2026-01-02T03:04:05.678Z alerts#{first.sequence} node_failure CRITICAL "
        f"SystemAlert {NODE}: alert_id=a1 severity=critical category=network title=one "
        f"source=opsmessaging metadata={{}} requires_ack=true alert_type=node_failure",
        f"2026-01-02T03:04:05.678Z alerts#{second.sequence} node_failure WARNING "
        f"SystemAlert {NODE}: alert_id=a1 severity=warning category=network title=two "
        f"source=opsmessaging metadata={{}} requires_ack=false alert_type=node_failure",
    ]


def test_tail_colours_lines_by_severity():
    alert("one")
    out = StringIO()
    call_command("opsmessaging_tail", stdout=out, force_color=True)
    assert out.getvalue().startswith("\x1b[31;1m2026-01-02T03:04:05.678Z alerts#1")


def test_tail_json_prints_the_wire_form_per_line():
    made = [alert("one"), alert("two")]
    assert [json.loads(line) for line in tail("--json")] == [m.to_wire() for m in made]


def test_tail_shows_the_last_n():
    made = [alert(f"n{i}") for i in range(5)]
    lines = tail("-n", "2", "--json")
    assert [json.loads(line)["id"] for line in lines] == [made[3].id, made[4].id]
    assert tail("-n", "0") == []


def test_tail_filters_combine():
    alert("one", node="db1@app-2")
    kept = alert("two")
    alert("three", severity="info")
    pubsub.broadcast_health_update("c", "healthy", node=NODE)
    lines = tail(
        "--category", "alerts", "--node", NODE, "--severity", "error", "--json"
    )
    assert [json.loads(line)["id"] for line in lines] == [kept.id]


def test_tail_topic_filter_and_several_categories():
    alert("one", topic="disks")
    status = pubsub.broadcast_health_update("c", "healthy").message
    lines = tail("--category", "alerts", "--category", "health", "--topic", "disks")
    assert len(lines) == 1 and "title=one" in lines[0]
    lines = tail("--category", "health", "--json")
    assert [json.loads(line)["id"] for line in lines] == [status.id]


def test_tail_since_shows_everything_since_then():
    old = alert("old", timestamp=current_timestamp() - timedelta(hours=3))
    made = [alert(f"n{i}", timestamp=current_timestamp()) for i in range(25)]
    ids = [json.loads(line)["id"] for line in tail("--since", "1h", "--json")]
    assert ids == [m.id for m in made]
    assert old.id not in ids


@pytest.mark.parametrize(
    ("value", "ago"),
    [
        ("90", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
    ],
)
def test_since_durations(value, ago):
    assert abs(current_timestamp() - ago - parse_since(value)) < timedelta(seconds=5)


def test_since_a_time():
    assert parse_since("2026-01-02T04:04:05.678+01:00") == T0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--since", "yesterday"], "--since 'yesterday' is neither a duration"),
        (["--lines", "-1"], "-n/--lines must be 0 or more"),
        (["--interval", "0"], "--interval must be a positive number of seconds"),
        (["--severity", "loud"], "invalid choice: 'loud'"),
        (["--category", "events"], "invalid choice: 'events'"),
    ],
)
def test_tail_refuses_bad_options(args, error):
    with pytest.raises(CommandError, match=error):
        tail(*args)


def test_following_shows_only_new_messages_that_match_and_never_twice():
    alert("old")
    command = Command(stdout=StringIO(), no_color=True)
    command.as_json = True
    every = list(Category)
    seen = command._last_sequences(every)

    def matching(rows):
        return rows.matching(category=None)

    new = alert("new")
    pubsub.broadcast_health_update("c", "healthy")
    seen = command._show_new(every, seen, matching)
    seen = command._show_new(every, seen, matching)
    lines = command.stdout.getvalue().splitlines()
    assert [json.loads(line)["id"] for line in lines][0] == new.id
    assert len(lines) == 2
    assert seen["alerts"] == new.sequence


# --- following another process, for real ---------------------------------------------------


def _database_env() -> dict[str, str]:
    """Environment for a subprocess to use this test's database."""
    settings = connection.settings_dict
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")
    }
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(settings["NAME"])
    else:
        password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
        env["DATABASE_URL"] = (
            f"postgres://{settings['USER']}{password}@{settings['HOST']}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}"
        )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _read_until(process: subprocess.Popen, stream, wanted: str, deadline: float) -> str:
    """Read ``stream`` of ``process`` line by line until one contains ``wanted``."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    seen = []
    while time.monotonic() < deadline:
        if selector.select(timeout=0.1):
            line = stream.readline()
            if not line:
                break
            seen.append(line)
            if wanted in line:
                return line
    raise AssertionError(f"{wanted!r} not seen; got {seen!r}, exit {process.poll()}")


@pytest.mark.django_db(transaction=True)
def test_tail_follow_shows_a_message_broadcast_by_another_process():
    env = _database_env()
    manage = [sys.executable, str(ROOT / "manage.py")]
    follower = subprocess.Popen(
        [*manage, "opsmessaging_tail", "--follow", "--json", "--category", "alerts"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60  # generous: only a hang fails this test
        _read_until(follower, follower.stderr, "following new messages", deadline)
        subprocess.run(
            [
                *manage,
                "opsmessaging_broadcast",
                "alerts",
                "SystemAlert",
                "severity=critical",
                "category=network",
                "title=from another process",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        line = _read_until(follower, follower.stdout, "from another process", deadline)
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
    message = json.loads(line)
    assert (message["category"], message["payload"]["title"]) == (
        "alerts",
        "from another process",
    )
    assert message == Message.objects.get(message_id=message["message_id"]).to_wire()
    assert follower.returncode == 0


def test_tail_escapes_terminal_control_characters():
    alert("\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil\nnext")
    (line,) = tail()
    assert line.endswith(
        "title=\\u001b]0;owned\\u0007\\u001b[2J\\u009b31m\\u202eevil\\u000anext "
        "source=opsmessaging metadata={} requires_ack=true alert_type=node_failure"
    )


def test_tail_json_escapes_c1_controls_and_stays_json():
    alert("\x9b31m\u202eevil")
    (line,) = tail("--json")
    assert "\x9b" not in line and "\u202e" not in line
    assert json.loads(line)["payload"]["title"] == "\x9b31m\u202eevil"
