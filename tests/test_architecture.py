"""The house rules of runner/, checked on its source: imports flow one way (no cycle between modules), no module
reaches into another package's private names, the config layer never imports torch, and docs/architecture.md
names every module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from support import ROOT

PACKAGE = ROOT / "runner"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def package_of(module: str) -> str:
    """The package a module belongs to (a package's __init__ belongs to the package itself)."""
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported runner module, names taken from it, line) for every import in `module`, at any depth: an import
    inside a function counts too, since it forms the same cycle the moment it runs."""
    tree = ast.parse(MODULES[module].read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "runner"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "runner":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                # `from runner.schedules import scale_fns` imports the submodule, not a name of the package
                found.append((sub, [], node.lineno) if sub in MODULES else (node.module, [alias.name], node.lineno))
    return [(target, names, line) for target, names, line in found if target in MODULES]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle_between_runner_modules():
    graph = {m: {t for t, _, _ in imports(m) if t != m} for m in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_a_private_name_of_another_package():
    offenders = []
    for module in MODULES:
        for target, names, line in imports(module):
            private = [n for n in names if n.startswith("_")]
            if private and package_of(target) != package_of(module):
                offenders.append(f"{module}:{line} imports {', '.join(private)} from {target}")
    assert not offenders, "\n".join(offenders)


def test_validating_a_config_imports_neither_torch_nor_matplotlib():
    # A bad value is refused before torch (about 1.5 s of every start) is loaded.
    code = (
        "import sys; from runner.config import validate; from runner.tasks import TASKS; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision', 'matplotlib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_architecture_doc_names_every_module():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [m for m, p in MODULES.items() if p.name != "__init__.py" and f"{m.replace('.', '/')}.py" not in doc]
    packages = [m for m, p in MODULES.items() if p.name == "__init__.py" and m != "runner"]
    missing += [m for m in packages if f"{m.replace('.', '/')}/" not in doc]
    assert not missing, f"docs/architecture.md does not mention: {missing}"
