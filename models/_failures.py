"""Failure corpora of earlier campaigns as training data (``model train --add-failures``).

A campaign keeps every case some counter failed in ``failures/`` of its run directory
(:class:`~highfive.harness.FailureCase`: the raw trace the campaign judged, its truth
events and parameters). :func:`load_corpora` reads the corpora of complete runs over the
training space; :func:`failure_windows` cuts each stored trace into windows and labels
them from the stored truth exactly as training labels generated windows
(:func:`~highfive.models._dataset.trace_windows`). The stored trace is used, not a
re-synthesis from the parameters and seed: it is bit for bit what the campaign judged,
whatever the generators have become since.

Weighting: every window of a failing trace is kept (no negative subsampling: many
failures are false counts in negative windows) and repeated ``oversample`` times, so a
failing trace weighs as much as ``oversample`` generated ones.

Which cases trained a model is recorded in its metadata (``train.failures``: per run its
name, seed, space fingerprint and case ids; ``train.seed`` for the generated traces).
A campaign case is the pair (seed, case id): generated training trace ``i`` of seed
``s`` uses the random stream of campaign case ``i`` of a campaign with seed ``s``.
:func:`training_cases` lists the pairs a model was trained on, and
:func:`warn_training_seeds` warns when a campaign would judge a model on the seed of a
failure corpus it was trained on (those cases are the campaign's own).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from highfive.generators import InvalidParameter, ParameterSpace, Trace, default_space, show

from ._dataset import WindowSet, features, trace_windows
from ._defaults import ARCHS, DEFAULT_OVERSAMPLE, MAX_SEED

__all__ = [
    "DEFAULT_OVERSAMPLE",
    "FailureCorpus",
    "check_train_metadata",
    "concat_windows",
    "corpus_metadata",
    "corpus_seeds",
    "decode_case_ids",
    "encode_case_ids",
    "failure_windows",
    "load_corpora",
    "summarize_corpora",
    "trace_seeds",
    "training_cases",
    "warn_campaign_seeds",
    "warn_training_seeds",
]

FAILURES_KEY = "train.failures"
"""Metadata key: JSON list of the corpora a model was trained on."""
_CORPUS_KEYS = (FAILURES_KEY, "train.init_failures")
"""The keys holding corpora: the model's own, and those of the model it was tuned from."""


_INT_KEYS = (
    "train.seed",
    "train.n_traces",
    "train.init_seed",
    "train.init_n_traces",
    "train.failures_oversample",
    "train.failure_cases",
)
"""Metadata keys read as integers >= 0 (seeds, counts)."""
_WIDTHS_KEYS = ("train.widths", "train.init_widths")


def _bad_key(label: str, key: str, value: str, allowed: str) -> InvalidParameter:
    return InvalidParameter(f"{label}: metadata {key} = {show(value)} is not {allowed}")


def _corpus_records(label: str, key: str, value: str) -> list[dict[str, Any]]:
    """The corpus records stored under ``key``, each checked (a JSON list of objects with
    an integer ``seed``, and, when present, ``cases_z`` as written by
    :func:`encode_case_ids`, ``n`` an integer, ``cases_sha256`` a string)."""
    allowed = (
        'a JSON list of failure corpus records ({"run": ..., "seed": <int>, "n": <int> '
        f'up to {MAX_CORPUS_CASES:,}, "cases_z": n case ids}})'
    )
    try:
        records = json.loads(value)
    except ValueError:
        raise _bad_key(label, key, value, allowed) from None
    if not isinstance(records, list):
        raise _bad_key(label, key, value, allowed)
    for r in records:
        ok = isinstance(r, dict) and all(
            isinstance(r.get(k), int) and not isinstance(r.get(k), bool) and r[k] >= 0
            for k in ("seed", "n")
            if k in r or k == "seed"
        )
        ok = ok and all(isinstance(r.get(k, ""), str) for k in ("cases_z", "cases_sha256"))
        ok = ok and r.get("n", 0) <= MAX_CORPUS_CASES
        if ok and "cases_z" in r:  # n ids, never unpacked beyond the bytes n ids take
            try:
                decode_case_ids(r["cases_z"], r.get("n", 0))
            except (ValueError, zlib.error):
                ok = False
        if not ok:
            raise _bad_key(label, key, value, allowed)
    return records


