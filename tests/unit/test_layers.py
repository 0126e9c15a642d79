"""The floors of DESIGN.md, read from the imports: nothing imports the floor above it,
and no two files import each other, directly or round a longer loop.

Every ``import``/``from ... import`` of the product's packages is read with
``ast``.  For the floors, wherever it sits (inside functions too: a lazy import
is still a dependency on the floor it names).  For cycles, at module level,
``if TYPE_CHECKING:`` included (two files that need each other's types are one
design split in two) and a function's lazy import or the ``__main__`` block
left out.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("wanminiport", "ndiswan", "hw", "wanctl")
#: What each floor may not import.
FORBIDDEN = {
    "wanminiport": ("ndiswan", "wanctl", "hw"),
    "ndiswan": ("wanctl", "hw"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _is_main_block(node: ast.AST) -> bool:
    """``if __name__ == "__main__":``: runs only when the file is a script."""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def _imported(node: ast.Import | ast.ImportFrom, modules: Mapping[str, object]) -> list[str]:
    """The product modules one import statement names (``from a import b`` names
    ``a.b`` when that is a module, else ``a``)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.module and node.level == 0:
        names = [
            f"{node.module}.{alias.name}"
            if f"{node.module}.{alias.name}" in modules
            else node.module
            for alias in node.names
        ]
    else:
        names = []
    return [name for name in names if name.split(".")[0] in PACKAGES]


def _imports(
    source: str, module: str, modules: Mapping[str, object], *, module_level_only: bool
) -> set[str]:
    """What ``module`` imports: everywhere, or only at module level (which includes
    ``if TYPE_CHECKING:`` and excludes functions and the ``__main__`` block)."""
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if module_level_only and _is_main_block(child):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                if top or not module_level_only:
                    found.update(_imported(child, modules))
                continue
            nested = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, top and not nested)

    visit(ast.parse(source), True)
    found.discard(module)
    return found


def _violations(modules: dict[str, Path]) -> list[str]:
    bad = []
    for module, path in modules.items():
        floor = module.split(".")[0]
        for name in sorted(_imports(path.read_text(), module, modules, module_level_only=False)):
            if name.split(".")[0] in FORBIDDEN.get(floor, ()):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def _module_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    return {
        module: {
            name
            for name in _imports(path.read_text(), module, modules, module_level_only=True)
            if name in modules
        }
        for module, path in modules.items()
    }


#: Cycles being removed, each with why it is still here.
KNOWN_CYCLES: list[list[str]] = []


def test_no_floor_imports_the_floor_above_it() -> None:
    assert _violations(_modules()) == []


def test_no_import_cycle_between_files() -> None:
    assert [c for c in _cycles(_module_graph(_modules())) if c not in KNOWN_CYCLES] == []


def test_the_checks_can_fail() -> None:
    """The two checks above, shown failing on made-up input."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from wanctl.cli import main\n"
    )
    modules = {"wanctl.cli": None}
    assert _imports(source, "wanminiport.x", modules, module_level_only=True) == {"wanctl.cli"}
    lazy = "def f():\n    import wanctl.cli\nif __name__ == '__main__':\n    import hw.lab\n"
    assert _imports(lazy, "m", modules, module_level_only=True) == set()
    assert _imports(lazy, "m", modules, module_level_only=False) == {"wanctl.cli", "hw.lab"}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_read(package: str) -> None:
    assert any(name.split(".")[0] == package for name in _modules())


def test_every_known_cycle_is_still_there() -> None:
    """A cycle that is gone leaves KNOWN_CYCLES, so the exception cannot hide a new one."""
    found = _cycles(_module_graph(_modules()))
    assert [c for c in KNOWN_CYCLES if c not in found] == []
