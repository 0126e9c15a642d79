"""The PPP core does no I/O: no module under ndiswan/ppp imports an I/O module."""

from __future__ import annotations

import ast
from pathlib import Path

import ndiswan.ppp

FORBIDDEN = {
    "os",
    "socket",
    "asyncio",
    "serial",
    "select",
    "threading",
    "subprocess",
    "time",
    "usb",
}
PACKAGE = Path(ndiswan.ppp.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_core_module_imports_an_io_module() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    offenders = {str(f.relative_to(PACKAGE)): imported_roots(f) & FORBIDDEN for f in files}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_core_reaches_only_downward_into_the_project() -> None:
    project = {"ndiswan", "wanminiport", "wanctl", "hw"}
    reached = set().union(*(imported_roots(f) & project for f in PACKAGE.rglob("*.py")))
    assert reached <= {"ndiswan", "wanminiport"}
