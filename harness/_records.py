"""What a run directory stores per case: result rows and the failure corpus.

One definition each, next to :class:`~highfive.harness.RunDir`:

- :class:`Outcome` is one case judged for one counter; its fields, with their Arrow
  types, *are* the outcome columns of a result row (:data:`OUTCOME_SCHEMA`), so the
  writer cannot drift from the schema;
- :class:`FailureCase` is one failing case's raw trace, truth and every counter's
  output, with :meth:`FailureCase.encode` and :meth:`FailureCase.decode` for the rows
  of ``failures/part-*.parquet`` (:data:`FAILURE_SCHEMA`).

A result row is ``case_id``, the case's parameters (one column per dimension),
``source`` ("synthetic" or "recording"), ``recording`` (the file a recorded case was
read from, relative to the recordings folder; null for a synthetic case), the labels'
metadata columns of a campaign of recordings, then the outcome columns, and for
importance-sampled cases their ``weight``. A recorded case has no parameters: its
parameter columns are null, and its metadata columns (and, when none of them holds two
values, ``recording``) carry the categorical dimensions that coverage bins it by.
When a counter gives no answer (verdict ``error`` or
``timeout``) it counted nothing: ``predicted_count`` 0, every high-five a miss, and
``message`` says what went wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from highfive.generators import Detection, Event, ParameterSpace, Trace

__all__ = [
    "FAILURE_SCHEMA",
    "MAX_COUNT",
    "OUTCOME_SCHEMA",
    "SOURCES",
    "WEIGHT_FIELD",
    "FailureCase",
    "Outcome",
    "counter_id",
    "outcome_table",
    "result_schema",
]


def _col(arrow: pa.DataType, default: Any = MISSING) -> Any:
    # A dataclass field that carries its Arrow type (the schema is read off the fields).
    return field(default=default, metadata={"arrow": arrow})


@dataclass(frozen=True)
class Outcome:
    """One case judged for one counter (the outcome columns of its result row)."""

    duration_s: float = _col(pa.float64())
    n_samples: int = _col(pa.int32())
    motions: str = _col(pa.string())
    true_count: int = _col(pa.int16())
    predicted_count: int = _col(pa.int16())
    tp: int = _col(pa.int16())
    fp: int = _col(pa.int16())
    fn: int = _col(pa.int16())
    duplicates: int = _col(pa.int16())
    count_error: int = _col(pa.int16())
    verdict: str = _col(pa.string())
    margin: float = _col(pa.float32())
    """How far the window probabilities stayed from deciding otherwise (NaN: none)."""
    max_prob: float = _col(pa.float32())
    detection_times: list[float] = _col(pa.list_(pa.float32()))  # noqa: RUF009
    message: str | None = _col(pa.string(), None)
    """What went wrong, for the verdicts error and timeout; else null."""
    latency_s: float = _col(pa.float32(), float("nan"))
    """Worst detection latency over the matched high-fives (s): emission time minus
    impact, for a trace fed in chunks; NaN when not streamed or nothing matched."""


OUTCOME_SCHEMA = pa.schema([pa.field(f.name, f.metadata["arrow"]) for f in fields(Outcome)])
"""The outcome columns of a result row, from :class:`Outcome`'s fields."""


MAX_COUNT = int(np.iinfo(OUTCOME_SCHEMA.field("true_count").type.to_pandas_dtype()).max)
"""The largest count a result row holds (32,767: the count columns are int16): the most
high-fives a recording's labels may give, and the most detections a counter may return."""


SOURCES = ("synthetic", "recording")
"""Values of the ``source`` column: where a case's trace came from."""


WEIGHT_FIELD = pa.field("weight", pa.float64(), nullable=True)
"""The last column of importance-sampled results: the case's weight, base over
sampling density at its point. Runs of other samplers have no such column (weight 1)."""


