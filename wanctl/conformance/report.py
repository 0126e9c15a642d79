"""The reports: a table for the terminal and JUnit XML for CI systems."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from wanctl.conformance.case import Outcome, Result

_MARK = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "FAIL",
    Outcome.NOT_APPLICABLE: "n/a",
    Outcome.ERROR: "ERROR",
}


def table_header() -> str:
    return f"{'case':<28} {'rule':<16} {'':<6} {'result':<6} evidence"


def table_row(result: Result, width: int | None = None) -> str:
    case = result.case
    width = width or shutil.get_terminal_size((120, 24)).columns
    line = (
        f"{case.id:<28} {case.rfc:<16} {case.strength.value:<6} "
        f"{_MARK[result.outcome]:<6} {result.evidence}"
    )
    return line if len(line) <= width else line[: width - 1] + "…"


def summary(results: Sequence[Result]) -> str:
    counts = Counter(r.outcome for r in results)
    broken = [r.case.id for r in results if r.breaks_a_must]
    shoulds = [
        r.case.id
        for r in results
        if r.outcome is Outcome.FAIL and r.case.strength.value == "SHOULD"
    ]
    text = (
        f"{len(results)} cases: {counts[Outcome.PASS]} passed, {counts[Outcome.FAIL]} failed, "
        f"{counts[Outcome.ERROR]} errors, {counts[Outcome.NOT_APPLICABLE]} not applicable"
    )
    if broken:
        text += f"\nMUST broken: {', '.join(broken)}"
    else:
        text += "\nevery MUST that applies passed"
    if shoulds:
        text += f"\nSHOULD not followed: {', '.join(shoulds)}"
    return text


def junit_xml(results: Sequence[Result], name: str = "wanctl conformance") -> str:
    counts = Counter(r.outcome for r in results)
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(counts[Outcome.FAIL]),
        errors=str(counts[Outcome.ERROR]),
        skipped=str(counts[Outcome.NOT_APPLICABLE]),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in results:
        case = result.case
        element = ET.SubElement(
            suite,
            "testcase",
            classname=f"{case.group}",
            name=f"{case.id} [{case.rfc} {case.strength.value}]",
            time=f"{result.seconds:.3f}",
        )
        if result.outcome is Outcome.FAIL:
            ET.SubElement(element, "failure", message=result.evidence, type=case.strength.value)
        elif result.outcome is Outcome.ERROR:
            ET.SubElement(element, "error", message=result.evidence)
        elif result.outcome is Outcome.NOT_APPLICABLE:
            ET.SubElement(element, "skipped", message=result.evidence)
        else:
            ET.SubElement(element, "system-out").text = result.evidence
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
