"""The local spool: durable, bounded, encrypted, crash-safe, drained in order exactly once.

The outage tests make the database really unreachable (see ``Outage``), then bring it back.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import DatabaseError, OperationalError, connections, transaction

from opsmessaging import nodenames, pubsub, relay, spool
from opsmessaging.catalogue import alerts, security
from opsmessaging.conf import conf
from opsmessaging.envelope import Envelope
from opsmessaging.models import Message
from tests.live import other_process_env

NODE = "web1@h"


def alert(title: str) -> Envelope:
    return Envelope.from_payload(
        alerts.system_alert("info", "system", title, None, "tests")
    )


def titles(envelopes: list[Envelope]) -> list[str]:
    return [e.payload["title"] for e in envelopes]


class Collector:
    """A drain's store function that keeps what it is given, in order."""

    def __init__(self) -> None:
        self.batches: list[list[Envelope]] = []

    def __call__(self, envelopes: list[Envelope]) -> None:
        self.batches.append(envelopes)

    @property
    def titles(self) -> list[str]:
        return [t for batch in self.batches for t in titles(batch)]


@pytest.fixture
def spool_dir(tmp_path: Path, settings) -> Path:
    directory = tmp_path / "spool"
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SPOOL_DIR": str(directory)}
    return directory


@pytest.fixture
def local(spool_dir: Path) -> spool.Spool:
    return spool.Spool(str(spool_dir), NODE)


# --- the file ----------------------------------------------------------------------------


def test_an_empty_spool_is_not_pending_and_drains_nothing(local):
    collected = Collector()
    assert local.pending() is False
    report = local.drain(collected)
    assert (report.complete, report.drained, collected.batches) == (True, 0, [])


def test_appended_records_drain_in_order_and_the_file_is_emptied(local):
    local.append([alert("a")])
    local.append([alert("b"), alert("c")])
    local.append([alert("d")])
    assert (local.pending(), local.pending_messages()) == (True, 4)
    collected = Collector()
    report = local.drain(collected)
    assert [titles(b) for b in collected.batches] == [["a"], ["b", "c"], ["d"]]
    assert (report.complete, report.drained, report.rejected) == (True, 4, 0)
    assert (local.pending(), os.path.getsize(local.path)) == (False, 0)


def test_a_drained_envelope_is_the_spooled_one(local):
    original = alert("same")
    local.append([original])
    collected = Collector()
    local.drain(collected)
    assert collected.batches == [[original]]


def test_a_drain_stopped_by_the_database_resumes_at_the_first_record_not_stored(local):
    for title in "abc":
        local.append([alert(title)])
    stored: list[str] = []

    def store_until_b(envelopes):
        if titles(envelopes) == ["b"]:
            raise OperationalError("connection refused")
        stored.extend(titles(envelopes))

    report = local.drain(store_until_b)
    assert (report.complete, report.drained, report.remaining) == (False, 1, 2)
    assert report.error == "OperationalError: connection refused"
    assert local.pending_messages() == 2
    collected = Collector()
    assert local.drain(collected).complete is True
    assert (stored, collected.titles) == (["a"], ["b", "c"])


def test_every_record_is_encrypted(local):
    local.append([alert("plain-alert-title")])
    local.append(
        [
            Envelope.from_payload(
                security.auth_event("secret-user-id", "login_failure", "password")
            )
        ]
    )
    data = Path(local.path).read_bytes()
    assert b"plain-alert-title" not in data
    assert b"secret-user-id" not in data
    assert b"login_failure" not in data
    collected = Collector()
    local.drain(collected)
    assert collected.batches[1][0].payload["user_id"] == "secret-user-id"