def check_train_metadata(meta: Mapping[str, str], label: str = "model") -> None:
    """Check the ``train.*`` entries other commands read: seeds and counts are integers
    >= 0, widths three integers >= 1, the architecture one of :data:`ARCHS`, failure
    corpora well-formed records.

    Raises
    ------
    InvalidParameter
        One line naming the model (``label``), the key and its value.
    """
    for key in _INT_KEYS:
        if key in meta and not (meta[key].isascii() and meta[key].isdigit()):
            raise _bad_key(label, key, meta[key], "an integer >= 0")
        if key.endswith("seed") and key in meta and int(meta[key]) > MAX_SEED:
            raise _bad_key(label, key, meta[key], f"a seed from 0 to {MAX_SEED:,}")
    for key in _WIDTHS_KEYS:
        if key in meta:
            parts = meta[key].split()
            if len(parts) != 3 or not all(p.isascii() and p.isdigit() and int(p) for p in parts):
                raise _bad_key(label, key, meta[key], "three channel counts >= 1 ('16 32 32')")
    if "train.arch" in meta and meta["train.arch"] not in ARCHS:
        raise _bad_key(label, "train.arch", meta["train.arch"], f"one of {', '.join(ARCHS)}")
    for key in _CORPUS_KEYS:
        if key in meta:
            _corpus_records(label, key, meta[key])


