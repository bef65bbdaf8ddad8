"""Gate files: ``gate.json`` and its JUnit XML, for CI systems (Jenkins, GitLab, GitHub).

The root is one ``<testsuite name="highfive gate">`` with one ``<testcase>`` per
criterion and model: ``classname="highfive.gate.<kind>"``, ``name="<name> [<model>]"``.
A failed criterion holds ``<failure message="value; need threshold">detail</failure>``;
a passed one keeps its value in ``<system-out>``. Every text and attribute is XML 1.0
whatever the run holds: a character XML forbids (most control characters, from a model id
or a recording's metadata in a cell label) is written as its Python escape (``\\x1b``).
Suite attributes count tests,
failures, errors (always 0: a gate that cannot be evaluated writes nothing; when its
gate file is good but the run cannot be judged, ``highfive gate`` removes the run's
gate.json and junit.xml of an earlier gate, so that CI finds no report rather than an
old one) and skipped (always 0).

:func:`junit_xml` takes the plain ``gate.json`` document; :func:`write_gate` writes
both files of a :class:`highfive.coverage.GateResult` into the run directory.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highfive.generators import escape
from highfive.harness import Writer, atomic_write_text, json_text, write_together

if TYPE_CHECKING:
    from highfive.coverage import GateResult

__all__ = ["junit_xml", "write_gate", "write_junit"]


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 does not allow in a document (most C0 controls, surrogates,
U+FFFE and U+FFFF): a file holding one is not XML, and CI publishers reject it."""


def _x(value: Any) -> str:
    """``value`` as text XML 1.0 can hold: each character it forbids as its Python
    escape (``\\x1b``), everything else as it is. Every text and attribute junit.xml
    writes goes through here (cell labels come from recordings' metadata, model ids
    from campaign.json)."""
    return escape(str(value), _NOT_XML)


def _name(c: Mapping[str, Any]) -> str:
    return f"{c['name']} [{c['model']}]" if c.get("model") else str(c["name"])


def junit_xml(report: Mapping[str, Any], *, times: Sequence[float] | None = None) -> str:
    """JUnit XML text of a gate report.

    Parameters
    ----------
    report : mapping
        The ``gate.json`` document: ``verdict``, ``run``, ``gate_file``,
        ``confidence``, ``evaluated`` and ``criteria`` (each with ``name``, ``kind``,
        ``model``, ``threshold``, ``value``, ``passed``, ``detail``).
    times : sequence of float, optional
        Seconds spent on each criterion (default 0).

    Returns
    -------
    str
        An XML document (with declaration), UTF-8.
    """
    criteria = list(report["criteria"])
    secs = [0.0] * len(criteria) if times is None else [float(t) for t in times]
    if len(secs) != len(criteria):
        raise ValueError(f"times: {len(secs)} values for {len(criteria)} criteria")
    failures = sum(not c["passed"] for c in criteria)
    suite = ET.Element(
        "testsuite",
        name="highfive gate",
        tests=str(len(criteria)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{sum(secs):.3f}",
        timestamp=_x(report.get("evaluated", "")),
    )
    props = ET.SubElement(suite, "properties")
    for key in ("verdict", "run", "gate_file", "confidence"):
        ET.SubElement(props, "property", name=key, value=_x(report.get(key, "")))
    for c, t in zip(criteria, secs, strict=True):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_x(f"highfive.gate.{c['kind']}"),
            name=_x(_name(c)),
            time=f"{t:.3f}",
        )
        if c["passed"]:
            ET.SubElement(case, "system-out").text = _x(f"{c['value']} (need {c['threshold']})")
        else:
            fail = ET.SubElement(
                case,
                "failure",
                message=_x(f"{c['value']}; need {c['threshold']}"),
                type="GateCriterionFailed",
            )
            fail.text = _x(c["detail"])
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(
    path: str | os.PathLike[str],
    report: Mapping[str, Any],
    *,
    times: Sequence[float] | None = None,
) -> Path:
    """Write :func:`junit_xml` to ``path`` atomically; return the path."""
    dest = Path(path)
    atomic_write_text(dest, junit_xml(report, times=times))
    return dest


def _text_writer(text: str) -> Writer:
    return lambda tmp: tmp.write_text(text)


def _as_os_error(flag: str, dest: Path, exc: OSError) -> OSError:
    """The error of a file that could not be written, naming that file."""
    return OSError(exc.errno, exc.strerror or str(exc), os.fspath(dest))


def write_gate(run: str | os.PathLike[str], result: GateResult) -> list[Path]:
    """Write ``RUN/gate.json`` and ``RUN/junit.xml``, both or neither; return their paths.

    Parameters
    ----------
    run : path
        The run directory the gate judged.
    result : highfive.coverage.GateResult
        From :func:`highfive.coverage.evaluate_gate`; each criterion's ``seconds`` go
        to junit.xml only.
    """
    out = Path(run)
    doc = result.to_dict()
    written = [out / "gate.json", out / "junit.xml"]
    texts = [
        json_text(doc),
        junit_xml(doc, times=[c.seconds for c in result.criteria]),
    ]
    # Both or neither: each is written to a temporary name, renamed once both are, and
    # the first put back if the second cannot be.
    write_together(
        {dest.name: (dest, _text_writer(text)) for dest, text in zip(written, texts, strict=True)},
        error=_as_os_error,
    )
    return written