def test_the_spool_is_full_at_its_message_limit(local, settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SPOOL_MAX_MESSAGES": 3}
    local.append([alert("a"), alert("b")])
    local.append([alert("c")])
    with pytest.raises(spool.SpoolFull) as full:
        local.append([alert("d")])
    assert str(full.value) == (
        "3 messages are waiting; the limit is 3 (OPSMESSAGING['SPOOL_MAX_MESSAGES'])"
    )
    assert local.pending_messages() == 3


def test_the_spool_is_full_at_its_byte_limit(local, settings):
    local.append([alert("a")])
    size = os.path.getsize(local.path)
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SPOOL_MAX_BYTES": size + 100}
    with pytest.raises(spool.SpoolFull) as full:
        local.append([alert("b")])
    assert str(full.value) == (
        f"the spool file holds {size} bytes; the limit is {size + 100} "
        "(OPSMESSAGING['SPOOL_MAX_BYTES'])"
    )
    assert os.path.getsize(local.path) == size


def test_drained_messages_free_the_space(local, settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SPOOL_MAX_MESSAGES": 2}
    local.append([alert("a"), alert("b")])
    local.drain(Collector())
    local.append([alert("c"), alert("d")])
    assert local.pending_messages() == 2


def test_a_torn_last_record_is_cut_off_and_kept_aside(local, caplog):
    local.append([alert("a")])
    whole = os.path.getsize(local.path)
    record = spool.encode_record(spool.MESSAGES, 1, b"x" * 300)
    with open(local.path, "ab") as file:
        file.write(record[:150])  # what a killed writer leaves
    fresh = spool.Spool(os.path.dirname(local.path), NODE)  # another process's view
    spool.Spool._states.clear()
    with caplog.at_level(logging.WARNING, logger="opsmessaging.spool"):
        fresh.append([alert("b")])
    assert "Cut 150 bytes of a torn record" in caplog.text
    assert Path(fresh.rejected_path).read_bytes() == record[:150]
    collected = Collector()
    assert fresh.drain(collected).complete is True
    assert collected.titles == ["a", "b"]
    assert whole > 0


def test_a_damaged_record_is_rejected_and_the_drain_goes_on(local, settings, caplog):
    local.append([alert("a")])
    settings.OPSMESSAGING = {
        **settings.OPSMESSAGING,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    local.append([alert("unreadable later")])  # encrypted with a key about to be lost
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "ENCRYPTION_KEYS": []}
    local.append([alert("c")])
    collected = Collector()
    with caplog.at_level(logging.ERROR, logger="opsmessaging.spool"):
        report = local.drain(collected)
    assert (report.complete, report.drained, report.rejected) == (True, 2, 1)
    assert collected.titles == ["a", "c"]
    assert "cannot read it: InvalidToken" in caplog.text
    assert os.path.getsize(local.rejected_path) > 0


def test_a_second_drain_does_not_wait_when_asked_not_to(local):
    local.append([alert("a")])
    entered, release = threading.Event(), threading.Event()

    def slow(envelopes):
        entered.set()
        release.wait(10)

    first = threading.Thread(target=local.drain, args=(slow,))
    first.start()
    assert entered.wait(10)
    report = local.drain(Collector(), wait=False)
    release.set()
    first.join(10)
    assert (report.busy, report.complete, report.drained) == (True, False, 0)
    assert local.pending() is False


def test_concurrent_appends_from_threads_keep_every_record_whole(local):
    def append_many(prefix: str) -> None:
        for i in range(25):
            local.append([alert(f"{prefix}{i}")])

    threads = [threading.Thread(target=append_many, args=(p,)) for p in "wxyz"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    collected = Collector()
    local.drain(collected)
    assert sorted(collected.titles) == sorted(
        f"{p}{i}" for p in "wxyz" for i in range(25)
    )
    for prefix in "wxyz":  # each writer's records in its own order
        mine = [t for t in collected.titles if t[0] == prefix]
        assert mine == [f"{prefix}{i}" for i in range(25)]


def _child(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env=other_process_env(),
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_process_killed_mid_write_leaves_the_spool_usable(local):
    local.append([alert("before 1")])
    local.append([alert("before 2")])
    directory = os.path.dirname(local.path)
    writer = _child(
        "import os, time\n"
        "from opsmessaging import spool\n"
        "from tests.test_spool import alert\n"
        "real = os.pwrite\n"
        "def half(fd, data, offset):\n"
        "    real(fd, bytes(data)[: len(data) // 2], offset)\n"
        "    print('HALF WRITTEN', flush=True)\n"
        "    time.sleep(60)\n"
        "os.pwrite = half\n"
        f"spool.Spool({directory!r}, {NODE!r}).append([alert('torn')])\n"
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "HALF WRITTEN"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
    assert writer.returncode == -signal.SIGKILL
    local.append([alert("after")])
    collected = Collector()
    report = local.drain(collected)
    assert collected.titles == ["before 1", "before 2", "after"]
    assert (report.complete, report.rejected) == (True, 0)
    assert os.path.getsize(local.rejected_path) > 0


# --- through pubsub: a really unreachable database ---------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Outage:
    """Make the database really unreachable for this process, then bring it back.

    PostgreSQL is pointed at a closed port (connection refused), SQLite at a file in a
    directory that does not exist (unable to open database file).
    """

    def __init__(self, missing_dir: Path) -> None:
        self.database = connections["default"].settings_dict  # shared by every thread
        self.saved = dict(self.database)
        self.missing_dir = missing_dir

    def down(self) -> None:
        connections["default"].close()
        if connections["default"].vendor == "postgresql":
            self.database["PORT"] = str(_closed_port())
        else:
            self.database["NAME"] = str(self.missing_dir / "db.sqlite3")

    def up(self) -> None:
        connections["default"].close()
        self.database.update(self.saved)


@pytest.fixture
def store(spool_dir, tmp_path) -> Iterator[Outage]:
    outage = Outage(tmp_path / "missing")
    outage.down()
    yield outage
    outage.up()


def stored_ids() -> list[str]:
    """The stored alerts' message ids, by sequence (logins in live tests store others)."""
    return list(
        Message.objects.filter(category="alerts")
        .order_by("sequence")
        .values_list("message_id", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_spools_promptly_and_says_so(store, caplog):
    with caplog.at_level(logging.WARNING, logger="opsmessaging.publishing"):
        started = time.monotonic()
        result = pubsub.broadcast_alert("disk", "critical", "the database is away")
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert (result.status, result.message, result.ok) == ("spooled", None, False)
    assert result.error.startswith("OperationalError: ")
    assert result.envelope.payload["title"] == "the database is away"
    assert "Spooled 1 message(s) (first SystemAlert to alerts/disk)" in caplog.text
    store.up()
    assert stored_ids() == []


@pytest.mark.django_db(transaction=True)
def test_spooled_messages_are_stored_in_order_by_the_next_broadcast(store):
    spooled = [pubsub.broadcast_alert("disk", "error", f"down {i}") for i in range(5)]
    batch = pubsub.broadcast_batch([("alert", "disk", "info", "in a batch", {})] * 3)
    assert [r.status for r in spooled] == ["spooled"] * 5
    assert batch.as_dict() == {"success": 0, "errors": 0, "spooled": 3}
    store.up()
    after = pubsub.broadcast_alert("disk", "info", "back")
    assert after.status == "ok"
    assert relay.wait_until_numbered()
    expected = [r.envelope.message_id for r in [*spooled, *batch.results]]
    assert stored_ids() == [*expected, after.message.message_id]
    assert [m.sequence for m in Message.objects.order_by("id")] == list(range(1, 10))
    assert not spool.Spool(str(store_dir()), nodenames.this_node()).pending()


def store_dir() -> Path:
    from opsmessaging.conf import conf

    return Path(conf.SPOOL_DIR)


@pytest.mark.django_db(transaction=True)
def test_a_stored_message_id_is_not_stored_again(store):
    result = pubsub.broadcast_alert("disk", "error", "once")
    store.up()
    first = Message.objects.append(result.envelope)  # as if a drain died before marking
    assert pubsub.drain_spool().drained == 1
    again = Message.objects.append(result.envelope)
    assert relay.wait_until_numbered()
    assert stored_ids() == [result.envelope.message_id]
    assert again.pk == first.pk
    assert Message.objects.get(pk=first.pk).sequence == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_stored_again_is_stored_once(store):
    batch = pubsub.broadcast_batch(
        [("alert", "disk", "info", f"m{i}", {}) for i in range(3)]
    )
    store.up()
    envelopes = [r.envelope for r in batch.results]
    first = Message.objects.append_many(envelopes[:2])  # as if part were stored already
    assert pubsub.drain_spool().drained == 3
    again = Message.objects.append_many(envelopes)
    assert relay.wait_until_numbered()
    assert stored_ids() == [e.message_id for e in envelopes]
    assert [m.pk for m in again[:2]] == [m.pk for m in first]
    assert [Message.objects.get(pk=m.pk).sequence for m in again] == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_a_message_id_stored_with_other_content_is_a_conflict(store):
    store.up()
    stored = pubsub.broadcast_alert("disk", "error", "original").message
    impostor = Envelope.from_payload(
        alerts.system_alert("info", "system", "different", None, "x"),
        message_id=stored.message_id,
    )
    result = pubsub.publish(impostor)
    assert result.status == "error"
    assert result.error.startswith("IntegrityError: ")
    assert stored_ids() == [stored.message_id]


@pytest.mark.django_db(transaction=True)
def test_a_full_spool_refuses_with_an_error_and_keeps_what_it_has(
    store, settings, caplog
):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SPOOL_MAX_MESSAGES": 2}
    kept = [pubsub.broadcast_alert("disk", "error", f"kept {i}") for i in range(2)]
    with caplog.at_level(logging.ERROR, logger="opsmessaging.publishing"):
        refused = pubsub.broadcast_alert("disk", "error", "no room")
    assert [r.status for r in kept] == ["spooled", "spooled"]
    assert (refused.status, refused.message, refused.envelope) == ("error", None, None)
    assert refused.error.startswith(
        "spool full: 2 messages are waiting; the limit is 2 "
        "(OPSMESSAGING['SPOOL_MAX_MESSAGES']); the database is unreachable: "
    )
    assert (
        "Failed to broadcast 1 message(s) (first SystemAlert to alerts/disk): spool full"
        in caplog.text
    )
    store.up()
    assert pubsub.drain_spool().drained == 2
    assert stored_ids() == [r.envelope.message_id for r in kept]


@pytest.mark.django_db(transaction=True)
def test_without_a_spool_dir_an_unreachable_database_is_an_error(store, settings):
    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "SPOOL_DIR": None}
    result = pubsub.broadcast_alert("disk", "error", "lost")
    assert (result.status, result.message) == ("error", None)
    assert result.error.startswith("OperationalError: ")
    assert pubsub.drain_spool() is None
    store.up()
    assert stored_ids() == []


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_messages_are_never_spooled(store):
    store.up()
    with pytest.raises(DatabaseError), transaction.atomic():
        connections[
            "default"
        ].connection.close()  # the server goes away mid-transaction
        result = pubsub.broadcast_alert("disk", "error", "belongs to the transaction")
    assert (result.status, result.message) == ("error", None)
    assert not spool.Spool(str(store_dir()), nodenames.this_node()).pending()


@pytest.mark.django_db(transaction=True)
def test_the_drain_command_stores_the_spool(store, capsys):
    pubsub.broadcast_alert("disk", "error", "a")
    pubsub.broadcast_alert("disk", "error", "b")
    with pytest.raises(CommandError) as still_down:
        call_command("opsmessaging_drain_spool")
    assert str(still_down.value).startswith(
        "Drained 0 spooled message(s); 2 message(s) remain spooled: OperationalError: "
    )
    store.up()
    call_command("opsmessaging_drain_spool")
    assert capsys.readouterr().out == "Drained 2 spooled message(s).\n"
    assert len(stored_ids()) == 2


def test_the_drain_command_needs_a_spool_dir():
    with pytest.raises(CommandError) as error:
        call_command("opsmessaging_drain_spool")
    assert str(error.value) == (
        "No spool is configured: set OPSMESSAGING['SPOOL_DIR'] to use one."
    )


@pytest.mark.django_db(transaction=True)
def test_a_drain_killed_between_storing_and_marking_stores_nothing_twice(store):
    spooled = [pubsub.broadcast_alert("disk", "error", f"m{i}") for i in range(3)]
    store.up()
    directory = str(store_dir())
    drainer = _child(
        "import os, signal\n"
        "from opsmessaging import nodenames, publishing, spool\n"
        "def store_then_die(envelopes):\n"
        "    publishing.store_envelopes(envelopes)\n"
        "    if envelopes[0].payload['title'] == 'm1':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"spool.Spool({directory!r}, nodenames.this_node()).drain(store_then_die)\n"
    )
    drainer.wait(60)
    assert drainer.returncode == -signal.SIGKILL
    assert len(stored_ids()) == 2  # m0 and m1 stored, m1 not marked drained
    report = pubsub.drain_spool()
    assert (report.complete, report.drained) == (True, 2)  # m1 again, then m2
    assert stored_ids() == [r.envelope.message_id for r in spooled]


@pytest.mark.django_db(transaction=True)
def test_live_subscribers_receive_the_drained_messages_in_order(spool_dir, tmp_path):
    from django.contrib.auth.models import User

    from tests.live import live_asgi_server, receive_until, subscribe, ws_connect

    admin = User.objects.create_superuser("admin", password="pw")
    outage = Outage(tmp_path / "missing")
    with live_asgi_server() as address, ws_connect(address, admin) as ws:
        subscribe(ws, category="alerts")
        outage.down()
        try:
            spooled = [pubsub.broadcast_alert("db", "error", f"s{i}") for i in range(5)]
        finally:
            outage.up()
        after = pubsub.broadcast_alert("db", "info", "back")
        frames = [receive_until(ws, "message")["message"] for _ in range(6)]
    assert [r.status for r in spooled] == ["spooled"] * 5
    assert [f["message_id"] for f in frames] == [
        *(r.envelope.message_id for r in spooled),
        after.message.message_id,
    ]
    assert [f["sequence"] for f in frames] == [1, 2, 3, 4, 5, 6]


class PrivatePostgres:
    """A PostgreSQL server of this test's own (initdb, pg_ctl) on a free port, to stop.

    Run as the ``postgres`` user when the tests run as root (initdb refuses root).
    """

    def __init__(self) -> None:
        assert shutil.which("initdb") and shutil.which("pg_ctl"), (
            "needs PostgreSQL's tools"
        )
        self.root = Path(tempfile.mkdtemp(prefix="opsmsg-pg-"))
        self.port = _closed_port()
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", "data", "-U", "postgres", "--auth=trust", "--no-sync")

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self.run_as, *command],
            cwd=self.root,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        )
        self._run("pg_ctl", "-D", "data", "-l", "log", "-w", "-o", options, "start")

    def stop(self) -> None:
        """Stop as a crash would: every backend killed, no clean shutdown."""
        self._run("pg_ctl", "-D", "data", "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self.run_as, "pg_ctl", "-D", "data", "-m", "immediate", "stop"],
            cwd=self.root,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_stopped_postgresql_server_loses_nothing_and_subscribers_get_it_all(
    spool_dir,
):
    from django.contrib.auth.models import User

    from tests.live import live_asgi_server, receive_until, subscribe, ws_connect

    server = PrivatePostgres()
    database = connections["default"].settings_dict
    saved = dict(database)
    try:
        server.start()
        connections["default"].close()
        database.update(HOST="127.0.0.1", PORT=str(server.port), NAME="postgres")
        relay.relay.stop()  # its connection is to the test database: open a new one
        call_command("migrate", verbosity=0)
        admin = User.objects.create_superuser("admin", password="pw")
        with live_asgi_server() as address, ws_connect(address, admin) as ws:
            subscribe(ws, category="alerts", since=0)
            before = [pubsub.broadcast_alert("db", "info", f"b{i}") for i in range(5)]
            frames = [receive_until(ws, "message")["message"] for _ in range(5)]
            server.stop()
            down_since = time.monotonic()
            spooled, slowest = [], 0.0
            for i in range(20):
                started = time.monotonic()
                spooled.append(pubsub.broadcast_alert("db", "critical", f"down {i}"))
                slowest = max(slowest, time.monotonic() - started)
                time.sleep(0.1)  # an outage of seconds, with the subscriber waiting
            server.start()
            outage = time.monotonic() - down_since
            after = pubsub.broadcast_alert("db", "info", "back")
            frames += [receive_until(ws, "message")["message"] for _ in range(21)]
        assert [r.status for r in before] == ["ok"] * 5
        assert [r.status for r in spooled] == ["spooled"] * 20
        assert after.status == "ok"
        assert slowest < 2.0
        assert outage > 2.0
        acknowledged = [
            *(r.message.message_id for r in before),
            *(r.envelope.message_id for r in spooled),
            after.message.message_id,
        ]
        assert stored_ids() == acknowledged
        assert [f["message_id"] for f in frames] == acknowledged
        assert [f["sequence"] for f in frames] == list(range(1, 27))
    finally:
        relay.relay.stop()
        connections["default"].close()
        database.clear()
        database.update(saved)
        server.remove()


@pytest.fixture
def binding(request) -> Iterator[None]:
    """Run with psycopg's client-side binding (Django's default) or server-side binding."""
    options = connections["default"].settings_dict["OPTIONS"]
    saved = dict(options)
    options["server_side_binding"] = request.param
    connections["default"].close()
    yield
    connections["default"].close()
    options.clear()
    options.update(saved)


def _stuck_broadcast(batch: bool):
    if batch:
        return pubsub.broadcast_batch(
            [("alert", "db", "critical", "stuck", {})]
        ).results[0]
    return pubsub.broadcast_alert("db", "critical", "stuck")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "binding", [False, True], indirect=True, ids=["client", "server"]
)
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_a_database_that_does_not_answer_in_db_timeout_spools(
    spool_dir, settings, binding, batch
):
    import psycopg

    from opsmessaging.models import CategorySequence

    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "DB_TIMEOUT": 300}
    first = pubsub.broadcast_alert("db", "info", "first")
    database = connections["default"].settings_dict
    stuck = psycopg.connect(
        host=database["HOST"],
        port=database["PORT"],
        user=database["USER"],
        dbname=database["NAME"],
    )
    try:  # a transaction that holds what an append needs and never ends
        if conf.SEQUENCING == "inline":
            stuck.execute(
                f"SELECT * FROM {CategorySequence._meta.db_table} "
                "WHERE category = 'alerts' FOR UPDATE"
            )
        else:  # an append takes no counter: block the INSERT itself
            stuck.execute(f"LOCK TABLE {Message._meta.db_table} IN SHARE MODE")
        started = time.monotonic()
        waited = _stuck_broadcast(batch)
        elapsed = time.monotonic() - started
    finally:
        stuck.close()
    assert (waited.status, waited.message) == ("spooled", None)
    assert waited.error.startswith("OperationalError: canceling statement due to")
    assert 0.3 <= elapsed < 2.0
    after = pubsub.broadcast_alert("db", "info", "unstuck")
    assert relay.wait_until_numbered()
    assert stored_ids() == [
        first.message.message_id,
        waited.envelope.message_id,
        after.message.message_id,
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_db_timeout_zero_sends_no_timeouts(settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.OPSMESSAGING = {**settings.OPSMESSAGING, "DB_TIMEOUT": 0}
    pubsub.broadcast_alert("db", "info", "warm")
    with CaptureQueriesContext(connection) as queries:
        pubsub.broadcast_alert("db", "info", "unbounded")
    assert [q["sql"][:17] for q in queries] == ["INSERT INTO opsme"]
