"""The package's import graph: no cycle, function-level imports included, each explained.

An AST walk of every module of ``opsmessaging`` (migrations aside), independent of
import-linter (whose layer contract ``make lint`` runs as well).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import opsmessaging

PACKAGE = Path(opsmessaging.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "migrations" in parts:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[ast.stmt, bool]]:
    """Yield every import statement and whether it is inside a function."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.stmt, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # for the type checker only: never imported at run time
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, in_function
            inner = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef
            )
            yield from walk(child, inner)

    return walk(tree, False)


def _targets(statement: ast.stmt) -> set[str]:
    """The modules of ``opsmessaging`` that an import statement loads."""
    names: set[str] = set()
    if isinstance(statement, ast.Import):
        names = {alias.name for alias in statement.names}
    elif isinstance(statement, ast.ImportFrom) and statement.module:
        names = {statement.module}
        names |= {f"{statement.module}.{alias.name}" for alias in statement.names}
    return {n for n in names if n in MODULES and n != "opsmessaging"}


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        edges = set()
        for statement, _in_function in _imports(tree):
            edges |= _targets(statement)
        # A package's submodule imports its package's __init__ first.
        graph[name] = edges - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _top_level(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between the package's top-level modules and subpackages."""

    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])

    merged: dict[str, set[str]] = {}
    for name, targets in graph.items():
        merged.setdefault(unit(name), set()).update(
            unit(t) for t in targets if unit(t) != unit(name)
        )
    return merged


def test_the_walk_sees_the_whole_package():
    assert {"opsmessaging.pubsub", "opsmessaging.capture.lifecycle"} <= set(MODULES)
    graph = _graph()
    # A function-level import is an edge too (capture.lifecycle imports pubsub late).
    assert "opsmessaging.pubsub" in graph["opsmessaging.capture.lifecycle"]


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_cycle_between_top_level_modules_and_subpackages():
    assert _cycles(_top_level(_graph())) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]


def _comment_above(lines: list[str], index: int) -> bool:
    """Tell whether a comment stands above the block of imports that line ``index`` is in
    (one comment may explain several imports made together)."""
    above = index - 1
    while above >= 0:
        text = lines[above].strip()
        if text.startswith("#"):
            return True
        if text and not text.startswith(("from ", "import ")):
            return False
        above -= 1
    return False


def test_a_comment_explains_the_block_of_imports_below_it():
    lines = ["def f():", "    # late: why", "    import a", "", "    from b import c"]
    assert _comment_above(lines, 4) is True
    assert _comment_above(["def f():", "    x = 1", "    import a"], 2) is False


def test_every_function_level_import_says_why():
    unexplained = []
    for name, path in MODULES.items():
        source = path.read_text()
        lines = source.splitlines()
        for statement, in_function in _imports(ast.parse(source, str(path))):
            if not in_function or name == "opsmessaging.apps":
                continue  # apps.py says once, in its docstring, why all of its are late
            line = lines[statement.lineno - 1]
            if "#" not in line and not _comment_above(lines, statement.lineno - 1):
                unexplained.append(f"{name}:{statement.lineno}: {line.strip()}")
    assert unexplained == []
