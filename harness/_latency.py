"""An ONNX model's inference latency, measured once when a campaign starts.

A release gate must give the same verdict for the same run and gate file, so a gate
reads the figure recorded in campaign.json instead of timing the model again (under
load a live measurement of the same model ranged from 0.018 to 0.084 ms per window).
The figure is a median over many calls after warm-up, with one intra-op thread, on
synthetic input of the model's shape (latency does not depend on the values), and it
names the machine it was taken on.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any

import numpy as np

from ._model import Model, session

__all__ = ["measure_latency"]

BATCHES = {256: 20, 1: 100}
"""Batch sizes timed, and calls timed at each (after 3 warm-up calls)."""


def measure_latency(model: Model) -> dict[str, Any]:
    """Median latency of ``model`` per call and per window at each of :data:`BATCHES`.

    Returns
    -------
    dict
        ``{"batches": {"256": {"per_call_ms", "per_window_ms", "calls"}, "1": ...},
        "threads": 1, "machine": {...}}``, JSON-ready.
    """
    sess = session(model.data, model.sha256, threads=1)
    name_in = sess.get_inputs()[0].name
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for batch, calls in BATCHES.items():
        x = rng.standard_normal((batch, *model.spec.input_shape)).astype(np.float32)
        for _ in range(3):
            sess.run(None, {name_in: x})
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            sess.run(None, {name_in: x})
            times.append(time.perf_counter() - t0)
        per_call = 1e3 * statistics.median(times)
        out[str(batch)] = {
            "per_call_ms": round(per_call, 6),
            "per_window_ms": round(per_call / batch, 6),
            "calls": calls,
        }
    return {"batches": out, "threads": 1, "machine": machine()}


def machine() -> dict[str, Any]:
    """What a timing depends on: processor, cores, Python and ONNX Runtime versions."""
    import onnxruntime as ort

    return {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
