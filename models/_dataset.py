"""Labelled training windows from the parametric generators.

Traces come from :func:`highfive.generators.synthesize` over a parameter space (the
default space unless told otherwise) and go through *the* preprocessing of
:mod:`highfive.harness` (``to_uniform`` -> ``frame`` -> ``features_of_windows``), so
the network is trained on exactly what the pipeline feeds it.

Labels, from the truth events and the window centre ``c`` (the counter's
:func:`~highfive.harness.window_centres`, from the start of the uniform trace):

- positive (1) if a high-five impact lies within :data:`POSITIVE_S` of ``c``;
- negative (0) if no high-five impact lies within :data:`NEGATIVE_S` of ``c``;
- otherwise ambiguous: the gesture is partly in the window; such windows are dropped
  from training and from window-accuracy figures.

Every positive is kept; each negative is kept with probability ``negative_fraction``
(decided from the seed), and carries the weight ``1 / negative_fraction`` so weighted
rates estimate the rates over all windows.

Random streams, all children of ``seed``: trace ``i`` is synthesized from
``SeedSequence(seed, spawn_key=(i,))`` (as campaign case ``i`` would be); parameter rows
come from ``spawn_key=(2**32 + 1,)``, negative subsampling of trace ``i`` from
``spawn_key=(2**32 + 2, i)``. Row ``i`` does not depend on ``n_traces``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from highfive.generators import InvalidParameter, ParameterSpace, Trace, default_space, synthesize
from highfive.harness import ModelSpec, features_of_windows, frame, to_uniform, window_centres

__all__ = [
    "NEGATIVE_S",
    "POSITIVE_S",
    "WindowSet",
    "features",
    "label_windows",
    "make_windows",
    "norm_stats",
    "trace_windows",
    "window_metrics",
    "window_set",
]

POSITIVE_S = 0.25
"""A window is positive if a high-five impact is at most this far (s) from its centre."""
NEGATIVE_S = 0.6
"""A window is negative if no high-five impact is closer than this (s) to its centre."""
IDLE = "(idle)"
"""Motion name of windows whose centre is in no gesture."""

_ROWS_KEY = 2**32 + 1
_KEEP_KEY = 2**32 + 2
# Windows per features_of_windows call: bounds the float32 intermediates (~15 kB each).
_CHUNK = 4096


@dataclass(frozen=True, eq=False)
class WindowSet:
    """Labelled model inputs cut from generated traces.

    Attributes
    ----------
    x : np.ndarray, shape (N, 3, S, T), float32
        Model input per window (``spec.input_shape``).
    y : np.ndarray, shape (N,), int8
        1 for a high-five window, 0 for a negative one (ambiguous windows are absent).
    weight : np.ndarray, shape (N,), float32
        Inverse probability of the window having been kept: 1 for positives,
        ``1 / negative_fraction`` for negatives.
    motion : np.ndarray, shape (N,), str
        The gesture whose span holds the window centre, or ``"(idle)"``.
    trace : np.ndarray, shape (N,), int32
        Index of the trace the window was cut from.
    spec : ModelSpec
        The preprocessing used.
    n_traces : int
    """

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    motion: np.ndarray
    trace: np.ndarray
    spec: ModelSpec
    n_traces: int

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: np.ndarray) -> WindowSet:
        """The windows at ``index`` (integer or boolean array)."""
        return replace(
            self,
            x=self.x[index],
            y=self.y[index],
            weight=self.weight[index],
            motion=self.motion[index],
            trace=self.trace[index],
        )


def _check_count(name: str, n: object, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < minimum:
        raise InvalidParameter(f"{name}: got {n!r}; must be an integer >= {minimum}")
    return int(n)


def label_windows(centres: np.ndarray, trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """Labels and gesture names of windows centred at ``centres``.

    Parameters
    ----------
    centres : np.ndarray, shape (W,)
        Window centre times in s, on the trace's clock.
    trace : Trace
        Supplies the truth events.

    Returns
    -------
    label : np.ndarray, shape (W,), int8
        1 positive, 0 negative, -1 ambiguous (see the module docstring).
    motion : np.ndarray, shape (W,), str
        Motion of the event whose [start, end] holds the centre (the nearest one's if
        several), ``"(idle)"`` if none.
    """
    impacts = np.array(
        [e.centre for e in trace.events if e.is_high_five], dtype=np.float64
    ).reshape(-1)
    if impacts.size:
        dist = np.abs(centres[:, None] - impacts[None, :]).min(axis=1)
    else:
        dist = np.full(centres.shape, np.inf)
    label = np.full(centres.shape, -1, dtype=np.int8)
    label[dist <= POSITIVE_S] = 1
    label[dist > NEGATIVE_S] = 0
    motion = np.full(centres.shape, IDLE, dtype="<U16")
    best = np.full(centres.shape, np.inf)
    for e in trace.events:
        inside = (centres >= e.start) & (centres <= e.end)
        d = np.abs(centres - e.centre)
        take = inside & (d < best)
        motion[take] = e.motion
        best[take] = d[take]
    return label, motion


def _rows(space: ParameterSpace, n_traces: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_ROWS_KEY,)))
    return space.rows(rng.random((n_traces, space.d)))


def trace_windows(trace: Trace, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw windows of one trace with their labels and motions, as training cuts them.

    The trace is resampled to ``spec.sample_rate`` and framed as the counter frames it;
    each window is labelled from the trace's truth events at the counter's window
    centre (:func:`label_windows`).

    Returns
    -------
    windows : np.ndarray, shape (W, window, 3)
        Empty when the trace is shorter than one window.
    label : np.ndarray, shape (W,), int8
        1 positive, 0 negative, -1 ambiguous.
    motion : np.ndarray, shape (W,), str
    """
    t_u, x_u = to_uniform(trace.t, trace.samples, trace.fs, spec.sample_rate)
    if x_u.shape[0] < spec.window:
        empty = np.empty(0, dtype=np.int8)
        return np.empty((0, spec.window, 3), np.float32), empty, empty.astype("<U16")
    windows, _ = frame(x_u, spec.window, spec.hop)
    # The counter's window centres, shifted to where the uniform trace starts.
    centres = float(t_u[0]) + window_centres(windows.shape[0], spec.counter_config())
    label, motion = label_windows(centres, trace)
    return windows, label, motion


