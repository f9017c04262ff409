"""The supported-versions matrix: the SQLite pass on every Python x Django we support.

``make test`` runs two corners of it (Django 5.2 on Python 3.11 in ``.venv``, Django 6.1
on Python 3.13 in ``.venv-newest``); ``nox`` runs all of it, ``nox -l`` lists the
sessions, ``nox -s "tests(3.12-django6.0)" -- tests/test_pubsub.py`` runs one with
arguments for pytest.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]
DJANGOS = ["5.2", "6.0", "6.1"]
# Django 6.0 and later need Python 3.12.
MATRIX = [
    (python, django)
    for python in PYTHONS
    for django in DJANGOS
    if django == "5.2" or python != "3.11"
]
ROOT = Path(__file__).parent
SQLITE_PASS = ["-m", "not postgres and not redis and not packaging", "-q"]

nox.options.sessions = ["tests", "lint", "package"]
nox.options.reuse_existing_virtualenvs = True
if shutil.which("pyenv"):
    # pyenv's python3.X shims answer only for versions made active.
    os.environ["PYENV_VERSION"] = ":".join(reversed(PYTHONS))


def _install_requirements(session: nox.Session, django: str) -> None:
    """Install requirements.txt and the project with Django ``django``.

    django-celery-beat (the demo's DatabaseScheduler) declares Django<6.1 up to 2.9.0:
    with a newer Django it is installed without its dependencies, which
    requirements-newest.txt lists (see the Makefile's newest pass).
    """
    major, minor = map(int, django.split("."))
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    beat = [line for line in lines if line.startswith("django-celery-beat")]
    capped = (major, minor) >= (6, 1)
    requirements = Path(session.create_tmp()) / "requirements.txt"
    requirements.write_text(
        "\n".join(line for line in lines if not (capped and line in beat)) + "\n"
    )
    extra = ["-r", str(ROOT / "requirements-newest.txt")] if capped else []
    session.install(
        "-r",
        str(requirements),
        *extra,
        f"Django>={django},<{major}.{minor + 1}",
        "-e",
        ".",
    )
    if capped:
        session.install("--no-deps", *beat)


@nox.session
@nox.parametrize(
    ("python", "django"),
    MATRIX,
    ids=[f"{python}-django{django}" for python, django in MATRIX],
)
def tests(session: nox.Session, django: str) -> None:
    """The SQLite pass (no PostgreSQL, no Redis) on one Python and one Django."""
    _install_requirements(session, django)
    env = {"SQLITE_TEST_PATH": str(Path(session.create_tmp()) / "test-db.sqlite3")}
    session.run("python", "manage.py", "check", "--fail-level", "WARNING", env=env)
    session.run(
        "python", "manage.py", "makemigrations", "--check", "--dry-run", env=env
    )
    session.run("python", "-m", "pytest", *SQLITE_PASS, *session.posargs, env=env)


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    """Ruff and mypy, as ``make lint`` runs them."""
    _install_requirements(session, DJANGOS[0])
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "opsmessaging")


@nox.session(python=PYTHONS[-1])
def package(session: nox.Session) -> None:
    """Build the sdist and the wheel, and check them with twine."""
    session.install("build", "twine")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), ".")
    session.run("twine", "check", "--strict", *map(str, dist.iterdir()))