def _corpora(meta: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The corpus records of a model's metadata, per key present (checked)."""
    return {key: _corpus_records("model", key, meta[key]) for key in _CORPUS_KEYS if key in meta}


@dataclass(frozen=True)
class FailureCorpus:
    """The failing cases of one complete campaign."""

    path: Path
    name: str
    seed: int
    space_fingerprint: str
    case_ids: tuple[int, ...]
    traces: tuple[Trace, ...]

    def record(self) -> dict[str, Any]:
        """What the model's metadata keeps of it."""
        return {
            "run": self.name,
            "seed": self.seed,
            "space": self.space_fingerprint[:16],
            "n": len(self.case_ids),
            "cases_z": encode_case_ids(self.case_ids),
        }


def encode_case_ids(ids: Sequence[int]) -> str:
    """Sorted case ids, compactly: LEB128 varints of their gaps, zlib, base64.

    2,478 failing cases of a 100,000-case campaign take 2.9 kB instead of 15 kB of JSON,
    which would otherwise swell a 60 kB model file by a quarter.
    """
    out = bytearray()
    previous = -1
    for i in sorted(ids):
        gap = i - previous
        previous = i
        while gap >= 0x80:
            out.append((gap & 0x7F) | 0x80)
            gap >>= 7
        out.append(gap)
    return base64.b64encode(zlib.compress(bytes(out), 9)).decode("ascii")


MAX_CORPUS_CASES = 1_000_000
"""Most failing cases a model's record of one run may list: more than training could
hold (each is a trace in memory), so a larger number is not a record highfive wrote."""

_MAX_VARINT = 10
"""Bytes of the longest gap :func:`encode_case_ids` writes (a 64-bit one)."""


def decode_case_ids(text: str, n: int) -> list[int]:
    """The ``n`` case ids :func:`encode_case_ids` wrote.

    Raises
    ------
    ValueError
        ``text`` is not base64, or does not hold ``n`` ids; one that unpacks to more
        bytes than ``n`` ids take is not unpacked further (a small text can unpack to
        gigabytes).
    zlib.error
        ``text`` is not zlib data.
    """
    limit = _MAX_VARINT * n
    unpack = zlib.decompressobj()
    data = unpack.decompress(base64.b64decode(text, validate=True), limit + 1)
    if len(data) > limit or unpack.unconsumed_tail:
        raise ValueError(f"more than {n} case ids")
    if not unpack.eof or unpack.unused_data:  # cut short, or bytes after its end
        raise ValueError("not one whole zlib stream")
    ids: list[int] = []
    previous, gap, shift = -1, 0, 0
    for byte in data:
        gap |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            previous += gap
            ids.append(previous)
            gap, shift = 0, 0
    if len(ids) != n or shift:
        raise ValueError(f"{len(ids)} case ids{' and a cut one' if shift else ''}, not {n}")
    return ids


def summarize_corpora(meta: Mapping[str, str]) -> dict[str, str]:
    """``meta`` with each corpus's case list replaced by its SHA-256 (``cases_sha256``).

    What an int8 twin keeps of its float model's corpora: the runs, seeds and counts
    (enough to warn about a campaign seed), not the list, which would take a tenth of
    the int8 file; the float file holds the list.
    """
    out = dict(meta)
    for key, corpora in _corpora(meta).items():
        for corpus in corpora:
            if "cases_z" in corpus:
                z = corpus.pop("cases_z")
                corpus["cases_sha256"] = hashlib.sha256(z.encode("ascii")).hexdigest()
        out[key] = json.dumps(corpora, separators=(",", ":"))
    return out


def _run_space(path: Path) -> ParameterSpace:
    from highfive.harness import RunDir

    return ParameterSpace.from_arrow_schema(RunDir(path).results_dataset().schema)


def load_corpora(
    runs: Sequence[str | os.PathLike[str]], space: ParameterSpace | None = None
) -> list[FailureCorpus]:
    """Read the failure corpora of ``runs``, each checked before any is used.

    Parameters
    ----------
    runs : sequence of path
        Complete run directories (``highfive run``) over the training space.
    space : ParameterSpace, optional
        The training space (default: the default space); each run's space must have
        the same fingerprint (:func:`highfive.coverage.space_fingerprint`).

    Raises
    ------
    RunDirError
        Not a run directory, or an incomplete or damaged one.
    InvalidParameter
        A run of recordings (evaluation data, never training data), a run without
        a case an ONNX model of it miscounted, over another space, given twice, or
        whose failing traces are all another run's (a failing trace two runs share is
        kept once, in the first).
    """
    from highfive.coverage import space_fingerprint
    from highfive.harness import FAIL_VERDICTS, NO_ANSWER, FailureCase, RunDir

    miscounts = [v for v in FAIL_VERDICTS if v not in NO_ANSWER]
    want = space_fingerprint(default_space() if space is None else space)
    out: list[FailureCorpus] = []
    seen: dict[Path, str] = {}
    traces_seen: dict[str, str] = {}
    for run in runs:
        path = Path(run)
        rundir = RunDir(path)
        record = rundir.require_complete("--add-failures", takes="several")
        where = f"--add-failures: run {os.fspath(path)!r}"
        if path.resolve() in seen:
            raise InvalidParameter(f"{where} is given twice")
        seen[path.resolve()] = where
        if _of_recordings(record):
            raise InvalidParameter(
                f"{where} is a campaign of real recordings; recordings are evaluation "
                "data, never training data: add failures of campaigns of generated cases"
            )
        got = space_fingerprint(_run_space(path))
        if got != want:
            raise InvalidParameter(
                f"{where} is over another parameter space (fingerprint {got[:12]}, the "
                f"training space has {want[:12]}); add failures of campaigns over the "
                "training space"
            )
        frame = rundir.failures()
        if frame.empty:
            raise InvalidParameter(
                f"{where} has no failure corpus (failures/ is empty: no case failed, or the "
                "campaign ran with keep_failures = false)"
            )
        # The cases a network miscounted: a case only a Python or external counter
        # failed, or one a counter gave no count for (error, timeout), has nothing
        # to teach the network.
        networks = [str(m["id"]) for m in record["models"] if m.get("kind", "onnx") == "onnx"]
        failing = [
            FailureCase.decode({str(k): v for k, v in row.items()})
            for row in frame.to_dict("records")
        ]
        cases = sorted(
            (c for c in failing if any(c.verdicts.get(m) in miscounts for m in networks)),
            key=lambda c: c.case_id,
        )
        if not cases:
            raise InvalidParameter(
                f"{where} has no case a model miscounted: its {len(failing):,} failing "
                "cases failed other counters, or a model gave no count (error, timeout)"
            )
        # A case two runs share (a copy, or another campaign of the same seed and
        # space) is one failing trace: added once, so it is not oversampled twice.
        fresh = []
        for c in cases:
            key = _trace_key(c.trace)
            if key not in traces_seen:
                traces_seen[key] = where
                fresh.append(c)
        if not fresh:
            first = traces_seen[_trace_key(cases[0].trace)]
            raise InvalidParameter(
                f"{where} adds no failing trace: its {len(cases):,} are already given by "
                f"{first.removeprefix('--add-failures: ')} (the same cases)"
            )
        cases = fresh
        seed = record.get("identity", {}).get("seed", record.get("config", {}).get("seed"))
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidParameter(f"{where}: campaign.json records seed {show(seed)}")
        out.append(
            FailureCorpus(
                path,
                str(record.get("name", path.name)),
                seed,
                got,
                tuple(c.case_id for c in cases),
                tuple(c.trace for c in cases),
            )
        )
    return out


def _of_recordings(record: Mapping[str, Any]) -> bool:
    """Whether ``campaign.json``'s record is that of a campaign of recordings: its
    configuration or identity names a recordings table, or its identity lists files."""
    identity = record.get("identity") or {}
    config = record.get("config") or {}
    return any(
        isinstance(d, Mapping) and d.get(key) is not None
        for d, key in (
            (config, "recordings"),
            (identity, "recordings"),
            (identity, "recording_files"),
        )
    )


def _trace_key(trace: Trace) -> str:
    """The samples and their times, hashed: equal for the same case of two runs."""
    h = hashlib.sha256(np.ascontiguousarray(trace.t).tobytes())
    h.update(np.ascontiguousarray(trace.samples).tobytes())
    return h.hexdigest()


def failure_windows(
    corpora: Sequence[FailureCorpus], spec: Any, oversample: int = DEFAULT_OVERSAMPLE
) -> WindowSet:
    """Labelled model inputs of every failing trace, each repeated ``oversample`` times.

    Ambiguous windows are dropped (as in training); every other window is kept with
    weight 1. ``trace`` numbers the failing traces from 0 in corpus order.
    """
    if isinstance(oversample, bool) or not isinstance(oversample, int) or oversample < 1:
        raise InvalidParameter(f"oversample: got {show(oversample)}; must be an integer >= 1")
    raw: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    motions: list[np.ndarray] = []
    index: list[np.ndarray] = []
    k = 0
    for corpus in corpora:
        for trace in corpus.traces:
            windows, label, motion = trace_windows(trace, spec)
            keep = np.flatnonzero(label >= 0)
            raw.append(np.ascontiguousarray(windows[keep], dtype=np.float32))
            labels.append(label[keep])
            motions.append(motion[keep])
            index.append(np.full(keep.size, k, dtype=np.int32))
            k += 1
    if not raw or not sum(r.shape[0] for r in raw):
        raise InvalidParameter("--add-failures: the failing traces give no unambiguous window")
    x = features(np.concatenate(raw), spec)
    y = np.concatenate(labels).astype(np.int8)
    reps = np.tile(np.arange(y.size), oversample)
    return WindowSet(
        x=x[reps],
        y=y[reps],
        weight=np.ones(reps.size, np.float32),
        motion=np.concatenate(motions)[reps],
        trace=np.concatenate(index)[reps],
        spec=spec,
        n_traces=k,
    )


def concat_windows(a: WindowSet, b: WindowSet) -> WindowSet:
    """The windows of ``a`` then ``b`` (same spec); traces of ``b`` numbered after ``a``'s."""
    return WindowSet(
        x=np.concatenate([a.x, b.x]),
        y=np.concatenate([a.y, b.y]),
        weight=np.concatenate([a.weight, b.weight]),
        motion=np.concatenate([a.motion, b.motion]),
        trace=np.concatenate([a.trace, b.trace + a.n_traces]),
        spec=a.spec,
        n_traces=a.n_traces + b.n_traces,
    )


def corpus_metadata(corpora: Sequence[FailureCorpus], oversample: int) -> dict[str, str]:
    """The ``train.*`` metadata entries that record the corpora a model was trained on."""
    return {
        FAILURES_KEY: json.dumps([c.record() for c in corpora], separators=(",", ":")),
        "train.failures_oversample": str(oversample),
        "train.failure_cases": str(sum(len(c.case_ids) for c in corpora)),
    }


def _int(meta: Mapping[str, str], key: str) -> int | None:
    try:
        return int(meta[key])
    except (KeyError, ValueError):
        return None


def training_cases(meta: Mapping[str, str]) -> set[tuple[int, int]]:
    """Every campaign case (seed, case id) whose random stream trained the model.

    From the model's metadata: generated traces ``0 .. train.n_traces - 1`` of
    ``train.seed``, and the failing cases of each corpus in ``train.failures`` (an int8
    twin keeps only their SHA-256: read its float model for the list).
    Fine-tuned models also list what their initial model was trained on
    (``train.init_*`` keys).
    """
    out: set[tuple[int, int]] = set()
    for prefix in ("train.", "train.init_"):
        seed, n = _int(meta, f"{prefix}seed"), _int(meta, f"{prefix}n_traces")
        if seed is not None and n is not None:
            out.update((seed, i) for i in range(n))
    for corpora in _corpora(meta).values():
        for corpus in corpora:
            z, n = corpus.get("cases_z"), corpus.get("n", 0)
            cases = [] if z is None else decode_case_ids(z, n)
            out.update((int(corpus["seed"]), c) for c in cases)
    return out


def trace_seeds(meta: Mapping[str, str]) -> dict[str, int]:
    """The seeds whose generated traces trained the model (traces ``0, 1, ...`` of
    :func:`~highfive.models._dataset.window_set`), by the metadata entry that states
    each: ``train.seed``, ``train.init_seed`` (the model it was fine-tuned from) and the
    seed in ``train.prune_traces`` (``"6000 (seed 0)"``: its fine-tuning after
    pruning). Generated windows of such a seed are training windows, not held-out ones.
    """
    out = {k: int(meta[k]) for k in ("train.seed", "train.init_seed") if k in meta}
    pruned = re.search(r"\(seed (\d+)\)", meta.get("train.prune_traces", ""))
    if pruned:
        out["train.prune_traces"] = int(pruned.group(1))
    return out


def corpus_seeds(meta: Mapping[str, str]) -> set[int]:
    """The campaign seeds whose failing cases themselves trained the model.

    A failure corpus holds a campaign's own cases (parameters and trace), so a campaign
    of that seed judges the model partly on cases it was trained on. Generated training
    traces share only their random streams with campaign cases of ``train.seed`` (their
    parameter rows come from another stream), so that seed is not listed here.
    """
    return {int(corpus["seed"]) for corpora in _corpora(meta).values() for corpus in corpora}


def warn_training_seeds(seed: int, models: Iterable[tuple[str, Mapping[str, str]]]) -> list[str]:
    """Warn (``UserWarning``) for each model trained on failing cases of campaign seed
    ``seed`` (see :func:`corpus_seeds`).

    Parameters
    ----------
    seed : int
        The campaign's seed.
    models : iterable of (name, metadata)
        The campaign's ONNX models and their ``metadata_props``.

    Returns
    -------
    list of str
        The names of the models warned about.
    """
    named = []
    for name, meta in models:
        if seed in corpus_seeds(meta):
            named.append(name)
            warnings.warn(
                f"campaign seed {seed}: model {name!r} was trained on cases of this seed "
                "(a failure corpus), so its failure rates here are "
                "optimistic; judge it with another seed",
                UserWarning,
                stacklevel=2,
            )
    return named


def warn_campaign_seeds(config: Any) -> list[str]:
    """:func:`warn_training_seeds` for the ONNX models of a campaign configuration.

    Models that do not load are skipped here (the campaign reports them), and so is a
    campaign of recordings: its cases are read, not drawn from its seed.
    """
    from highfive.generators import HighfiveError
    from highfive.harness import SHIPPED, Model

    from ._export import metadata_of

    if config.recordings is not None:
        return []
    models = []
    for counter in config.counters:
        source = str(counter.source)
        if source not in SHIPPED and not source.endswith(".onnx"):
            continue
        path = source
        if source not in SHIPPED and config.base and not Path(source).is_absolute():
            path = str(Path(config.base) / source)
        try:
            model = Model.load(path)
        except HighfiveError:
            continue
        meta = metadata_of(model.data)
        name = counter.id or source
        try:
            check_train_metadata(meta, f"model {name!r}")
        except InvalidParameter as exc:  # the note is only informative here
            warnings.warn(
                f"{exc}; cannot tell whether the model was trained on cases of this "
                "campaign's seed",
                UserWarning,
                stacklevel=2,
            )
            continue
        models.append((name, meta))
    return warn_training_seeds(int(config.seed), models)
