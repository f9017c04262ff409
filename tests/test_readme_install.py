"""The README's install block, pasted into a fresh ``django-admin startproject``, works.

The block is read from the README between ``<!-- --8<-- [start:install] -->`` and
``<!-- --8<-- [end:install] -->`` (the markers that also include it in
``docs/install.md``): each ``<!-- install:file <path> <append|replace|create> -->``
marker is followed by one fenced Python block for that file. The new project runs with
startproject's own defaults (SQLite) and the block's in-process channel layer, so the test
needs no service; the server is uvicorn in a process of its own.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.conftest import REDIS_URL
from tests.live import answers, receive_until, send, subscribe

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "mysite"
#: Seconds any one step (a command, the server's start, a frame) may take.
STEP_TIMEOUT = 60

_BLOCK_RE = re.compile(
    r"<!-- --8<-- \[start:install\] -->(.*?)<!-- --8<-- \[end:install\] -->", re.S
)
_FILE_RE = re.compile(
    r"<!-- install:file (\S+) (append|replace|create) -->\s*```python\n(.*?)```", re.S
)


def install_block() -> list[tuple[str, str, str]]:
    """Return the README's install block as (path, mode, code), in README order."""
    blocks = _BLOCK_RE.findall((ROOT / "README.md").read_text())
    assert len(blocks) == 1, "the README needs exactly one install block"
    return _FILE_RE.findall(blocks[0])


def paste(project_dir: Path) -> None:
    """Apply the install block to the project made by startproject."""
    for relative, mode, code in install_block():
        target = project_dir / relative
        if mode == "append":
            target.write_text(target.read_text() + "\n\n" + code)
        else:
            assert target.exists() == (mode == "replace"), (relative, mode)
            target.write_text(code)


def project_env() -> dict[str, str]:
    """The environment of the new project's processes: none of the demo's settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "OPSMESSAGING_", "DEMO_", "CELERY_"))
        and key not in ("DATABASE_URL", "REDIS_URL", "PYTHONPATH")
    }
    env["DJANGO_SETTINGS_MODULE"] = f"{PROJECT}.settings"
    return env


def run(
    project_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` in the new project; fail with its output if it fails."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=project_dir,
        env=env or project_env(),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def manage(project_dir: Path, *args: str) -> str:
    return run(project_dir, "manage.py", *args).stdout


def shell(project_dir: Path, code: str) -> str:
    """Run ``code`` in ``manage.py shell``; return its last line of output."""
    return manage(project_dir, "shell", "-c", code).strip().splitlines()[-1]


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh startproject with the install block pasted in, migrated, with a token."""
    base = tmp_path_factory.mktemp("readme-install")
    run(base, "-m", "django", "startproject", PROJECT, str(base))
    paste(base)
    manage(base, "migrate", "--noinput")
    env = project_env() | {"DJANGO_SUPERUSER_PASSWORD": "readme-install-pw"}
    run(
        base,
        "manage.py",
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        env=env,
    )
    return base


@pytest.fixture(scope="module")
def token(project_dir: Path) -> str:
    output = manage(project_dir, "drf_create_token", "admin")
    match = re.search(r"Generated token ([0-9a-f]{40}) for user admin", output)
    assert match, output
    return match.group(1)


@pytest.fixture(scope="module")
def server(project_dir: Path) -> Iterator[str]:
    """Serve the new project's ``asgi.py`` with uvicorn; yield ``127.0.0.1:<port>``."""
    log = project_dir / "uvicorn.log"
    with socket.socket() as sock, log.open("wb") as out:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{PROJECT}.asgi:application",
                "--fd",
                str(sock.fileno()),
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "on",
                "--log-level",
                "warning",
            ],
            cwd=project_dir,
            env=project_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=[sock.fileno()],
        )
    try:
        deadline = time.monotonic() + STEP_TIMEOUT
        while not answers(address):
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield address
    finally:
        popen.terminate()
        try:
            popen.wait(15)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(15)


