"""ONNX models through the project's pipeline: ``float``, ``int8`` or a path to a file.

The model's metadata says how to preprocess (see :class:`~highfive.harness.ModelSpec`),
so a user's own model needs no code. Identity: the SHA-256 of the file's bytes; for a
model whose tensors are stored in external files, a digest of the file and of those
tensors' bytes (read from the model's folder), so the same identity means the same
weights wherever it runs.

Streaming: the pipeline's streaming counter scores exactly the windows the batch
counter scores with the same state machine (a property test shows equal detections
for any chunking), so a chunked feed is computed in one batch and each detection's
emission time follows from the window that decided it: the run closes when the first
window below ``off`` is complete, that is when its last sample is delivered (a run
still open at the end closes with the last sample). Resampling to the model's rate is
taken as the sensor's work, done before the samples reach the counter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from highfive.generators import ConfigError, ModelError, Trace

from .._counter import decide
from .._model import SHIPPED, Model, ModelSpec
from .._pipeline import CounterPipeline, CountResult
from ._base import (
    CounterIdentity,
    CounterOptions,
    CounterPlugin,
    as_reached,
    delivery_times,
    with_article,
)

__all__ = ["OnnxCounter"]

_PIPELINES: dict[tuple[str, int], CounterPipeline] = {}


class OnnxCounter(CounterPlugin):
    """A self-describing ONNX window classifier and the counting logic around it."""

    kind = "onnx"
    streams = True

    def __init__(self, model: Model, source: str) -> None:
        self.model = model
        self.source = source

    def __repr__(self) -> str:
        return f"OnnxCounter({self.source!r}, sha256={self.model.sha256[:12]})"

    @classmethod
    def claims(cls, source: str) -> bool:
        # The fallback kind, asked last: a shipped name or a path (a missing file gets
        # the model loader's one-line error).
        return True

    @classmethod
    def from_source(cls, source: str, *, version: str = "", options: CounterOptions) -> OnnxCounter:
        if version:
            raise ConfigError(
                f"counter {source!r}: 'version' is for Python counters; an ONNX model is "
                "identified by its file's SHA-256"
            )
        if source.endswith(".py"):  # not a model: a Python counter without its attribute
            raise ConfigError(
                f"counter {source!r}: a Python file names a counter as file.py:attribute "
                f"(e.g. {source}:count)"
            )
        path = source
        if source not in SHIPPED and options.base and not Path(source).is_absolute():
            path = str(Path(options.base) / source)
        if source not in SHIPPED:  # '..' resolved: found where it stays, if the folder moves
            path = os.fspath(as_reached(Path(path)))
        if ":" in source and source not in SHIPPED and not Path(path).is_file():
            # a Python counter's spec with a bad attribute, not a missing model
            raise ConfigError(
                f"counter {source!r}: not a counter; write package.module:attribute or "
                "file.py:attribute (the attribute a Python name, e.g. count), exec:program, "
                f"a .onnx file or a shipped model ({', '.join(SHIPPED)})"
            )
        return cls(Model.load(path, threads=options.threads), path)

    @property
    def identity(self) -> CounterIdentity:
        return CounterIdentity(
            "onnx", self.source, self.model.sha256, {"bytes": len(self.model.data)}
        )

    @property
    def default_id(self) -> str:
        return self.model.name.removesuffix(".onnx")

    @property
    def threshold_on(self) -> float:
        return self.pipeline.config.on

    @property
    def spec(self) -> ModelSpec:
        """The model's preprocessing and counting settings."""
        return self.model.spec

    @property
    def pipeline(self) -> CounterPipeline:
        """This process's pipeline (one ONNX Runtime session per model and process)."""
        key = (self.model.sha256, self.model.threads)
        pipe = _PIPELINES.get(key)
        if pipe is None:
            pipe = _PIPELINES[key] = CounterPipeline(self.model)
        return pipe

    def _count(self, trace: Trace, cache: dict[Any, Any]) -> CountResult:
        pipe = self.pipeline
        # Models with the same preprocessing (a float model and its int8 twin) share
        # one scalogram per case.
        key = pipe.preprocessing
        if key not in cache:
            cache[key] = pipe.prepare(trace)
        return pipe.judge(*cache[key])

    def _emitted(self, trace: Trace, result: CountResult, chunk_s: float) -> np.ndarray:
        spec = self.model.spec
        _, deciding = decide(result.probs, result.centres, self.pipeline.config)
        last = result.centres.size
        # A window's last sample lies (window - 1) / 2 samples after its centre.
        half = (spec.window - 1) / (2 * spec.sample_rate)
        safe = np.minimum(deciding, max(last - 1, 0))
        needed = np.where(deciding < last, result.centres[safe] + half, float(trace.t[-1]))
        return delivery_times(needed, trace, chunk_s)

    def __reduce__(self) -> tuple[Any, ...]:
        return (OnnxCounter, (self.model, self.source))


def load_model(counter: CounterPlugin) -> Model:
    """The ONNX model behind ``counter``; :class:`ModelError` for other kinds."""
    if not isinstance(counter, OnnxCounter):
        raise ModelError(
            f"counter {counter.identity.source!r} is {with_article(counter.kind)} counter, not an "
            "ONNX model"
        )
    return counter.model