def result_schema(
    space: ParameterSpace, labels: ParameterSpace | None = None, *, weighted: bool = False
) -> pa.Schema:
    """The full schema of a result part file.

    Parameters
    ----------
    space : ParameterSpace
        The campaign's space: one column per dimension.
    labels : ParameterSpace, optional
        For a campaign of recordings, the categorical dimensions read from its labels
        file (metadata columns, or ``recording``). The parameter columns are then
        nullable and carry no dimension metadata, so a reader rebuilds the labels'
        space from the schema, never the parameters' (no recorded case has any).
    weighted : bool
        With the ``weight`` column of importance-sampled cases, last.
    """
    if labels is None:
        params = list(space.to_arrow_schema())
        own = pa.schema([])
    else:
        params = [pa.field(f.name, f.type) for f in space.to_arrow_schema()]
        own = labels.to_arrow_schema()
    recording = (
        own.field("recording") if "recording" in own.names else pa.field("recording", pa.string())
    )
    meta = [f for f in own if f.name != "recording"]
    fields = [
        pa.field("case_id", pa.int64()),
        *params,
        pa.field("source", pa.string(), nullable=False),
        recording,
        *meta,
        *OUTCOME_SCHEMA,
    ]
    return pa.schema([*fields, WEIGHT_FIELD] if weighted else fields)


def outcome_table(outcomes: Sequence[Outcome]) -> pa.Table:
    """Outcome columns of several cases, in :data:`OUTCOME_SCHEMA`."""
    return pa.table(
        {f.name: [getattr(o, f.name) for o in outcomes] for f in OUTCOME_SCHEMA},
        schema=OUTCOME_SCHEMA,
    )


def counter_id(name: str) -> str:
    """A short, path-safe identifier (the hive value ``model=<id>`` in results/)."""
    stem = Path(name).name.removesuffix(".onnx")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "counter"


FAILURE_SCHEMA = pa.schema(
    [
        pa.field("case_id", pa.int64()),
        pa.field("verdicts", pa.string()),  # JSON {counter: verdict}
        pa.field("fs", pa.float64()),
        pa.field("t", pa.list_(pa.float64())),
        pa.field("x", pa.list_(pa.float32())),
        pa.field("y", pa.list_(pa.float32())),
        pa.field("z", pa.list_(pa.float32())),
        pa.field("events", pa.string()),  # JSON list of truth events
        pa.field("detections", pa.string()),  # JSON {counter: [[time, score], ...]}
        pa.field("params", pa.string()),  # JSON parameter row
        pa.field("messages", pa.string()),  # JSON {counter: message} of error/timeout
    ]
)
"""Rows of ``failures/part-*.parquet``: every case that some counter failed."""


@dataclass(frozen=True)
class FailureCase:
    """A failing case as the failure corpus keeps it (enough to retrain or replay)."""

    case_id: int
    trace: Trace
    verdicts: Mapping[str, str]
    detections: Mapping[str, list[Detection]]
    messages: Mapping[str, str] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        """The corpus row (:data:`FAILURE_SCHEMA`)."""
        tr = self.trace
        row: dict[str, Any] = {
            "case_id": self.case_id,
            "verdicts": json.dumps(dict(self.verdicts)),
            "fs": tr.fs,
            "t": tr.t,
            "events": json.dumps([e.__dict__ for e in tr.events]),
            "detections": json.dumps(
                {m: [[d.time, d.score] for d in dets] for m, dets in self.detections.items()}
            ),
            "params": json.dumps(dict(tr.params)),
            "messages": json.dumps(dict(self.messages)),
        }
        for i, axis in enumerate("xyz"):
            row[axis] = tr.samples[:, i]
        return row

    @classmethod
    def decode(cls, row: Mapping[str, Any]) -> FailureCase:
        """Read a corpus row back (rows written before ``messages`` existed too)."""
        events = tuple(Event(**e) for e in json.loads(row["events"]))
        samples = np.stack([row["x"], row["y"], row["z"]], axis=1).astype(np.float32)
        params = json.loads(row["params"])
        trace = Trace(
            np.asarray(row["t"], dtype=np.float64), samples, float(row["fs"]), events, params
        )
        dets = {
            m: [Detection(float(t), float(s)) for t, s in d]
            for m, d in json.loads(row["detections"]).items()
        }
        messages = json.loads(row.get("messages") or "{}")
        return cls(int(row["case_id"]), trace, json.loads(row["verdicts"]), dets, messages)


def failure_table(cases: Sequence[FailureCase]) -> pa.Table | None:
    """The corpus rows of ``cases`` (None if there are none)."""
    if not cases:
        return None
    return pa.Table.from_pylist([c.encode() for c in cases], schema=FAILURE_SCHEMA)
