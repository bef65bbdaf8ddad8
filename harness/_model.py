"""Self-describing ONNX models: loading one (shipped or a file) and predicting with it.

A model file carries its preprocessing and counting settings in ONNX
``metadata_props`` (:class:`ModelSpec`, checked against :data:`LIMITS`: see
:mod:`._model_spec`), so a user's own model plugs into the pipeline without code. ONNX
Runtime sessions cannot be pickled: a :class:`Model` carries the file's bytes and
SHA-256, and each process builds one session per SHA-256 on first use (:func:`session`,
in :mod:`._model_session`), with an explicit intra-op thread count. Tensors stored in
external files are read in by :mod:`._model_external`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from highfive.generators import ModelError, show

from ._model_external import _MAX_MODEL_BYTES, _has_external, _inline_external
from ._model_session import _named, session
from ._model_spec import ModelSpec

__all__ = ["PREDICT_BATCH", "SHIPPED", "Model", "shipped_file"]

SHIPPED = {"float": "highfive-cnn-float32.onnx", "int8": "highfive-cnn-int8.onnx"}
"""Names of the models shipped in ``highfive.models``."""


def shipped_file(name: str) -> Traversable:
    """The packaged file of a shipped model (``"float"``, ``"int8"``), as a resource."""
    return resources.files("highfive.models").joinpath(SHIPPED[name])


PREDICT_BATCH = 1024
"""Windows per ``session.run`` call in :meth:`Model.predict`."""

PROBE_WINDOWS = 2
"""Windows of noise a model is run on when loaded (:meth:`Model.load`)."""

PROBE_SUM_TOLERANCE = 0.02
"""How far from 1 a probe row of probabilities may sum (an int8 softmax rounds)."""


@dataclass(frozen=True, eq=False)
class Model:
    """An ONNX classifier of windows, with its :class:`ModelSpec`.

    Picklable: it carries the file's bytes (tens of kB), never a session.

    Attributes
    ----------
    name : str
        ``"float"``, ``"int8"`` or the file name.
    data : bytes
        The ONNX model, self-contained: the file's bytes, or, for a model whose
        tensors were stored in external files, the model with them read in.
    sha256 : str
        Hex digest of the file's bytes (results store it); for a model with external
        data, a digest of the file and every external tensor's bytes.
    spec : ModelSpec
    threads : int
        ONNX Runtime intra-op threads.
    source : str
        The path it was loaded from (or the shipped name); errors name it.
    """

    name: str
    data: bytes = field(repr=False)
    sha256: str
    spec: ModelSpec
    threads: int = 1
    source: str = ""

    @property
    def label(self) -> str:
        """How messages name the model: its path, else its name."""
        return self.source or self.name

    @classmethod
    def load(cls, model: str | os.PathLike[str], *, threads: int = 1) -> Model:
        """Load a shipped model (``"float"``, ``"int8"``) or an ONNX file path.

        External data (tensors stored next to the file) is read from the file's folder.
        """
        key = os.fspath(model)
        if key in SHIPPED:
            ref = shipped_file(key)
            if not ref.is_file():
                raise ModelError(
                    f"model {key!r}: the shipped file {SHIPPED[key]} is missing from the "
                    "installed package; reinstall highfive"
                )
            data = ref.read_bytes()
            return cls._build(data, key, threads, hashlib.sha256(data).hexdigest(), key)
        path = Path(key)
        if not path.is_file():
            raise ModelError(
                f"model: {_named(key)} is neither a file nor a shipped model ({', '.join(SHIPPED)})"
            )
        try:
            if path.stat().st_size > _MAX_MODEL_BYTES:
                raise ModelError(
                    f"model {_named(key)}: {path.stat().st_size:,} bytes; an ONNX model may "
                    "have at most 2 GiB"
                )
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"model {_named(key)}: cannot read it ({exc.strerror})") from None
        if _has_external(data, key):
            inlined, digest = _inline_external(data, path, key)
            return cls._build(inlined, path.name, threads, digest, key)
        return cls._build(data, path.name, threads, hashlib.sha256(data).hexdigest(), key)

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "model", threads: int = 1) -> Model:
        """Parse and check an ONNX model held in memory.

        A model whose tensors live in external files is refused: bytes have no folder
        to find them in (use :meth:`load` with its path).
        """
        if _has_external(data, name):
            raise ModelError(
                f"model {_named(name)}: its tensors are stored in external files, which "
                "bytes alone cannot locate; load it from its path (Model.load)"
            )
        return cls._build(data, name, threads, hashlib.sha256(data).hexdigest(), "")

    @classmethod
    def _build(cls, data: bytes, name: str, threads: int, digest: str, source: str) -> Model:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ModelError(f"threads: got {show(threads)}; must be an integer >= 1")
        label = source or name
        sess = session(data, digest, threads, name=label)
        props = dict(sess.get_modelmeta().custom_metadata_map)
        spec = ModelSpec.from_metadata(props, source=f"model {_named(label)}")
        model = cls(name=name, data=data, sha256=digest, spec=spec, threads=threads, source=source)
        model._check_io(sess)
        return model

    def _check_io(self, sess: Any) -> None:
        inputs, outputs = sess.get_inputs(), sess.get_outputs()
        label = _named(self.label)
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelError(
                f"model {label}: expected 1 input and 1 output, got {len(inputs)} "
                f"and {len(outputs)}"
            )
        shape = inputs[0].shape
        want = self.spec.input_shape
        allowed = f"float32 (tensor(float)) of shape [batch, {', '.join(map(str, want))}]"
        if inputs[0].type != "tensor(float)":
            raise ModelError(
                f"model {label}: input {show(inputs[0].name)} is {inputs[0].type}; it must be "
                f"{allowed}"
            )
        if shape and isinstance(shape[0], int):
            raise ModelError(
                f"model {label}: input {show(inputs[0].name)} has a fixed batch of "
                f"{shape[0]} ({shape}); its first dimension must be dynamic: {allowed}"
            )
        fixed = [d for d in shape[1:]]
        if len(shape) != 4 or any(
            isinstance(d, int) and d != w for d, w in zip(fixed, want, strict=True)
        ):
            raise ModelError(
                f"model {label}: input shape {shape} does not match its metadata, "
                f"which implies (batch, {want[0]}, {want[1]}, {want[2]})"
            )
        out = outputs[0].shape
        n_classes = len(self.spec.class_names)
        if len(out) != 2 or (isinstance(out[1], int) and out[1] != n_classes):
            raise ModelError(
                f"model {label}: output shape {out} does not match its {n_classes} class_names"
            )
        self._probe(sess)

    def _probe(self, sess: Any) -> None:
        """Run :data:`PROBE_WINDOWS` windows of noise: the model must run on a batch and
        give one row of class probabilities (each in [0, 1], summing to 1) per window."""
        label = _named(self.label)
        name_in, name_out = sess.get_inputs()[0].name, sess.get_outputs()[0].name
        x = np.random.default_rng(0).standard_normal((PROBE_WINDOWS, *self.spec.input_shape))
        import onnxruntime as ort

        quiet = ort.RunOptions()
        quiet.log_severity_level = 4  # the error is reported below, in one line
        try:
            (probs,) = sess.run([name_out], {name_in: x.astype(np.float32)}, quiet)
        except Exception as exc:  # ONNX Runtime raises its own types
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise ModelError(
                f"model {label}: fails on a probe batch of {PROBE_WINDOWS} windows ({detail})"
            ) from None
        _check_rows(probs, len(self.spec.class_names), label, name_out, "a probe batch")
        p = np.asarray(probs, dtype=np.float64)
        sums = p.sum(axis=1)
        if (
            not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all())
            or (np.abs(sums - 1.0) > PROBE_SUM_TOLERANCE).any()
        ):
            raise ModelError(
                f"model {label}: output {show(name_out)} is not class probabilities on a "
                f"probe batch (values {p.min():.4g} to {p.max():.4g}, rows summing to "
                f"{sums.min():.4g} to {sums.max():.4g}); each row must be in [0, 1] and sum "
                "to 1: end the network in a Softmax"
            )

    @cached_property
    def _io(self) -> tuple[str, str]:
        sess = session(self.data, self.sha256, self.threads, name=self.label)
        return sess.get_inputs()[0].name, sess.get_outputs()[0].name

    def predict(self, features: npt.ArrayLike, *, batch: int = PREDICT_BATCH) -> np.ndarray:
        """Probability of the positive class for each window.

        Parameters
        ----------
        features : array_like, shape (B, 3, S, n), float32
            Preprocessed windows (see :func:`highfive.harness.features`).
        batch : int
            Windows per ``session.run`` call.

        Returns
        -------
        np.ndarray, shape (B,), float32

        Raises
        ------
        ModelError
            The model's output is not one row of class probabilities per window.
        """
        x = np.ascontiguousarray(features, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != self.spec.input_shape:
            raise ModelError(
                f"features: got shape {list(x.shape)}; model {_named(self.label)} takes "
                f"[B, {', '.join(map(str, self.spec.input_shape))}]"
            )
        sess = session(self.data, self.sha256, self.threads, name=self.label)
        name_in, name_out = self._io
        out = np.empty(x.shape[0], dtype=np.float32)
        k = self.spec.positive_index
        n_classes = len(self.spec.class_names)
        for b0 in range(0, x.shape[0], batch):
            rows = min(batch, x.shape[0] - b0)
            (probs,) = sess.run([name_out], {name_in: x[b0 : b0 + batch]})
            _check_rows(probs, n_classes, _named(self.label), name_out, "a batch", rows)
            out[b0 : b0 + batch] = probs[:, k]
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild on the other side: the session is per process; the identity travels.
        return (_rebuild, (self.data, self.name, self.threads, self.sha256, self.source))


def _rebuild(data: bytes, name: str, threads: int, sha256: str = "", source: str = "") -> Model:
    return Model._build(data, name, threads, sha256 or hashlib.sha256(data).hexdigest(), source)


def _check_rows(
    probs: Any, n_classes: int, label: str, name_out: str, what: str, rows: int = PROBE_WINDOWS
) -> None:
    """Refuse an output that is not one row of ``n_classes`` values per window."""
    shape = getattr(probs, "shape", None)
    if shape != (rows, n_classes):
        got = list(shape) if shape is not None else type(probs).__name__
        raise ModelError(
            f"model {label}: output {show(name_out)} has shape {got} for {what} of {rows} "
            f"windows; it must be [{rows}, {n_classes}], one row of class probabilities per "
            "window"
        )
