"""Self-describing ONNX models and their per-process inference sessions.

A model file carries its preprocessing and counting settings in ONNX
``metadata_props`` (:class:`ModelSpec`), so a user's own model plugs into the pipeline
without code. ONNX Runtime sessions cannot be pickled: a :class:`Model` carries the
file's bytes and SHA-256, and each process builds one session per SHA-256 on first use
(:func:`session`), with an explicit intra-op thread count.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from highfive.generators import ModelError

from ._counter import CounterConfig
from ._scalogram import log_freqs, morlet_scales

__all__ = ["SHIPPED", "Model", "ModelSpec", "session"]

SHIPPED = {"float": "highfive-cnn-float32.onnx", "int8": "highfive-cnn-int8.onnx"}
"""Names of the models shipped in ``highfive.models``."""

FORMAT = "highfive/1"
_PREFIX = "highfive."
# Fields added after the first files were written, with the value absence implies.
_LEGACY = {"time_step": 1}


@dataclass(frozen=True)
class ModelSpec:
    """What a model needs around it: preprocessing, classes and counting thresholds.

    Stored in the ONNX file as ``metadata_props`` with keys ``highfive.<field>`` and
    JSON values, plus ``highfive.format = "highfive/1"``.

    Preprocessing: resample the trace to ``sample_rate``; slide windows of
    ``window_s`` every ``hop_s``; complex-Morlet CWT magnitude (``wavelet``) at
    ``freqs_hz``, keeping every ``time_step``-th sample of each window (from
    ``time_step // 2``); ``x = log1p(|W| / norm_scale)``; standardise per axis with
    ``norm_mean`` and ``norm_std``. The model's input is (batch, 3, len(freqs_hz),
    ceil(window / time_step)) float32, its output (batch, len(class_names))
    probabilities. ``time_step`` may be absent from older files (then 1).
    """

    sample_rate: float = 50.0
    window_s: float = 1.5
    hop_s: float = 0.2
    wavelet: str = "cmor1.5-1.0"
    freqs_hz: tuple[float, ...] = field(
        default_factory=lambda: tuple(float(f) for f in log_freqs(0.5, 20.0, 16))
    )
    time_step: int = 3
    norm_scale: float = 0.05
    norm_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    norm_std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    class_names: tuple[str, ...] = ("other", "high_five")
    positive_class: str = "high_five"
    on: float = 0.6
    off: float = 0.4
    min_run: int = 2
    refractory_s: float = 0.5

    def __post_init__(self) -> None:
        if self.positive_class not in self.class_names:
            raise ModelError(
                f"model metadata: positive_class {self.positive_class!r} is not one of "
                f"class_names {list(self.class_names)}"
            )
        if len(self.norm_mean) != 3 or len(self.norm_std) != 3 or min(self.norm_std) <= 0:
            raise ModelError(
                f"model metadata: norm_mean and norm_std need 3 values (std > 0), got "
                f"{list(self.norm_mean)} and {list(self.norm_std)}"
            )
        # Validates rate, window, hop and thresholds with field-naming errors.
        self.counter_config()
        step = self.time_step
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= self.window:
            raise ModelError(
                f"model metadata: time_step {step!r} must be an integer in [1, {self.window}]"
            )

    @property
    def window(self) -> int:
        """Window length in samples."""
        return round(self.window_s * self.sample_rate)

    @property
    def hop(self) -> int:
        """Hop in samples."""
        return round(self.hop_s * self.sample_rate)

    @property
    def scales(self) -> np.ndarray:
        """Morlet scales in samples (computed once per spec: pywt does an FFT for it)."""
        return _scales(self.freqs_hz, self.sample_rate, self.wavelet)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Per-window input shape: (axes, scales, kept samples)."""
        return (3, len(self.freqs_hz), len(range(self.time_step // 2, self.window, self.time_step)))

    @property
    def positive_index(self) -> int:
        return self.class_names.index(self.positive_class)

    def counter_config(self) -> CounterConfig:
        try:
            return CounterConfig(
                window_s=self.window_s,
                hop_s=self.hop_s,
                fs=self.sample_rate,
                on=self.on,
                off=self.off,
                min_run=self.min_run,
                refractory_s=self.refractory_s,
            )
        except ValueError as exc:
            raise ModelError(f"model metadata: {exc}") from None

    def to_metadata(self) -> dict[str, str]:
        """``metadata_props`` entries (all strings)."""
        out = {f"{_PREFIX}format": FORMAT}
        out.update({_PREFIX + k: json.dumps(v) for k, v in asdict(self).items()})
        return out

    @classmethod
    def from_metadata(cls, props: dict[str, str], source: str = "model") -> ModelSpec:
        """Read the spec back; a missing or malformed key is a :class:`ModelError`."""
        if props.get(f"{_PREFIX}format") != FORMAT:
            raise ModelError(
                f"{source}: metadata key '{_PREFIX}format' is "
                f"{props.get(_PREFIX + 'format')!r}, expected {FORMAT!r}; "
                "write the metadata with ModelSpec.to_metadata() (see 'highfive model info')"
            )
        kwargs: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            raw = props.get(_PREFIX + name)
            if raw is None and name in _LEGACY:
                kwargs[name] = _LEGACY[name]
                continue
            if raw is None:
                raise ModelError(f"{source}: metadata key '{_PREFIX}{name}' is missing")
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise ModelError(
                    f"{source}: metadata '{_PREFIX}{name}' = {raw!r} is not valid JSON"
                ) from None
            kwargs[name] = tuple(value) if isinstance(value, list) else value
            del f
        return cls(**kwargs)


@functools.lru_cache(maxsize=64)
def _scales(freqs_hz: tuple[float, ...], fs: float, wavelet: str) -> np.ndarray:
    scales = morlet_scales(freqs_hz, fs, wavelet)
    scales.flags.writeable = False
    return scales


# -- sessions --------------------------------------------------------------------------
_SESSIONS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def session(data: bytes, sha256: str, threads: int = 1) -> Any:
    """The process's ONNX Runtime session for this model, built on first use.

    ``threads`` sets ``intra_op_num_threads`` explicitly: ONNX Runtime ignores
    OMP_NUM_THREADS, and one thread per dask worker process avoids oversubscription.
    """
    key = (sha256, threads)
    sess = _SESSIONS.get(key)
    if sess is None:
        import onnxruntime as ort

        with _LOCK:
            sess = _SESSIONS.get(key)
            if sess is None:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                try:
                    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise ModelError(
                        f"model {sha256[:12]}: ONNX Runtime cannot load it "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
                    ) from None
                _SESSIONS[key] = sess
    return sess


@dataclass(frozen=True, eq=False)
class Model:
    """An ONNX classifier of windows, with its :class:`ModelSpec`.

    Picklable: it carries the file's bytes (tens of kB), never a session.

    Attributes
    ----------
    name : str
        ``"float"``, ``"int8"`` or the file name.
    data : bytes
        The ONNX file.
    sha256 : str
        Hex digest of ``data``; results store it.
    spec : ModelSpec
    threads : int
        ONNX Runtime intra-op threads.
    """

    name: str
    data: bytes = field(repr=False)
    sha256: str
    spec: ModelSpec
    threads: int = 1

    @classmethod
    def load(cls, model: str | os.PathLike[str], *, threads: int = 1) -> Model:
        """Load a shipped model (``"float"``, ``"int8"``) or an ONNX file path."""
        key = os.fspath(model)
        if key in SHIPPED:
            ref = resources.files("highfive.models").joinpath(SHIPPED[key])
            if not ref.is_file():
                raise ModelError(
                    f"model {key!r}: the shipped file {SHIPPED[key]} is missing from the "
                    "installed package; reinstall highfive"
                )
            data, name = ref.read_bytes(), key
        else:
            path = Path(key)
            if not path.is_file():
                raise ModelError(
                    f"model: {key!r} is neither a file nor a shipped model ({', '.join(SHIPPED)})"
                )
            data, name = path.read_bytes(), path.name
        return cls.from_bytes(data, name=name, threads=threads)

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "model", threads: int = 1) -> Model:
        """Parse and check an ONNX model held in memory."""
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ModelError(f"threads: got {threads!r}; must be an integer >= 1")
        digest = hashlib.sha256(data).hexdigest()
        sess = session(data, digest, threads)
        props = dict(sess.get_modelmeta().custom_metadata_map)
        spec = ModelSpec.from_metadata(props, source=f"model {name!r}")
        model = cls(name=name, data=data, sha256=digest, spec=spec, threads=threads)
        model._check_io(sess)
        return model

    def _check_io(self, sess: Any) -> None:
        inputs, outputs = sess.get_inputs(), sess.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelError(
                f"model {self.name!r}: expected 1 input and 1 output, got {len(inputs)} "
                f"and {len(outputs)}"
            )
        shape = inputs[0].shape
        want = self.spec.input_shape
        fixed = [d for d in shape[1:]]
        if len(shape) != 4 or any(
            isinstance(d, int) and d != w for d, w in zip(fixed, want, strict=True)
        ):
            raise ModelError(
                f"model {self.name!r}: input shape {shape} does not match its metadata, "
                f"which implies (batch, {want[0]}, {want[1]}, {want[2]})"
            )
        out = outputs[0].shape
        n_classes = len(self.spec.class_names)
        if len(out) != 2 or (isinstance(out[1], int) and out[1] != n_classes):
            raise ModelError(
                f"model {self.name!r}: output shape {out} does not match its "
                f"{n_classes} class_names"
            )

    @cached_property
    def _io(self) -> tuple[str, str]:
        sess = session(self.data, self.sha256, self.threads)
        return sess.get_inputs()[0].name, sess.get_outputs()[0].name

    def predict(self, features: npt.ArrayLike, *, batch: int = 1024) -> np.ndarray:
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
        """
        x = np.ascontiguousarray(features, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != self.spec.input_shape:
            raise ModelError(
                f"features: got shape {x.shape}; model {self.name!r} takes "
                f"(B, {', '.join(map(str, self.spec.input_shape))})"
            )
        sess = session(self.data, self.sha256, self.threads)
        name_in, name_out = self._io
        out = np.empty(x.shape[0], dtype=np.float32)
        k = self.spec.positive_index
        for b0 in range(0, x.shape[0], batch):
            (probs,) = sess.run([name_out], {name_in: x[b0 : b0 + batch]})
            out[b0 : b0 + batch] = probs[:, k]
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild through from_bytes on the other side: the session is per process.
        return (_rebuild, (self.data, self.name, self.threads))


def _rebuild(data: bytes, name: str, threads: int) -> Model:
    return Model.from_bytes(data, name=name, threads=threads)
