"""Every protocol core does no I/O (DESIGN.md): neither it nor anything it imports
from the project imports an I/O module or reads a clock.

The cores: the framers, the PPP cores (ndiswan/ppp, with CCP's methods), the
Hayes dialer, the chat interpreter and its script parser, the AT result
parser, and the modem emulator's engine.  Their asyncio drivers
(``mcm/signaling.py``, ``mcm/dialup.py``, ``hw/lab/modem/exchange.py``,
``ndiswan/link.py``) are not cores.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("wanminiport", "ndiswan", "hw", "wanctl")
FORBIDDEN = {
    "os",
    "socket",
    "asyncio",
    "serial",
    "select",
    "selectors",
    "threading",
    "subprocess",
    "time",
    "usb",
    "fcntl",
    "termios",
    "signal",
}
CORE_FILES = [
    *sorted((ROOT / "wanminiport" / "framing").glob("*.py")),
    *sorted((ROOT / "ndiswan" / "ppp").rglob("*.py")),
    *(
        ROOT / "wanminiport" / "mcm" / name
        for name in ("hayes.py", "chat.py", "chat_script.py", "results.py", "commands.py")
    ),
    ROOT / "hw" / "lab" / "modem" / "engine.py",
    ROOT / "wanminiport" / "sansio.py",
]


def _module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> set[str]:
    """Every module an import in ``path`` loads when it runs: the module, its parent
    packages (their ``__init__`` runs first) and ``from`` names that are modules.
    ``if TYPE_CHECKING:`` blocks never run and are skipped."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    names.update(_with_parents(alias.name))
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names.update(_with_parents(child.module))
                names.update(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return names


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def io_reached_from(path: Path) -> dict[str, set[str]]:
    """Each project file reachable from ``path`` by imports, with the I/O modules it
    imports (only the files that import some)."""
    seen: set[Path] = set()
    found: dict[str, set[str]] = {}
    # Importing a file runs its packages' __init__ first.
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    todo = [path, *(p for p in map(_module_path, _with_parents(module)[:-1]) if p is not None)]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        names = _imports(current)
        bad = {name.split(".")[0] for name in names} & FORBIDDEN
        if bad:
            found[str(current.relative_to(ROOT))] = bad
        for name in names:
            if name.split(".")[0] in PROJECT:
                target = _module_path(name)
                if target is not None:
                    todo.append(target)
    return found


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_no_io_even_indirectly(path: Path) -> None:
    assert io_reached_from(path) == {}


def test_every_named_core_exists() -> None:
    assert all(path.exists() for path in CORE_FILES)
    assert len(CORE_FILES) > 30


def test_the_check_sees_an_indirect_import() -> None:
    """A driver is caught through the core that imports it (proof the check can fail)."""
    reached = io_reached_from(ROOT / "wanminiport" / "mcm" / "dialup.py")
    assert reached.get("wanminiport/mcm/signaling.py") == {"asyncio"}
