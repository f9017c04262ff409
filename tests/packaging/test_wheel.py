"""The built wheel, installed into a fresh virtualenv with only its core dependencies.

Marked ``packaging``: ``make package`` runs it on the wheel it has just built
(``OPSMESSAGING_WHEEL``); run alone, it builds one. Nothing here imports the source tree:
every command runs in the fresh virtualenv from a temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
# Creating the virtualenv and installing Django, cryptography and jsonschema-rs (from the
# pip cache after the first run) takes 10-30 s; a hung index must not hang the run.
TIMEOUT = 300


def _run(args: list[str], cwd: Path, **env: str) -> str:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    done = subprocess.run(
        args,
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``make package`` built, or one built here (from the sdist, as ``make package``
    does, so that no stale ``build/lib`` of the source tree slips into it)."""
    if given := os.environ.get("OPSMESSAGING_WHEEL"):
        return Path(given).resolve()
    dist = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        ROOT,
    )
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A directory with a fresh virtualenv (``venv/``) holding the wheel, and a settings module."""
    site = tmp_path_factory.mktemp("site")
    _run([sys.executable, "-m", "venv", str(site / "venv")], site)
    _run(
        [str(site / "venv/bin/python"), "-m", "pip", "install", "--quiet", str(wheel)],
        site,
    )
    (site / "settings.py").write_text(
        textwrap.dedent(
            f"""\
            SECRET_KEY = "packaging-test"
            INSTALLED_APPS = ["opsmessaging"]
            DATABASES = {{
                "default": {{
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": {str(site / "db.sqlite3")!r},
                }}
            }}
            USE_TZ = True
            """
        )
    )
    return site


def _in_site(site: Path, *args: str) -> str:
    return _run(
        [str(site / "venv/bin/python"), *args],
        site,
        DJANGO_SETTINGS_MODULE="settings",
        PYTHONPATH=str(site),
    )


def test_wheel_ships_the_typing_marker_templates_static_files_and_migrations(
    wheel: Path,
) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    assert "opsmessaging/py.typed" in names
    assert "opsmessaging/migrations/0001_initial.py" in names
    assert any(
        name.startswith("opsmessaging/templates/opsmessaging/") for name in names
    )
    assert any(name.startswith("opsmessaging/static/opsmessaging/") for name in names)
    top_level = {name.partition("/")[0] for name in names}
    assert top_level == {
        "opsmessaging",
        f"opsmessaging-{wheel.name.split('-')[1]}.dist-info",
    }


def test_wheel_metadata_declares_the_extras_and_the_typed_classifier(
    wheel: Path,
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [
            n for n in archive.namelist() if n.endswith(".dist-info/METADATA")
        ]
        fields = Parser().parsestr(archive.read(metadata).decode())

    assert sorted(fields.get_all("Provides-Extra") or []) == [
        "all",
        "api",
        "celery",
        "channels",
        "client",
        "metrics",
        "otlp",
        "postgres",
        "redis",
    ]
    assert "Typing :: Typed" in (fields.get_all("Classifier") or [])
    assert fields["License-Expression"] == "MIT"


def test_installed_wheel_imports_from_the_virtualenv_not_the_source_tree(
    site: Path,
) -> None:
    where = _in_site(
        site, "-c", "import opsmessaging; print(opsmessaging.__file__)"
    ).strip()

    assert Path(where).is_relative_to(site / "venv")
    assert not Path(where).is_relative_to(ROOT)


def test_installed_wheel_passes_checks_migrates_and_stores_a_broadcast(
    site: Path,
) -> None:
    _in_site(site, "-m", "django", "check", "--fail-level", "WARNING")
    _in_site(site, "-m", "django", "migrate", "--noinput")

    stored = json.loads(
        _in_site(
            site,
            "-c",
            textwrap.dedent(
                """\
                import json
                import django

                django.setup()
                from opsmessaging.models import Message
                from opsmessaging.pubsub import broadcast_system_lifecycle

                result = broadcast_system_lifecycle("started", "packaging-test", "1.0.0")
                message = Message.objects.get()
                print(json.dumps({
                    "status": result.status,
                    "is_the_stored_row": result.message.pk == message.pk,
                    "payload_type": message.payload_type,
                    "category": message.category,
                    "topic": message.topic,
                    "sequence": message.sequence,
                    "event": message.payload["event"],
                    "system_name": message.payload["system_name"],
                }))
                """
            ),
        )
    )

    assert stored == {
        "status": "ok",
        "is_the_stored_row": True,
        "payload_type": "SystemLifecycle",
        "category": "system",
        "topic": "lifecycle",
        "sequence": 1,
        "event": "started",
        "system_name": "packaging-test",
    }
