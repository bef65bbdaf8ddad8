"""Does a model fit the watch? Flash, RAM and CPU time on a target microcontroller.

A *target profile* (TOML, :class:`TargetProfile`) describes a microcontroller: clock,
flash, RAM, how much of each the rest of the firmware keeps (the allowances), the
multiply-accumulates per cycle its int8 and float kernels are taken to reach, and the
share of the core's time the classifier may use. Profiles ship in ``targets/`` (each
figure's source in its comments); ``highfive model target MODEL --target NAME|PATH``
prints the estimate.

What is counted, per model (:func:`estimate_target`):

- **weight bytes**: every initializer and ``Constant`` tensor of the file, at its
  stored type (an int8 model's weights, int32 biases, scales and zero points);
- **peak activations**: the largest sum of simultaneously live activation buffers at
  batch 1, the nodes run one at a time in the file's order
  (:func:`activation_schedule`; :mod:`._graph_memory` states how buffers are shared,
  as an integer kernel library such as CMSIS-NN runs a graph);
- **buffers**: the window of samples the scalogram is computed from (window samples x
  3 axes, float32) and the scalogram itself (the model's input at batch 1);
- **compute**: MACs per window (:func:`highfive.models.count_macs`: Conv, Gemm, MatMul,
  their integer and transposed forms, Einsum, recurrent layers) times windows per second
  (``1 / hop_s``), or, for a column-streamable network (:mod:`._streaming`), the MACs of
  each new scalogram column times columns per second plus the head's per window
  (:func:`highfive.models.count_macs` refuses a node it cannot cost, so a model is never
  judged on compute it leaves out); each node's MACs divided by the profile's MACs per
  cycle at that node's own precision (int8 for an integer operator, or a float one whose
  data and weights both come out of a DequantizeLinear, else float) give cycles per
  second; over the clock, the duty cycle.

It fits when weights + code allowance <= flash, activations + buffers + RAM allowance
<= RAM, and the duty cycle <= the profile's limit. Not counted: the scalogram front
end's arithmetic (a direct-form CWT of the shipped models' windows would add up to
3 x 16 x 25 x 75 x 2 = 180,000 real MACs per window), the counter, pooling and
activations. These are estimates from stated figures, not measurements on a device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._graph_memory import MemorySchedule, activation_schedule, weight_bytes
from ._streaming import StreamCost, streaming_macs
from ._target_profile import DEFAULT_TARGET, TargetProfile

if TYPE_CHECKING:
    from highfive.harness import Model

__all__ = ["TargetEstimate", "estimate_target"]

KIB = 1024
_AXES = 3  # accelerometer axes in a window buffer
_SAMPLE_BYTES = 4  # float32 samples in the window buffer


# -- the estimate -------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetEstimate:
    """A model's flash, RAM and CPU needs on a target, and whether they fit.

    Bytes are at batch 1; rates per second of signal. See the module docstring for what
    is counted and assumed.
    """

    model: str
    sha256: str
    target: TargetProfile
    quantized: bool
    weight_bytes: int
    activations: MemorySchedule
    window_buffer_bytes: int
    scalogram_buffer_bytes: int
    window_samples: int
    input_shape: tuple[int, ...]
    macs_per_window: int
    hop_s: float
    macs_per_cycle: float
    """MACs per cycle over the model's MACs: the profile's int8 or float figure, or,
    for a model with MACs at both precisions, their blend (total MACs over total
    cycles)."""
    stream: StreamCost | None = None
    """The column-by-column cost when the model is column-streamable, else None."""
    int8_share: float = 0.0
    """The share of the MACs per second that run in int8."""

    @property
    def kernels(self) -> str:
        """``"int8"``, ``"float"`` or, for MACs at both precisions, ``"mixed"``."""
        if self.int8_share >= 1.0:
            return "int8"
        return "mixed" if self.int8_share > 0.0 else "float"

    @property
    def windows_per_s(self) -> float:
        return 1.0 / self.hop_s

    @property
    def macs_per_s(self) -> float:
        """MACs per second of signal: streamed column by column when the graph allows
        (:mod:`highfive.models._streaming`), else every window's MACs at every hop."""
        if self.stream is not None:
            return self.stream.macs_per_s
        return self.macs_per_window * self.windows_per_s

    @property
    def cycles_per_s(self) -> float:
        return self.macs_per_s / self.macs_per_cycle

    @property
    def ms_per_window(self) -> float:
        """Estimated core time per hop (one window's inference, or its new columns), ms."""
        return 1e3 * self.cycles_per_s * self.hop_s / (self.target.clock_mhz * 1e6)

    @property
    def duty_cycle(self) -> float:
        return self.cycles_per_s / (self.target.clock_mhz * 1e6)

    @property
    def flash_need_bytes(self) -> int:
        return self.weight_bytes + round(self.target.code_allowance_kib * KIB)

    @property
    def ram_need_bytes(self) -> int:
        return (
            self.activations.peak_bytes
            + self.window_buffer_bytes
            + self.scalogram_buffer_bytes
            + round(self.target.ram_allowance_kib * KIB)
        )

    @property
    def checks(self) -> dict[str, bool]:
        """``flash``, ``ram``, ``duty_cycle``: whether each need is within its budget."""
        return {
            "flash": self.flash_need_bytes <= self.target.flash_kib * KIB,
            "ram": self.ram_need_bytes <= self.target.ram_kib * KIB,
            "duty_cycle": self.duty_cycle <= self.target.max_duty_cycle,
        }

    @property
    def fits(self) -> bool:
        return all(self.checks.values())

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (``highfive model target --json``)."""
        act = self.activations
        return {
            "model": self.model,
            "sha256": self.sha256,
            "target": self.target.to_dict(),
            "kernels": self.kernels,
            "int8_share": self.int8_share,
            "weight_bytes": self.weight_bytes,
            "peak_activation_bytes": act.peak_bytes,
            "peak_node": act.peak_node,
            "peak_op": act.peak_op,
            "peak_tensors": list(act.peak_tensors),
            "window_buffer_bytes": self.window_buffer_bytes,
            "scalogram_buffer_bytes": self.scalogram_buffer_bytes,
            "macs_per_window": self.macs_per_window,
            "windows_per_s": self.windows_per_s,
            "macs_per_s": self.macs_per_s,
            "streaming": None if self.stream is None else self.stream.to_dict(),
            "macs_per_cycle": self.macs_per_cycle,
            "cycles_per_s": self.cycles_per_s,
            "ms_per_window": self.ms_per_window,
            "duty_cycle": self.duty_cycle,
            "flash_need_bytes": self.flash_need_bytes,
            "flash_bytes": round(self.target.flash_kib * KIB),
            "ram_need_bytes": self.ram_need_bytes,
            "ram_bytes": round(self.target.ram_kib * KIB),
            "fits": {**self.checks, "all": self.fits},
        }

    def table(self) -> list[str]:
        """The lines ``highfive model target`` prints."""
        t, act = self.target, self.activations
        kind = {
            "int8": "int8",
            "float": "float32",
            "mixed": "int8 and float32",
        }[self.kernels]
        axes = "x".join(map(str, self.input_shape))
        rows = [
            ("weights", f"{self.weight_bytes:,} B", "initializers as stored"),
            (
                "activations",
                f"{act.peak_bytes:,} B",
                f"peak at node {act.peak_node} ({act.peak_op}), {len(act.peak_tensors)} "
                "buffers live",
            ),
            (
                "window",
                f"{self.window_buffer_bytes:,} B",
                f"{self.window_samples} samples x {_AXES} axes float32",
            ),
            ("scalogram", f"{self.scalogram_buffer_bytes:,} B", f"model input {axes}"),
            ("MACs", f"{self.macs_per_window:,}", "per window (every multiplying node)"),
            ("windows", f"{self.windows_per_s:g}/s", f"hop {self.hop_s:g} s"),
            ("MACs/s", f"{self.macs_per_s:,.0f}", self._rate_note()),
            ("MACs/cycle", f"{self.macs_per_cycle:g}", f"{kind} kernels on a {t.core} (estimate)"),
            ("cycles/s", f"{self.cycles_per_s:,.0f}", f"{self.ms_per_window:.2f} ms per window"),
        ]
        lines = [
            f"model      {self.model}",
            f"target     {t.name}: {t.description}",
            "",
        ]
        lines += [f"{k:<12}{v:>14}  {note}".rstrip() for k, v, note in rows]
        checks = self.checks
        budget = [
            (
                "flash",
                _kib(self.flash_need_bytes),
                _kib(t.flash_kib * KIB),
                checks["flash"],
                f"weights + {t.code_allowance_kib:g} KiB code allowance",
            ),
            (
                "RAM",
                _kib(self.ram_need_bytes),
                _kib(t.ram_kib * KIB),
                checks["ram"],
                f"activations + window + scalogram + {t.ram_allowance_kib:g} KiB allowance",
            ),
            (
                "duty cycle",
                f"{100 * self.duty_cycle:.1f} %",
                f"{100 * t.max_duty_cycle:g} %",
                checks["duty_cycle"],
                f"of {t.clock_mhz:g} MHz",
            ),
        ]
        lines += ["", f"{'budget':<12}{'need':>14}{'limit':>14}  fits"]
        lines += [
            f"{k:<12}{need:>14}{limit:>14}  {'yes' if ok else 'NO '}  {note}"
            for k, need, limit, ok, note in budget
        ]
        failed = [_LABELS[k] for k, ok in checks.items() if not ok]
        verdict = "fits" if not failed else "does not fit: " + ", ".join(failed)
        lines += [
            "",
            f"verdict    {verdict} (estimates from the profile's figures, not measurements)",
        ]
        return lines

    def _rate_note(self) -> str:
        s = self.stream
        if s is None:
            return "every window in full"
        return (
            f"streamed: {s.macs_per_column:,.0f} per column x {s.columns_per_s:g} columns/s"
            f" + {s.head_macs_per_window:,} per window"
        )


_LABELS = {"flash": "flash", "ram": "RAM", "duty_cycle": "duty cycle"}


def _kib(n_bytes: float) -> str:
    return f"{n_bytes / KIB:,.1f} KiB"


def estimate_target(
    model: str | os.PathLike[str] | Model,
    target: str | os.PathLike[str] | TargetProfile = DEFAULT_TARGET,
) -> TargetEstimate:
    """Flash, RAM and CPU time of a model on a target microcontroller.

    Parameters
    ----------
    model : str, path or Model
        ``"float"``, ``"int8"``, an ONNX file with highfive metadata, or a loaded
        :class:`~highfive.harness.Model`.
    target : str, path or TargetProfile
        A shipped profile's name (default ``"nrf52832"``), a ``.toml`` file, or a
        profile.

    Returns
    -------
    TargetEstimate

    Raises
    ------
    ConfigError
        The profile is unknown, unreadable or has bad figures.
    ModelError
        The model cannot be loaded, has no highfive metadata, or has no static shapes.
    InvalidParameter
        The model has a node whose MACs cannot be costed (see
        :func:`highfive.models.count_macs`).
    """
    import onnx

    from highfive.harness import Model

    from ._profile import costed_nodes

    profile = target if isinstance(target, TargetProfile) else TargetProfile.load(target)
    m = model if isinstance(model, Model) else Model.load(model)
    proto = onnx.load_model_from_string(m.data)
    schedule = activation_schedule(proto)
    spec = m.spec
    costs = costed_nodes(proto)
    macs_per_window = sum(macs for _, macs, _, _ in costs)
    stream = streaming_macs(proto, spec)
    if stream is not None:
        total, int8 = stream.macs_per_s, stream.int8_macs_per_s
    else:
        total = float(macs_per_window)
        int8 = float(sum(macs for _, macs, _, q in costs if q))
    share = int8 / total if total > 0 else 0.0
    if total > 0:
        cycles = int8 / profile.macs_per_cycle_int8 + (total - int8) / profile.macs_per_cycle_float
        rate = total / cycles
    else:
        rate = profile.macs_per_cycle_float
    if share >= 1.0:  # exactly the profile's figure, not a rounding of it
        rate = profile.macs_per_cycle_int8
    elif share == 0.0:
        rate = profile.macs_per_cycle_float
    return TargetEstimate(
        model=m.label,
        sha256=m.sha256,
        target=profile,
        quantized=share > 0.0,
        weight_bytes=weight_bytes(proto),
        activations=schedule,
        window_buffer_bytes=spec.window * _AXES * _SAMPLE_BYTES,
        scalogram_buffer_bytes=schedule.input_bytes,
        window_samples=spec.window,
        input_shape=spec.input_shape,
        macs_per_window=macs_per_window,
        hop_s=spec.hop_s,
        macs_per_cycle=rate,
        stream=stream,
        int8_share=share,
    )
