"""Self-describing ONNX models and their per-process inference sessions.

A model file carries its preprocessing and counting settings in ONNX
``metadata_props`` (:class:`ModelSpec`), so a user's own model plugs into the pipeline
without code. ONNX Runtime sessions cannot be pickled: a :class:`Model` carries the
file's bytes and SHA-256, and each process builds one session per SHA-256 on first use
(:func:`session`), with an explicit intra-op thread count.

Metadata is checked against :data:`LIMITS` before anything is allocated from it, so a
model that asks for a 100 kHz rate or thousands of scales is refused with one line
instead of taking gigabytes. A model whose tensors are stored in external files
(``onnx.save_model(..., save_as_external_data=True)``) has them read from the model's
own folder (never the working directory, never outside that folder), carried inside
the :class:`Model`'s bytes and covered by its SHA-256.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from highfive.generators import InvalidParameter, ModelError

from ._counter import CounterConfig
from ._scalogram import fft_length, log_freqs, morlet_scales, show

__all__ = ["LIMITS", "PREDICT_BATCH", "SHIPPED", "Model", "ModelSpec", "session"]

SHIPPED = {"float": "highfive-cnn-float32.onnx", "int8": "highfive-cnn-int8.onnx"}
"""Names of the models shipped in ``highfive.models``."""

FORMAT = "highfive/1"
_PREFIX = "highfive."
# Fields added after the first files were written, with the value absence implies.
_LEGACY = {"time_step": 1}

LIMITS = {
    "sample_rate": 2000.0,
    "window": 4096,
    "hop_s": 0.01,
    "scales": 256,
    "input_values": 65_536,
    "bank_values": 2**21,
    "classes": 256,
}
"""What a model's metadata may ask for, checked before anything is allocated from it.

- ``sample_rate`` (Hz, at most): the fastest output data rate of watch accelerometers
  (Bosch BMI270: 1.6 kHz) with headroom; wrist gestures carry nothing above ~50 Hz.
  The shipped models run at 50 Hz.
- ``window`` (samples, at most): 2 s at 2 kHz. Shipped: 75.
- ``hop_s`` (s, at least): at most 100 windows per second of trace, so a trace's
  model input stays proportional to its length at a bounded rate. Shipped: 0.2 s.
- ``scales`` (frequencies, at most). Shipped: 16.
- ``input_values`` (per window, 3 x scales x kept samples, at most): 256 KiB of float32
  per window, 54 times the shipped 1,200; ``model info`` times batches of 256 windows.
- ``bank_values`` (scales x FFT length of the filter bank, at most): 48 MiB of
  frequency responses. Shipped: 16 x 576 = 9,216.