def get(address: str, path: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://{address}{path}")
    if token is not None:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def api_messages(address: str, token: str, query: str) -> list[dict[str, object]]:
    status, body = get(address, f"/api/opsmessaging/messages/?{query}", token)
    assert status == 200, body
    return json.loads(body)["results"]  # type: ignore[no-any-return]


def test_the_install_block_names_settings_asgi_urls_and_celery() -> None:
    assert [(path, mode) for path, mode, _ in install_block()] == [
        ("mysite/settings.py", "append"),
        ("mysite/asgi.py", "replace"),
        ("mysite/urls.py", "replace"),
        ("mysite/celery.py", "create"),
    ]


def test_the_new_project_passes_its_system_checks(project_dir: Path) -> None:
    output = manage(project_dir, "check", "--fail-level", "WARNING")
    assert "System check identified no issues" in output


def test_the_new_project_has_no_missing_migrations(project_dir: Path) -> None:
    manage(project_dir, "makemigrations", "--check", "--dry-run")


def test_the_admin_login_page_answers(server: str) -> None:
    status, body = get(server, "/admin/login/")
    assert status == 200
    assert b'name="username"' in body


def test_the_operations_page_and_its_script_are_served(server: str) -> None:
    status, body = get(server, "/opsmessaging/")
    assert status == 200  # redirected to the admin's login page: staff only
    assert b'name="username"' in body
    status, body = get(server, "/static/opsmessaging/operations.js")
    assert status == 200
    assert (
        body == (ROOT / "opsmessaging/static/opsmessaging/operations.js").read_bytes()
    )


def test_the_api_needs_a_token_and_answers_with_one(server: str, token: str) -> None:
    assert get(server, "/api/opsmessaging/messages/")[0] == 401
    status, body = get(server, "/api/opsmessaging/categories/", token)
    assert status == 200
    assert sorted(c["category"] for c in json.loads(body)) == [
        "alerts",
        "audit",
        "diagnostics",
        "health",
        "lifecycle",
        "logging",
        "metrics",
        "security",
        "system",
    ]


def test_the_server_announces_its_start_and_registers_its_node(
    server: str, token: str
) -> None:
    started = [
        m
        for m in api_messages(
            server, token, "category=system&payload_type=SystemLifecycle"
        )
        if m["payload"]["event"] == "started"  # type: ignore[index]
    ]
    assert len(started) == 1
    assert started[0]["payload"]["system_name"] == "mysite"  # type: ignore[index]
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        status, body = get(server, "/api/opsmessaging/nodes/", token)
        assert status == 200, body
        roles = {n["name"]: n["role"] for n in json.loads(body)["nodes"]}
        if started[0]["node"] in roles or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert roles[started[0]["node"]] == "web"  # type: ignore[index]


def test_a_broadcast_is_stored_and_reaches_a_websocket_subscriber(
    project_dir: Path, server: str, token: str
) -> None:
    with connect(
        f"ws://{server}/ws/opsmessaging/",
        additional_headers={"Authorization": f"Token {token}"},
        open_timeout=10,
    ) as ws:
        subscribed = subscribe(ws, category="alerts", since=0)
        assert subscribed["category"] == "alerts"
        assert subscribed["last_sequence"] == 0
        printed = shell(
            project_dir,
            "from opsmessaging import pubsub\n"
            "r = pubsub.broadcast_alert('disk_full', 'critical', 'Disk /var is full',"
            " {'disk': '/var'})\n"
            "print(r.status, r.message.sequence, r.message.message_id)",
        )
        status, sequence, message_id = printed.split()
        assert (status, sequence) == ("ok", "1")
        # Another process broadcast it: the in-process layer cannot carry it, the
        # connection's store check (WS_POLL_INTERVAL) does.
        frame = receive_until(ws, "message", timeout=15)
        assert frame["message"]["message_id"] == message_id
        assert frame["message"]["sequence"] == 1
        assert frame["message"]["payload"]["title"] == "Disk /var is full"
        send(ws, {"action": "ping"})
        assert receive_until(ws, "pong")["type"] == "pong"
    stored = api_messages(server, token, "category=alerts")
    assert [m["message_id"] for m in stored] == [message_id]


def test_the_celery_app_schedules_the_opsmessaging_tasks(project_dir: Path) -> None:
    printed = run(
        project_dir,
        "-c",
        "import json, django\n"
        "django.setup()\n"
        f"from {PROJECT}.celery import app\n"
        "app.loader.import_default_modules()\n"
        "print(json.dumps({\n"
        "    'schedule': {k: v['task'] for k, v in app.conf.beat_schedule.items()},\n"
        "    'tasks': sorted(t for t in app.tasks if t.startswith('opsmessaging.')),\n"
        "}))",
    ).stdout
    found = json.loads(printed)
    assert found["schedule"] == {
        "opsmessaging-health": "opsmessaging.broadcast_health",
        "opsmessaging-metrics": "opsmessaging.broadcast_metrics",
        "opsmessaging-cluster": "opsmessaging.check_cluster",
        "opsmessaging-retention": "opsmessaging.prune_messages",
    }
    assert set(found["schedule"].values()) <= set(found["tasks"])


@pytest.fixture
def postgres_env() -> Iterator[dict[str, str]]:
    """The new project's environment on a fresh PostgreSQL database and this run's Redis:
    the block's ``PGDATABASE`` and ``REDIS_URL``."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    name = f"readme_install_{os.getpid()}"
    admin = {
        "host": db["HOST"] or "127.0.0.1",
        "port": int(db["PORT"] or 5432),
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = project_env() | {
        "PGDATABASE": name,
        "PGHOST": str(admin["host"]),
        "PGPORT": str(admin["port"]),
        "PGUSER": str(db["USER"]),
        "REDIS_URL": REDIS_URL,
    }
    if db["PASSWORD"]:
        env["PGPASSWORD"] = str(db["PASSWORD"])
    try:
        yield env
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def nodes_of(project_dir: Path, env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Return ``{name: (role, status)}`` of the registry, read by a shell of the project."""
    printed = run(
        project_dir,
        "manage.py",
        "shell",
        "-c",
        "import json\n"
        "from opsmessaging.models import Node\n"
        "print(json.dumps({n.name: [n.role, n.status] for n in Node.objects.all()}))",
        env=env,
    ).stdout
    return {k: tuple(v) for k, v in json.loads(printed.splitlines()[-1]).items()}


@pytest.mark.postgres
@pytest.mark.redis
def test_web_worker_and_beat_of_the_new_project_heartbeat_and_stay_healthy(
    project_dir: Path, postgres_env: dict[str, str]
) -> None:
    """Issue 20, items 1 and 2: nothing but the block starts the heartbeats, and stopping
    each process (SIGTERM, as systemd, Docker and Kubernetes do) leaves it ``stopped``."""
    run(project_dir, "manage.py", "migrate", "--noinput", env=postgres_env)
    host = re.sub(r"[^A-Za-z0-9_.\-]", "-", socket.gethostname())
    log = (project_dir / "processes.log").open("wb")
    commands = {
        "web": [
            "-m",
            "uvicorn",
            f"{PROJECT}.asgi:application",
            "--port",
            "0",
            "--lifespan",
            "on",
            "--log-level",
            "warning",
        ],
        "worker": [
            "-m",
            "celery",
            "-A",
            PROJECT,
            "worker",
            "--pool",
            "solo",
            "-l",
            "WARNING",
        ],
        "beat": [
            "-m",
            "celery",
            "-A",
            PROJECT,
            "beat",
            "-l",
            "WARNING",
            "-s",
            str(project_dir / "beat-schedule"),
        ],
    }
    processes = {
        role: subprocess.Popen(
            [sys.executable, *args],
            cwd=project_dir,
            env=postgres_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for role, args in commands.items()
    }
    expected = {f"{role}@{host}": (role, "healthy") for role in commands}
    try:
        deadline = time.monotonic() + STEP_TIMEOUT
        while nodes_of(project_dir, postgres_env) != expected:
            assert time.monotonic() < deadline, nodes_of(project_dir, postgres_env)
            time.sleep(1)
        time.sleep(16)  # past the failure window: 3 heartbeats of 5 s
        assert nodes_of(project_dir, postgres_env) == expected
    finally:
        for popen in processes.values():
            popen.terminate()
        for popen in processes.values():
            try:
                popen.wait(30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(15)
        log.close()
    assert nodes_of(project_dir, postgres_env) == {
        f"{role}@{host}": (role, "stopped") for role in commands
    }, (project_dir / "processes.log").read_text()
    alerts = run(
        project_dir,
        "manage.py",
        "shell",
        "-c",
        "from opsmessaging.models import Message\n"
        "print(Message.objects.filter(category='alerts').count())",
        env=postgres_env,
    ).stdout.split()[-1]
    assert alerts == "0"
