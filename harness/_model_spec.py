"""What a model needs around it (:class:`ModelSpec`), stored in its ONNX metadata.

Metadata is checked against :data:`LIMITS` before anything is allocated from it, so a
model that asks for a 100 kHz rate or thousands of scales is refused with one line
instead of taking gigabytes.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from highfive.generators import InvalidParameter, ModelError, show

from ._counter import CounterConfig
from ._scalogram import fft_length, log_freqs, morlet_scales

__all__ = ["LIMITS", "ModelSpec"]

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
        if len(set(names)) < len(names):  # which column is the positive one is ambiguous
            twice = next(c for c in names if names.count(c) > 1)
            raise _fail("class_names", names, f"names {twice!r} twice; each class once")
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
        except ValueError as exc:  # named as the spec's fields, as the other checks name them
            detail = str(exc).replace("CounterConfig.", "")
            raise ModelError(f"model metadata: {detail}") from None

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
            given = props.get(_PREFIX + "format")
            raise ModelError(
                f"{source}: metadata key '{_PREFIX}format' is "
                f"{'missing' if given is None else show(given)}, expected {FORMAT!r}; "
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