- ``classes`` (class names, at most). Shipped: 2.
"""

PREDICT_BATCH = 1024
"""Windows per ``session.run`` call in :meth:`Model.predict`."""

# A model file (and its external data) at most this large: protobuf's 2 GiB limit.
_MAX_MODEL_BYTES = 2**31 - 1
_PATH_CHARS = 300  # a model's path is echoed whole unless absurdly long


def _named(label: str) -> str:
    return show(label, _PATH_CHARS)


def _fail(field_name: str, value: object, allowed: str) -> ModelError:
    return ModelError(f"model metadata: {field_name} {show(value)} {allowed}")


def _is_real(v: object) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float | np.integer | np.floating)


def _reals(
    field_name: str, values: object, *, size: tuple[int, int], allowed: str
) -> tuple[float, ...]:
    # A metadata list of real numbers, its length within size; anything else refused.
    lo, hi = size
    if not isinstance(values, tuple | list) or not all(_is_real(v) for v in values):
        raise _fail(field_name, values, f"is not a list of numbers; {allowed}")
    if not lo <= len(values) <= hi:
        count = f"exactly {lo}" if lo == hi else f"{lo} to {hi}"
        raise _fail(field_name, values, f"has {len(values):,} values; {count} allowed")
    return tuple(float(v) for v in values)


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
        # Cheap checks first; nothing is computed from a field before it is checked.
        names = self.class_names
        if not isinstance(names, tuple | list) or not all(isinstance(c, str) for c in names):
            raise _fail("class_names", names, "is not a list of strings")
        if not 1 <= len(names) <= LIMITS["classes"]:
            raise _fail(
                "class_names", names, f"has {len(names):,} names; 1 to {LIMITS['classes']} allowed"
            )
        if self.positive_class not in names:
            raise _fail(
                "positive_class", self.positive_class, f"is not one of class_names {show(names)}"
            )
        fs = self.sample_rate
        if not (_is_real(fs) and 0 < fs <= LIMITS["sample_rate"]):
            raise _fail(
                "sample_rate",
                fs,
                f"Hz is not allowed; must be a number in (0, {LIMITS['sample_rate']:g}] Hz",
            )
        # Validates window, hop and thresholds with field-naming errors.
        self.counter_config()
        if self.window > LIMITS["window"]:
            raise _fail(
                "window_s",
                self.window_s,
                f"s is {self.window:,} samples at {fs:g} Hz; at most {LIMITS['window']:,} "
                "samples allowed",
            )
        if self.hop / fs < LIMITS["hop_s"] - 1e-12:
            raise _fail(
                "hop_s",
                self.hop_s,
                f"s is not allowed; must be at least {LIMITS['hop_s']:g} s "
                f"(at most {1 / LIMITS['hop_s']:g} windows per second)",
            )
        step = self.time_step
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= self.window:
            raise _fail("time_step", step, f"must be an integer in [1, {self.window}]")
        self._check_front_end(fs)

    def _check_front_end(self, fs: float) -> None:
        """Wavelet, frequencies, normalisation and the sizes they imply."""
        try:
            fft_length(1, [1.0], self.wavelet)
        except InvalidParameter:
            raise _fail(
                "wavelet",
                self.wavelet,
                "is not allowed; only complex Morlet wavelets 'cmorB-C' (B, C > 0), "
                "e.g. 'cmor1.5-1.0'",
            ) from None
        freqs = _reals(
            "freqs_hz",
            self.freqs_hz,
            size=(1, int(LIMITS["scales"])),
            allowed=f"each in (0, fs/2] = (0, {fs / 2:g}] Hz",
        )
        if not all(0 < f <= fs / 2 for f in freqs):
            raise _fail(
                "freqs_hz", freqs, f"is not allowed; each must be in (0, fs/2] = (0, {fs / 2:g}] Hz"
            )
        scale = self.norm_scale
        if not (_is_real(scale) and math.isfinite(scale) and scale > 0):
            raise _fail("norm_scale", scale, "is not allowed; must be a finite number > 0")
        mean = _reals("norm_mean", self.norm_mean, size=(3, 3), allowed="one per axis")
        std = _reals("norm_std", self.norm_std, size=(3, 3), allowed="one per axis")
        if not all(math.isfinite(v) for v in mean):
            raise _fail("norm_mean", mean, "is not allowed; must be 3 finite numbers")
        if not all(math.isfinite(v) and v > 0 for v in std):
            raise _fail("norm_std", std, "is not allowed; must be 3 finite numbers > 0")
        values = math.prod(self.input_shape)
        if values > LIMITS["input_values"]:
            raise ModelError(
                f"model metadata: freqs_hz ({len(freqs)} scales), window_s and time_step give "
                f"{list(self.input_shape)} = {values:,} input values per window; at most "
                f"{LIMITS['input_values']:,} allowed"
            )
        bank = len(freqs) * fft_length(self.window, self.scales, self.wavelet)
        if bank > LIMITS["bank_values"]:
            raise ModelError(
                f"model metadata: freqs_hz down to {min(freqs):g} Hz with wavelet "
                f"{show(self.wavelet)} needs a filter bank of {len(freqs)} scales x "
                f"{bank // len(freqs):,} FFT points = {bank:,} values; at most "
                f"{LIMITS['bank_values']:,} allowed (raise the lowest frequency)"
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
        """Read the spec back; a missing, malformed or out-of-limits key is a
        :class:`ModelError` that names ``source``."""
        if props.get(f"{_PREFIX}format") != FORMAT:
            raise ModelError(
                f"{source}: metadata key '{_PREFIX}format' is "
                f"{show(props.get(_PREFIX + 'format'))}, expected {FORMAT!r}; "
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
                    f"{source}: metadata '{_PREFIX}{name}' = {show(raw)} is not valid JSON"
                ) from None
            kwargs[name] = tuple(value) if isinstance(value, list) else value
            del f
        try:
            return cls(**kwargs)
        except ModelError as exc:
            detail = str(exc).removeprefix("model metadata: ")
            raise ModelError(f"{source} metadata: {detail}") from None


@functools.lru_cache(maxsize=64)
def _scales(freqs_hz: tuple[float, ...], fs: float, wavelet: str) -> np.ndarray:
    scales = morlet_scales(freqs_hz, fs, wavelet)
    scales.flags.writeable = False
    return scales


# -- sessions --------------------------------------------------------------------------
_SESSIONS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def session(data: bytes, sha256: str, threads: int = 1, *, name: str = "") -> Any:
    """The process's ONNX Runtime session for this model, built on first use.

    ``threads`` sets ``intra_op_num_threads`` explicitly: ONNX Runtime ignores
    OMP_NUM_THREADS, and one thread per dask worker process avoids oversubscription.
    ``name`` (the model's path) is what an error names; without it, the hash.
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
                        f"model {_named(name) if name else sha256[:12]}: ONNX Runtime cannot "
                        f"load it ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
                    ) from None
                _SESSIONS[key] = sess
    return sess


