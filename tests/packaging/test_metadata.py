"""The project metadata: every third-party import is declared, the classifiers say what is tested."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _imported_top_level_modules() -> dict[str, set[str]]:
    """Map each top-level module that opsmessaging imports (at any depth) to its importers."""
    imported: dict[str, set[str]] = {}
    for path in sorted((ROOT / "opsmessaging").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                imported.setdefault(name.partition(".")[0], set()).add(
                    str(path.relative_to(ROOT))
                )
    return imported


def _declared() -> dict[str, str]:
    """Map each distribution the project declares to where: "core" or the extra's name."""
    declared = {
        canonicalize_name(Requirement(spec).name): "core"
        for spec in PROJECT["dependencies"]
    }
    for extra, specs in PROJECT["optional-dependencies"].items():
        for spec in specs:
            name = canonicalize_name(Requirement(spec).name)
            if name != "opsmessaging":
                declared.setdefault(name, extra)
    return declared


def _unconditional_requirements(distribution: str) -> set[str]:
    return {
        canonicalize_name(requirement.name)
        for requirement in map(
            Requirement, importlib.metadata.requires(distribution) or []
        )
        if requirement.marker is None
    }


# Imported, but installed by the declared distribution beside it, as part of its API.
INSTALLED_WITH = {"asgiref": "django", "billiard": "celery"}


def test_packages_imported_through_another_distribution_come_with_it() -> None:
    declared = _declared()

    assert {
        package: parent in declared and package in _unconditional_requirements(parent)
        for package, parent in INSTALLED_WITH.items()
    } == dict.fromkeys(INSTALLED_WITH, True)


def test_every_third_party_import_is_a_dependency_or_in_an_extra() -> None:
    provided = set(_declared()) | set(INSTALLED_WITH)
    distributions = importlib.metadata.packages_distributions()

    undeclared = {
        module: sorted(importers)
        for module, importers in _imported_top_level_modules().items()
        if module not in sys.stdlib_module_names
        and module not in {"__future__", "opsmessaging"}
        and not {canonicalize_name(d) for d in distributions.get(module, [module])}
        & provided
    }

    assert undeclared == {}


def test_extras_are_each_an_optional_part_and_all() -> None:
    extras = PROJECT["optional-dependencies"]

    parts = [
        "api",
        "celery",
        "channels",
        "client",
        "metrics",
        "otlp",
        "postgres",
        "redis",
    ]
    assert sorted(extras) == sorted([*parts, "all"])
    assert extras["all"] == [f"opsmessaging[{','.join(parts)}]"]


def _noxfile_matrix() -> tuple[list[str], list[str]]:
    """Return noxfile.py's PYTHONS and DJANGOS (read, not imported: it configures pyenv)."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    values = {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id in {"PYTHONS", "DJANGOS"}
    }
    return values["PYTHONS"], values["DJANGOS"]


def test_classifiers_name_the_pythons_and_djangos_of_the_test_matrix() -> None:
    pythons, djangos = _noxfile_matrix()
    classifiers = PROJECT["classifiers"]

    assert [
        c for c in classifiers if c.startswith("Programming Language :: Python :: 3.")
    ] == [f"Programming Language :: Python :: {python}" for python in pythons]
    assert [c for c in classifiers if c.startswith("Framework :: Django :: ")] == [
        f"Framework :: Django :: {django}" for django in djangos
    ]
    assert PROJECT["requires-python"] == f">={pythons[0]}"
    assert "Typing :: Typed" in classifiers


def test_the_newest_pass_runs_the_newest_python_and_django_of_the_matrix() -> None:
    pythons, djangos = _noxfile_matrix()
    makefile = (ROOT / "Makefile").read_text()
    newest = (ROOT / "requirements-newest.txt").read_text().splitlines()

    assert f"NEWEST_PYTHON ?= python{pythons[-1]}" in makefile
    assert f"PYENV_VERSION={pythons[-1]} " in makefile
    major, minor = map(int, djangos[-1].split("."))
    assert f"Django>={djangos[-1]},<{major}.{minor + 1}" in newest
