"""The relay: appends that never wait for each other, numbered after commit, gap-free.

Real processes on the real PostgreSQL (``manage.py shell`` children on the test
database): writers with rollbacks, a transaction held open, a writer killed mid
transaction, the relay killed mid-stream and another taking over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from opsmessaging import pubsub, relay
from opsmessaging.models import CategorySequence, Message
from tests.live import ROOT, other_process_env, run_in_other_process

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _child(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=other_process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _sequences(category: str) -> list[int | None]:
    return list(
        Message.objects.filter(category=category)
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )


def _all_numbered() -> bool:
    return not Message.objects.filter(sequence__isnull=True).exists()


@pytest.fixture
def numbering() -> None:
    """This process's relay runs (and leads, once children leave)."""
    relay.ensure_running()


def test_a_broadcast_returns_before_it_is_numbered_and_the_relay_numbers_it(numbering):
    result = pubsub.broadcast_alert("disk", "warning", "first")
    assert result.ok
    assert result.wait_for_sequence(10) == 1
    assert result.sequence == 1
    assert Message.objects.get(pk=result.message.pk).sequence == 1
    assert CategorySequence.objects.get(category="alerts").last_sequence == 1


def test_concurrent_writers_with_rollbacks_leave_contiguous_sequences(numbering):
    # Four processes, each 40 alerts; every fifth inside a transaction rolled back.
    code = (
        "from django.db import transaction\n"
        "from opsmessaging import pubsub\n"
        "class Rollback(Exception): pass\n"
        "for i in range(40):\n"
        "    if i % 5 == 4:\n"
        "        try:\n"
        "            with transaction.atomic():\n"
        "                pubsub.broadcast_alert('disk', 'warning', f'rolled back {i}')\n"
        "                raise Rollback\n"
        "        except Rollback:\n"
        "            pass\n"
        "    else:\n"
        "        assert pubsub.broadcast_alert('disk', 'warning', f'kept {i}').ok\n"
    )
    writers = [_child(code) for _ in range(4)]
    for writer in writers:
        _out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    _wait_until(_all_numbered)
    titles = list(
        Message.objects.filter(category="alerts").values_list("payload", flat=True)
    )
    assert len(titles) == 4 * 32
    assert not any(p["title"].startswith("rolled back") for p in titles)
    assert _sequences("alerts") == list(range(1, 4 * 32 + 1))
    assert CategorySequence.objects.get(category="alerts").last_sequence == 128


def test_a_transaction_held_open_does_not_hold_back_other_writers(numbering, tmp_path):
    opened, release = tmp_path / "opened", tmp_path / "release"
    holder = _child(
        "import time\n"
        "from pathlib import Path\n"
        "from django.db import transaction\n"
        "from opsmessaging import pubsub\n"
        "with transaction.atomic():\n"
        "    assert pubsub.broadcast_alert('disk', 'warning', 'held').ok\n"
        f"    Path({str(opened)!r}).touch()\n"
        f"    while not Path({str(release)!r}).exists():\n"
        "        time.sleep(0.01)\n"
    )
    try:
        _wait_until(opened.exists)
        # While that transaction stays open: others store, and are numbered, meanwhile.
        results = [
            pubsub.broadcast_alert("disk", "warning", f"other {i}") for i in range(20)
        ]
        assert [r.wait_for_sequence(10) for r in results] == list(range(1, 21))
        assert holder.poll() is None  # still holding its transaction open
    finally:
        release.touch()
    _out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    _wait_until(_all_numbered)
    held = Message.objects.get(payload__title="held")
    assert held.sequence == 21  # numbered once committed: after the others
    assert _sequences("alerts") == list(range(1, 22))


def test_a_writer_killed_mid_transaction_leaves_no_gap(numbering, tmp_path):
    opened = tmp_path / "opened"
    victim = _child(
        "import time\n"
        "from pathlib import Path\n"
        "from django.db import transaction\n"
        "from opsmessaging import pubsub\n"
        "with transaction.atomic():\n"
        "    for i in range(5):\n"
        "        pubsub.broadcast_alert('disk', 'warning', f'lost {i}')\n"
        f"    Path({str(opened)!r}).touch()\n"
        "    time.sleep(60)\n"
    )
    _wait_until(opened.exists)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    results = [
        pubsub.broadcast_alert("disk", "warning", f"after {i}") for i in range(3)
    ]
    assert [r.wait_for_sequence(10) for r in results] == [1, 2, 3]
    assert not Message.objects.filter(payload__title__startswith="lost").exists()
    assert _sequences("alerts") == [1, 2, 3]


def test_the_relay_killed_mid_stream_is_taken_over_without_gap_or_duplicate(
    tmp_path: Path,
):
    relay.relay.stop()  # this process neither numbers nor leads until the kill
    leading = tmp_path / "leading"
    leader = _child(
        "import time\n"
        "from pathlib import Path\n"
        "from opsmessaging import relay\n"
        "relay.ensure_running()\n"
        "while not relay.relay.status.is_leader:\n"
        "    time.sleep(0.01)\n"
        f"Path({str(leading)!r}).touch()\n"
        "time.sleep(120)\n"
    )
    try:
        _wait_until(leading.exists)
        writer = _child(
            "import time\n"
            "from opsmessaging import pubsub, relay\n"
            "relay.relay.ensure_running = lambda **kw: None  # a writer that never relays\n"
            "for i in range(300):\n"
            "    assert pubsub.broadcast_alert('disk', 'warning', f'm{i}').ok\n"
            "    time.sleep(0.002)\n"
        )
        _wait_until(lambda: Message.objects.filter(sequence__isnull=False).count() > 50)
        os.kill(leader.pid, signal.SIGKILL)  # mid-stream: the writer goes on
        leader.wait(10)
        _out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    finally:
        if leader.poll() is None:
            leader.kill()
    relay.ensure_running()  # takes over: the advisory lock went with the dead leader
    _wait_until(_all_numbered)
    assert _sequences("alerts") == list(range(1, 301))
    numbered = dict(
        Message.objects.filter(category="alerts").values_list(
            "payload__title", "sequence"
        )
    )
    # Numbered in commit order, which for one writer is the order it broadcast.
    assert [numbered[f"m{i}"] for i in range(300)] == list(range(1, 301))


def test_a_process_that_leaves_numbers_what_it_stored(tmp_path):
    relay.relay.stop()  # no relay here: only the leaving process can number
    out = run_in_other_process(
        "from opsmessaging import pubsub, relay\n"
        "relay.relay.ensure_running = lambda **kw: None\n"
        "r = pubsub.broadcast_alert('disk', 'warning', 'alone')\n"
        "print(r.ok, r.sequence)\n"
    )
    assert out.split()[-2:] == ["True", "None"]  # returned before it was numbered
    assert _sequences("alerts") == [1]  # numbered as the process left


def test_sequencing_inline_numbers_in_the_append(settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SEQUENCING": "inline"}
    result = pubsub.broadcast_alert("disk", "warning", "inline")
    assert (result.sequence, connection.vendor) == (1, "postgresql")