# -- external data ---------------------------------------------------------------------
def _all_tensors(graph: Any) -> Any:
    """Every TensorProto of a graph: initializers, node attributes, subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for g in attr.graphs:
                yield from _all_tensors(g)


def _external(proto: Any) -> list[Any]:
    from onnx import TensorProto

    tensors = list(_all_tensors(proto.graph))
    for fn in proto.functions:
        for node in fn.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    tensors.append(attr.t)
    return [t for t in tensors if t.data_location == TensorProto.EXTERNAL]


def _parse(data: bytes, label: str) -> Any:
    import onnx

    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelError(
            f"model {_named(label)}: not an ONNX file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160] if str(exc) else 'cannot parse'})"
        ) from None


def _inline_external(data: bytes, path: Path, label: str) -> tuple[bytes, str]:
    """The model with its external tensors read in, and the digest that identifies both.

    Each tensor's ``location`` is resolved against the model's folder (not the working
    directory) and must stay inside it. The digest covers the file's bytes and, in
    order, each external tensor's location, offset, length and bytes.
    """
    proto = _parse(data, label)
    tensors = _external(proto)
    folder = path.resolve().parent
    h = hashlib.sha256(b"highfive-onnx-external/1")
    h.update(len(data).to_bytes(8, "little") + data)
    total = len(data)
    for t in tensors:
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        where = f"model {_named(label)}: tensor {show(t.name)} has external data {show(location)}"
        target = (folder / location).resolve()
        if not location or Path(location).is_absolute() or not target.is_relative_to(folder):
            raise ModelError(
                f"{where}, which is not inside the model's folder {_named(str(folder))}; "
                "external data must be a relative path next to the model"
            )
        try:
            offset = int(info.get("offset", "0"))
            size = target.stat().st_size
            length = int(info["length"]) if "length" in info else size - offset
        except ValueError:
            raise ModelError(f"{where} with a non-integer offset or length") from None
        except OSError:
            raise ModelError(f"{where}, which does not exist next to the model") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelError(
                f"{where} at bytes {offset:,}-{offset + length:,}, beyond the file's {size:,} bytes"
            )
        total += length
        if total > _MAX_MODEL_BYTES:
            raise ModelError(
                f"model {_named(label)}: with its external data it exceeds 2 GiB, the most "
                "an ONNX model held in memory may have"
            )
        with open(target, "rb") as f:
            f.seek(offset)
            raw = f.read(length)
        for part in (location.encode(), str(offset).encode(), raw):
            h.update(len(part).to_bytes(8, "little") + part)
        t.raw_data = raw
        del t.external_data[:]
        t.data_location = 0  # TensorProto.DEFAULT
    return proto.SerializeToString(), h.hexdigest()


def _has_external(data: bytes, label: str) -> bool:
    # An external tensor stores the key "location" as plain bytes: most files need no parse.
    return b"location" in data and bool(_external(_parse(data, label)))


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
            ref = resources.files("highfive.models").joinpath(SHIPPED[key])
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
            shape = getattr(probs, "shape", None)
            if shape != (rows, n_classes):
                got = list(shape) if shape is not None else type(probs).__name__
                raise ModelError(
                    f"model {_named(self.label)}: output {show(name_out)} has shape {got} for "
                    f"a batch of {rows} windows; it must be [{rows}, {n_classes}], one row of "
                    "class probabilities per window"
                )
            out[b0 : b0 + batch] = probs[:, k]
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild on the other side: the session is per process; the identity travels.
        return (_rebuild, (self.data, self.name, self.threads, self.sha256, self.source))


def _rebuild(data: bytes, name: str, threads: int, sha256: str = "", source: str = "") -> Model:
    return Model._build(data, name, threads, sha256 or hashlib.sha256(data).hexdigest(), source)
