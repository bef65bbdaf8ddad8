"""Fingerprints: SHA-256 of canonical JSON, so that equal settings hash alike.

Coverage counts merge only when the fingerprints of their space, bins and crosses match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from highfive.generators import ParameterSpace

__all__ = [
    "differing_dimensions",
    "fingerprint",
    "judging_differences",
    "label_union",
    "labels_within",
    "space_fingerprint",
]


JUDGING = ("tolerance", "counter_timeout_s", "stream_chunk_s")
"""Settings of campaign.json's identity by which a run judges its cases: the same cases
and counters give other verdicts under others."""


def judging_differences(
    record_a: Mapping[str, Any], record_b: Mapping[str, Any], a: str = "A", b: str = "B"
) -> list[str]:
    """How two runs (their campaign.json records, named ``a`` and ``b``) judge their
    cases differently: :data:`JUDGING`, and the units and time unit their recordings are
    read in (the same file read in other units is another signal); empty if alike."""
    ia, ib = record_a.get("identity", {}), record_b.get("identity", {})
    # A setting an older run did not record is not taken for a difference.
    differ = [
        f"{k} {ia[k]} in {a}, {ib[k]} in {b}"
        for k in JUDGING
        if k in ia and k in ib and ia[k] != ib[k]
    ]
    read_a, read_b = (r.get("config", {}).get("recordings") or {} for r in (record_a, record_b))
    if read_a and read_b:
        for k in ("units", "time_unit"):
            x, y = read_a.get(k, "auto"), read_b.get(k, "auto")
            if x != y:
                differ.append(f"recordings.{k} {x} in {a}, {y} in {b}")
    return differ


def _canon(value: Any) -> Any:
    """JSON-ready canonical form: numbers as floats, so 8 and 8.0 fingerprint alike."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    raise TypeError(f"cannot fingerprint {value!r}")


def fingerprint(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (numbers as floats, keys sorted)."""
    text = json.dumps(_canon(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def space_fingerprint(space: ParameterSpace) -> str:
    """SHA-256 of the space's canonical JSON (descriptions and sources left out)."""
    dims = [
        {k: v for k, v in d.to_dict().items() if k not in ("description", "source")} for d in space
    ]
    return fingerprint(dims)


def differing_dimensions(a: ParameterSpace, b: ParameterSpace) -> list[str]:
    """The dimensions two spaces do not share alike: ``a``'s that ``b`` lacks or holds
    otherwise, in ``a``'s order, then ``b``'s that ``a`` lacks."""
    return [d.name for d in a if d.name not in b or b[d.name].to_dict() != d.to_dict()] + [
        d.name for d in b if d.name not in a
    ]


def _labels(space: ParameterSpace) -> list[tuple[str, tuple[str, ...] | None]]:
    """(name, its categorical choices) per dimension; None: not categorical."""
    return [
        (d.name, tuple(map(str, d.choices or ())) if d.kind == "categorical" else None)
        for d in space
    ]


RECORDING = "recording"
"""The dimension of a run of recordings none of whose label columns holds two values
(one bin per file); merged with runs whose columns do, it is not binned."""


def labels_within(space: ParameterSpace, wider: ParameterSpace) -> bool:
    """Whether ``wider`` holds ``space``'s categorical dimensions, in any order, with
    every one of their values and perhaps more (the label space of merged runs of
    recordings), and nothing else; ``space``'s ``recording`` may be left out (it is not
    binned once a label column holds several values)."""
    mine, theirs = dict(_labels(space)), dict(_labels(wider))
    if any(c is None for c in [*mine.values(), *theirs.values()]):
        return False
    return (
        set(theirs) <= set(mine)
        and set(mine) - set(theirs) <= {RECORDING}
        and all(set(mine[n] or ()) <= set(theirs[n] or ()) for n in theirs)
    )


def label_union(
    spaces: Sequence[ParameterSpace], runs: Sequence[str], what: str = "merge coverage"
) -> ParameterSpace:
    """The space of every label value of several runs of recordings (``runs``: their
    names, for the message): one dimension per label column, in the first run's order,
    its values the union, sorted, as a labels file's are; ``recording`` too only when
    no column then holds two values, as a single run's labels space has it. ``what``
    the runs are for: "merge coverage", "diff".

    Raises
    ------
    ConfigError
        The runs bin different label columns (or one is no run of recordings).
    """
    from highfive.generators import ConfigError, Dimension

    labels = [dict(_labels(s)) for s in spaces]
    columns = [[n for n in s.names if n != RECORDING] for s in spaces]
    if any(set(c) != set(columns[0]) for c in columns) or any(
        c is None for one in labels for c in one.values()
    ):
        shown = "; ".join(
            f"{', '.join(s.names)} in {r!r}" for s, r in zip(spaces, runs, strict=True)
        )
        raise ConfigError(
            f"cannot {what}: the runs of recordings bin different label columns "
            f"({shown}); runs of recordings compare when they bin the same label columns, "
            "whatever their values and order (a run binned by recording alone holds no "
            "column with two values); count them apart"
        )
    values = {n: sorted({v for one in labels for v in one[n] or ()}) for n in columns[0]}
    if not any(len(v) > 1 for v in values.values()):
        if any(RECORDING not in one for one in labels):
            # A run of recordings always has it then: a run without it is of another kind.
            raise ConfigError(f"cannot {what}: a run holds no recording dimension")
        values[RECORDING] = sorted({v for one in labels for v in one[RECORDING] or ()})
    dims = []
    for name, choices in values.items():
        d = next(s[name] for s in spaces if name in s.names)
        dims.append(
            Dimension(
                name,
                "categorical",
                choices=tuple(choices),
                description=d.description,
                source=d.source,
            )
        )
    return ParameterSpace(dims)
