"""The layout is the architecture: each package imports only the floors below it, and no module imports in a circle
(function-level imports included: a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package → the packages it may import (besides itself)
ALLOWED = {
    "kiosk.core": set(),
    "kiosk.speech": {"kiosk.core"},
    "kiosk.translation": {"kiosk.core", "kiosk.speech"},
    "kiosk.screen": {"kiosk.core"},
    "kiosk.branch": {"kiosk.core", "hardware"},
    "kiosk.service": {"kiosk.core", "kiosk.speech", "kiosk.translation", "kiosk.screen", "kiosk.branch", "hardware"},
    "hardware": set(),
}
TOP = {"kiosk.core", "kiosk.speech", "kiosk.translation", "kiosk.screen", "kiosk.branch", "kiosk.service", "hardware"}


def modules() -> dict[str, Path]:
    out = {}
    for top in ("kiosk", "hardware"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def owner(mod: str) -> str:
    for top in sorted(TOP, key=len, reverse=True):
        if mod == top or mod.startswith(top + "."):
            return top
    return "kiosk"  # the app wiring, CLI and benches on top


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def test_packages_import_only_the_floors_below(graph):
    bad = []
    for mod, deps in graph.items():
        own = owner(mod)
        if own == "kiosk":
            continue
        for d in deps:
            other = owner(d)
            if d == "kiosk":  # the root package holds only the version
                continue
            if other != own and other not in ALLOWED[own]:
                bad.append(f"{mod} imports {d}")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycles(graph):
    # a package's __init__ is not an edge to its modules' importers (it imports nothing of theirs)
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            strongconnect(v)
    assert not cycles, cycles


def test_every_package_says_what_it_owns_and_may_import():
    for pkg in TOP:
        init = ROOT / Path(*pkg.split(".")) / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "Owns" in doc or "owns" in doc, pkg
        assert "import" in doc, pkg