def _trace_windows(
    space: ParameterSpace, n_traces: int, seed: int, spec: ModelSpec, negative_fraction: float
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per trace: index, kept raw windows (K, window, 3), labels, weights, motions."""
    for i, row in enumerate(_rows(space, n_traces, seed)):
        trace = synthesize(row, np.random.SeedSequence(seed, spawn_key=(i,)), validate=False)
        windows, label, motion = trace_windows(trace, spec)
        if windows.shape[0] == 0:
            continue
        keep = label == 1
        if negative_fraction >= 1.0:
            keep |= label == 0
        else:
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_KEEP_KEY, i)))
            keep |= (label == 0) & (rng.random(label.shape) < negative_fraction)
        idx = np.flatnonzero(keep)
        weight = np.where(label[idx] == 1, 1.0, 1.0 / negative_fraction).astype(np.float32)
        yield i, windows[idx], label[idx], weight, motion[idx]


def window_set(
    n_traces: int,
    seed: int,
    space: ParameterSpace | None = None,
    *,
    spec: ModelSpec | None = None,
    negative_fraction: float = 0.25,
) -> WindowSet:
    """Generate traces, cut them into windows, label them and compute model inputs.

    Parameters
    ----------
    n_traces : int
        Number of traces to synthesize (>= 1).
    seed : int
        Root seed (>= 0) of every random stream (see the module docstring).
    space : ParameterSpace, optional
        Where parameter rows are drawn uniformly in the unit cube (default:
        :func:`default_space`).
    spec : ModelSpec, optional
        Preprocessing, including the normalisation (default: ``ModelSpec()``, the
        identity normalisation).
    negative_fraction : float
        Probability, in (0, 1], that a negative window is kept.

    Returns
    -------
    WindowSet
    """
    n_traces = _check_count("n_traces", n_traces, 1)
    seed = _check_count("seed", seed, 0)
    if not (isinstance(negative_fraction, float | int) and 0.0 < negative_fraction <= 1.0):
        raise InvalidParameter(
            f"negative_fraction: got {negative_fraction!r}; must be a number in (0, 1]"
        )
    space = default_space() if space is None else space
    spec = ModelSpec() if spec is None else spec

    raw: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    motions: list[np.ndarray] = []
    traces: list[np.ndarray] = []
    for i, w, y, wt, m in _trace_windows(space, n_traces, seed, spec, float(negative_fraction)):
        raw.append(np.ascontiguousarray(w, dtype=np.float32))
        labels.append(y)
        weights.append(wt)
        motions.append(m)
        traces.append(np.full(y.shape, i, dtype=np.int32))
    windows = np.concatenate(raw) if raw else np.empty((0, spec.window, 3), np.float32)
    return WindowSet(
        x=features(windows, spec),
        y=_cat(labels, np.int8),
        weight=_cat(weights, np.float32),
        motion=_cat(motions, np.dtype("<U16")),
        trace=_cat(traces, np.int32),
        spec=spec,
        n_traces=n_traces,
    )


def features(windows: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Model inputs (N, 3, S, T) float32 of raw windows (N, window, 3), in chunks."""
    x = np.empty((windows.shape[0], *spec.input_shape), dtype=np.float32)
    for b0 in range(0, windows.shape[0], _CHUNK):
        x[b0 : b0 + _CHUNK] = features_of_windows(windows[b0 : b0 + _CHUNK], spec)
    return x


def _cat(parts: Sequence[np.ndarray], dtype: np.dtype | type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)


def make_windows(
    n_traces: int,
    seed: int,
    space: ParameterSpace | None = None,
    *,
    spec: ModelSpec | None = None,
    negative_fraction: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs, labels and weights of generated windows (see :func:`window_set`).

    Returns
    -------
    x : np.ndarray, shape (N, 3, S, T), float32
    y : np.ndarray, shape (N,), int8
        1 high-five, 0 other; ambiguous windows are excluded.
    weight : np.ndarray, shape (N,), float32
        Inverse keep probability of each window (1 for positives).
    """
    ws = window_set(n_traces, seed, space, spec=spec, negative_fraction=negative_fraction)
    return ws.x, ws.y, ws.weight


def norm_stats(
    n_traces: int, seed: int, space: ParameterSpace | None = None, *, spec: ModelSpec | None = None
) -> ModelSpec:
    """``spec`` with ``norm_mean`` and ``norm_std`` measured on generated windows.

    Runs the preprocessing with the identity normalisation (mean 0, std 1), so the
    statistics are those of ``log1p(|W| / norm_scale)`` per axis over scales, samples
    and windows (negatives subsampled as for training, each window weighted alike).

    Parameters
    ----------
    n_traces, seed, space
        As for :func:`window_set`.
    spec : ModelSpec, optional
        Preprocessing whose normalisation is replaced (default ``ModelSpec()``).

    Returns
    -------
    ModelSpec
    """
    base = replace(
        ModelSpec() if spec is None else spec, norm_mean=(0.0, 0.0, 0.0), norm_std=(1.0, 1.0, 1.0)
    )
    x = window_set(n_traces, seed, space, spec=base).x
    if x.shape[0] == 0:
        raise InvalidParameter(f"n_traces: {n_traces} traces gave no windows; use more traces")
    # float64 accumulation: float32 sums over ~10^8 values lose digits.
    mean = x.mean(axis=(0, 2, 3), dtype=np.float64)
    std = x.std(axis=(0, 2, 3), dtype=np.float64)
    m = [round(float(v), 6) for v in mean]
    s = [round(max(float(v), 1e-6), 6) for v in std]
    return replace(base, norm_mean=(m[0], m[1], m[2]), norm_std=(s[0], s[1], s[2]))


def window_metrics(probs: np.ndarray, data: WindowSet, threshold: float = 0.5) -> dict[str, Any]:
    """Window-level quality of a classifier's probabilities on labelled windows.

    Parameters
    ----------
    probs : np.ndarray, shape (N,)
        Probability of the high-five class per window of ``data``.
    data : WindowSet
        Its ``weight`` undoes negative subsampling, so the rates estimate the rates over
        all unambiguous windows.
    threshold : float
        A window is called a high-five when ``probs >= threshold``.

    Returns
    -------
    dict
        ``accuracy`` (weighted), ``balanced_accuracy``, ``tpr`` (high-five windows
        called), ``fpr`` (other windows called), ``n_windows``, ``n_positive`` and
        ``fpr_by_motion`` (motion -> (false-positive rate, negative windows)).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != data.y.shape:
        raise InvalidParameter(f"probs: got shape {p.shape}; need {data.y.shape}")
    call = p >= threshold
    pos, w = data.y == 1, data.weight.astype(np.float64)
    correct = call == pos
    tpr = float(call[pos].mean()) if pos.any() else float("nan")
    neg_w = w[~pos]
    fpr = float((call[~pos] * neg_w).sum() / neg_w.sum()) if neg_w.size else float("nan")
    by_motion: dict[str, tuple[float, int]] = {}
    for m in sorted(set(data.motion[~pos].tolist())):
        sel = (~pos) & (data.motion == m)
        by_motion[m] = (float(call[sel].mean()), int(sel.sum()))
    return {
        "accuracy": float((correct * w).sum() / w.sum()) if w.size else float("nan"),
        "balanced_accuracy": 0.5 * (tpr + 1.0 - fpr),
        "tpr": tpr,
        "fpr": fpr,
        "n_windows": int(p.size),
        "n_positive": int(pos.sum()),
        "fpr_by_motion": by_motion,
    }
