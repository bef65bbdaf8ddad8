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
- **peak activations**: the nodes run one at a time in the file's (topological) order;
  a tensor's buffer is live from the node that writes it to the last node that reads
  it (graph outputs to the end); the peak is the largest sum of live buffers, each
  ``elements x dtype size`` at batch 1 from ONNX shape inference
  (:func:`activation_schedule`). Assumptions, as an integer kernel library such as
  CMSIS-NN runs a graph:

  - *in place*: an element-wise activation (``Relu``, ``Clip``, ``Sigmoid``, ...)
    writes into its input's buffer when it is that input's last reader (and the input
    is no graph input); otherwise it gets a buffer of its own;
  - *views*: ``Reshape``, ``Flatten``, ``Squeeze``, ``Unsqueeze`` and ``Identity``
    share their input's buffer;
  - *quantized graphs*: ``DequantizeLinear`` is read in place by the integer kernel
    that consumes it (no float copy), and a float tensor whose only reader is a
    ``QuantizeLinear`` (through in-place activations) is never stored: the kernel
    writes the quantized values directly;
  - tensors computed from constants alone (a weight's ``DequantizeLinear``) are
    weights, not activations; the graph's input is the scalogram buffer, counted on
    its own;

- **buffers**: the window of samples the scalogram is computed from (window samples x
  3 axes, float32) and the scalogram itself (the model's input at batch 1);
- **compute**: MACs per window (:func:`highfive.models.count_macs`: Conv, Gemm,
  MatMul) times windows per second (``1 / hop_s``), divided by the profile's MACs per
  cycle (int8 when the graph has quantize/dequantize or integer nodes, else float),
  gives cycles per second; over the clock, the duty cycle.

It fits when weights + code allowance <= flash, activations + buffers + RAM allowance
<= RAM, and the duty cycle <= the profile's limit. Not counted: the scalogram front
end's arithmetic (a direct-form CWT of the shipped models' windows would add up to
3 x 16 x 25 x 75 x 2 = 180,000 real MACs per window), the counter, pooling and
activations. These are estimates from stated figures, not measurements on a device.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highfive.generators import ConfigError, ModelError, read_toml

if TYPE_CHECKING:
    from highfive.harness import Model

__all__ = [
    "DEFAULT_TARGET",
    "MemorySchedule",
    "TargetEstimate",
    "TargetProfile",
    "activation_schedule",
    "estimate_target",
    "shipped_targets",
    "weight_bytes",
]

DEFAULT_TARGET = "nrf52832"
"""The profile ``highfive model target`` uses without ``--target``."""

KIB = 1024
_AXES = 3  # accelerometer axes in a window buffer
_SAMPLE_BYTES = 4  # float32 samples in the window buffer

# Element-wise activations that may write into their input's buffer.
_IN_PLACE = frozenset(
    {
        "Relu",
        "LeakyRelu",
        "Clip",
        "Sigmoid",
        "HardSigmoid",
        "HardSwish",
        "Tanh",
        "Elu",
        "Selu",
        "Softplus",
        "Softsign",
        "Abs",
        "Neg",
    }
)
# Operators that only reinterpret their input's buffer.
_VIEWS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
# Nodes that make a graph an integer one (int8 MACs per cycle).
_INTEGER_OPS = frozenset(
    {
        "QuantizeLinear",
        "DequantizeLinear",
        "QLinearConv",
        "QLinearMatMul",
        "ConvInteger",
        "MatMulInteger",
    }
)


# -- the profile -----------------------------------------------------------------------
@dataclass(frozen=True)
class TargetProfile:
    """A microcontroller the classifier must fit, with the figures the estimate uses.

    Attributes
    ----------
    name : str
        The profile's name (its file's stem).
    description, core : str
        One line about the part; its CPU core.
    clock_mhz : float
        Core clock, MHz (> 0).
    flash_kib, ram_kib : float
        Non-volatile memory and RAM, KiB (flash > 0, RAM >= 1).
    code_allowance_kib, ram_allowance_kib : float
        What the rest of the firmware keeps of each, KiB (0 to the memory's size).
    macs_per_cycle_int8, macs_per_cycle_float : float
        Multiply-accumulates per clock cycle the int8 and float kernels are taken to
        reach on this core (> 0): estimates, see the profile's comments.
    max_duty_cycle : float
        Largest share of the core's time the classifier may use, in (0, 1].
    source : str
        Where the profile was read from (errors name it).
    """

    name: str
    description: str
    core: str
    clock_mhz: float
    flash_kib: float
    ram_kib: float
    code_allowance_kib: float
    ram_allowance_kib: float
    macs_per_cycle_int8: float
    macs_per_cycle_float: float
    max_duty_cycle: float
    source: str = ""

    def __post_init__(self) -> None:
        where = f"target profile {(self.source or self.name)!r}"
        for key in ("name", "description", "core"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: {key} = {value!r} is not allowed; give a text")
        for key, low, closed, unit in _NUMBERS:
            value = getattr(self, key)
            ok = _is_number(value) and math.isfinite(value)
            ok = ok and (value >= low if closed else value > low)
            if not ok:
                rule = f">= {low:g}" if closed else f"> {low:g}"
                raise ConfigError(
                    f"{where}: {key} = {value!r} is not allowed; must be a finite number "
                    f"{rule}{unit}"
                )
        for key, whole in (("code_allowance_kib", "flash_kib"), ("ram_allowance_kib", "ram_kib")):
            if getattr(self, key) > getattr(self, whole):
                raise ConfigError(
                    f"{where}: {key} = {getattr(self, key)!r} is not allowed; must be at "
                    f"most {whole} = {getattr(self, whole)!r}"
                )
        if self.max_duty_cycle > 1:
            raise ConfigError(
                f"{where}: max_duty_cycle = {self.max_duty_cycle!r} is not allowed; must be "
                "in (0, 1] (a share of the core's time)"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, name: str, source: str) -> TargetProfile:
        """A profile from a TOML table; unknown or missing keys are a :class:`ConfigError`."""
        where = f"target profile {source!r}"
        allowed = PROFILE_KEYS
        for key in data:
            if key not in allowed:
                raise ConfigError(
                    f"{where}: unknown key {key!r}; allowed keys: {', '.join(allowed)}"
                )
        missing = [k for k in allowed if k not in data]
        if missing:
            raise ConfigError(f"{where}: missing key {missing[0]!r}; every key is required")
        return cls(name=name, source=source, **dict(data))

    @classmethod
    def load(cls, target: str | os.PathLike[str] = DEFAULT_TARGET) -> TargetProfile:
        """A shipped profile by name (see :func:`shipped_targets`) or a ``.toml`` file."""
        key = os.fspath(target)
        if key in shipped_targets():
            ref = resources.files("highfive.models").joinpath("targets", f"{key}.toml")
            with resources.as_file(ref) as path:
                data = read_toml(path, "target profile")
            return cls.from_mapping(data, name=key, source=key)
        if not key.endswith(".toml"):
            raise ConfigError(
                f"target: {key!r} is neither a shipped profile ({', '.join(shipped_targets())}) "
                "nor a .toml file"
            )
        path = Path(key)
        return cls.from_mapping(read_toml(path, "target profile"), name=path.stem, source=key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# (key, lower bound, bound included, unit) for the numeric keys.
_NUMBERS = (
    ("clock_mhz", 0.0, False, " (MHz)"),
    ("flash_kib", 0.0, False, " (KiB)"),
    ("ram_kib", 1.0, True, " (KiB)"),
    ("code_allowance_kib", 0.0, True, " (KiB)"),
    ("ram_allowance_kib", 0.0, True, " (KiB)"),
    ("macs_per_cycle_int8", 0.0, False, ""),
    ("macs_per_cycle_float", 0.0, False, ""),
    ("max_duty_cycle", 0.0, False, ""),
)
PROFILE_KEYS = tuple(f.name for f in fields(TargetProfile) if f.name not in ("name", "source"))
"""The keys a profile file must have, no more."""


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def shipped_targets() -> tuple[str, ...]:
    """Names of the profiles shipped in ``highfive.models`` (``targets/*.toml``)."""
    folder = resources.files("highfive.models").joinpath("targets")
    if not folder.is_dir():
        return ()
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )


# -- the graph: weights and the memory schedule ----------------------------------------
def _dtype_size(elem_type: int, tensor: str) -> int:
    from onnx import helper

    try:
        dtype = helper.tensor_dtype_to_np_dtype(elem_type)
    except (KeyError, TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.kind == "O":
        raise ModelError(
            f"model: tensor {tensor!r} has ONNX element type {elem_type}, whose size in "
            "bytes is not fixed; the budget needs numeric tensors"
        )
    return int(dtype.itemsize)


def weight_bytes(onnx_model: Any) -> int:
    """Bytes of every initializer and ``Constant`` tensor, at its stored element type.

    Parameters
    ----------
    onnx_model : onnx.ModelProto

    Returns
    -------
    int
    """
    tensors = list(onnx_model.graph.initializer)
    tensors += [
        a.t
        for n in onnx_model.graph.node
        if n.op_type == "Constant"
        for a in n.attribute
        if a.HasField("t")
    ]
    total = 0
    for t in tensors:
        total += math.prod(int(d) for d in t.dims) * _dtype_size(t.data_type, t.name)
    return total


@dataclass(frozen=True)
class MemorySchedule:
    """Live activation buffers along a graph's node order (:func:`activation_schedule`).

    Attributes
    ----------
    peak_bytes : int
        The largest sum of simultaneously live buffers, bytes at batch 1.
    peak_node : int
        Index (in the graph's node order) of the first node where the peak is reached.
    peak_op : str
        That node's operator.
    peak_tensors : tuple of str
        The buffers live there, each named by the tensor that owns it.
    live_bytes : tuple of int
        Live bytes at each node.
    input_bytes : int
        The graph inputs' bytes at batch 1 (not part of the peak: the scalogram buffer).
    """

    peak_bytes: int
    peak_node: int
    peak_op: str
    peak_tensors: tuple[str, ...]
    live_bytes: tuple[int, ...]
    input_bytes: int


def _infer_batch1(onnx_model: Any) -> tuple[Any, dict[str, tuple[tuple[int, ...], int]]]:
    """The model with every graph input's batch set to 1, shape-inferred, and each
    tensor's (shape, element type) in it."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(onnx_model)
    inits = {t.name for t in model.graph.initializer}
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if value.name not in inits and len(dims) > 0:
            dims[0].Clear()
            dims[0].dim_value = 1
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:  # onnx raises its own InferenceError types
        raise ModelError(
            f"model: ONNX shape inference fails ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})"
        ) from None
    info: dict[str, tuple[tuple[int, ...], int]] = {}
    graph = inferred.graph
    for v in (*graph.input, *graph.value_info, *graph.output):
        tt = v.type.tensor_type
        if tt.HasField("shape"):
            info[v.name] = (tuple(int(d.dim_value) for d in tt.shape.dim), tt.elem_type)
    for t in graph.initializer:
        info[t.name] = (tuple(int(d) for d in t.dims), t.data_type)
    return inferred, info


def activation_schedule(onnx_model: Any) -> MemorySchedule:
    """Peak activation memory of a graph run node by node in its order, at batch 1.

    See the module docstring for the in-place, view and quantization assumptions.

    Parameters
    ----------
    onnx_model : onnx.ModelProto
        Static shapes apart from the batch (the first dimension of each input).

    Returns
    -------
    MemorySchedule

    Raises
    ------
    ModelError
        The node order is not topological, or a tensor's shape cannot be inferred.
    """
    graph = onnx_model.graph
    nodes = list(graph.node)
    inputs = {v.name for v in graph.input} - {t.name for t in graph.initializer}
    outputs = {v.name for v in graph.output}
    const = {t.name for t in graph.initializer}
    producer: dict[str, int] = {}
    readers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            if not name:
                continue
            if name not in const and name not in inputs and name not in producer:
                raise ModelError(
                    f"model: node {i} ({node.op_type} {node.name!r}) reads {name!r} before any "
                    "node writes it; the graph's nodes must be in topological order"
                )
            readers.setdefault(name, []).append(i)
        data_in = [n for n in node.input if n]
        for name in node.output:
            if name:
                producer[name] = i
                if node.op_type == "Constant" or (data_in and all(n in const for n in data_in)):
                    const.add(name)

    _, info = _infer_batch1(onnx_model)  # after the order check: inference needs it too

    def nbytes(name: str) -> int:
        shape, elem = info.get(name, ((), 0))
        if name not in info or any(d <= 0 for d in shape):
            raise ModelError(
                f"model: cannot infer the shape of {name!r} (written by node "
                f"{producer.get(name, '?')}); the budget needs static shapes apart from "
                "the batch"
            )
        return math.prod(shape) * _dtype_size(elem, name)

    # Where each activation is stored: alias[t] is the tensor whose buffer t uses.
    alias: dict[str, str] = {}

    def quantized_into(name: str) -> str | None:
        """The QuantizeLinear output that stores ``name`` instead, if any."""
        if name in outputs or len(readers.get(name, [])) != 1:
            return None
        node = nodes[readers[name][0]]
        if node.input[0] != name:
            return None
        if node.op_type == "QuantizeLinear":
            return str(node.output[0])
        if node.op_type in _IN_PLACE or node.op_type in _VIEWS:
            return quantized_into(node.output[0])
        return None

    for i, node in enumerate(nodes):
        if not node.output or node.output[0] in const:
            continue
        out, src = node.output[0], (node.input[0] if node.input else "")
        stored = quantized_into(out) if node.op_type != "QuantizeLinear" else None
        if stored is not None:  # written quantized, straight into the QuantizeLinear's output
            alias[out] = stored
        elif not src or src in const:
            continue
        elif node.op_type in _VIEWS or (node.op_type == "DequantizeLinear" and out not in outputs):
            alias[out] = src  # the same bytes, read differently
        elif (
            node.op_type in _IN_PLACE
            and max(readers[src]) == i
            and src not in inputs
            and src not in outputs
        ):
            alias[out] = src  # written over its input, which nothing reads later

    def root(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    first: dict[str, int] = {}
    last: dict[str, int] = {}
    end = len(nodes) - 1
    for name, i in producer.items():
        if name in const or root(name) in inputs:
            continue
        r = root(name)
        first[r] = min(first.get(r, i), i)
        stop = max([i, *readers.get(name, [])])
        if name in outputs:
            stop = end
        last[r] = max(last.get(r, stop), stop)
    size = {r: nbytes(r) for r in first}
    live = []
    for i in range(len(nodes)):
        live.append(sum(size[r] for r in first if first[r] <= i <= last[r]))
    peak = max(live, default=0)
    at = live.index(peak) if live else 0
    names = tuple(r for r in first if first[r] <= at <= last[r])
    return MemorySchedule(
        peak_bytes=peak,
        peak_node=at,
        peak_op=nodes[at].op_type if nodes else "",
        peak_tensors=names,
        live_bytes=tuple(live),
        input_bytes=sum(nbytes(name) for name in inputs),
    )


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

    @property
    def windows_per_s(self) -> float:
        return 1.0 / self.hop_s

    @property
    def macs_per_s(self) -> float:
        return self.macs_per_window * self.windows_per_s

    @property
    def cycles_per_s(self) -> float:
        return self.macs_per_s / self.macs_per_cycle

    @property
    def ms_per_window(self) -> float:
        """Estimated time of one inference on the core, ms."""
        return 1e3 * self.macs_per_window / self.macs_per_cycle / (self.target.clock_mhz * 1e6)

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
            "kernels": "int8" if self.quantized else "float",
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
        kind = "int8" if self.quantized else "float32"
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
            ("MACs", f"{self.macs_per_window:,}", "per window (Conv, Gemm, MatMul)"),
            ("windows", f"{self.windows_per_s:g}/s", f"hop {self.hop_s:g} s"),
            ("MACs/s", f"{self.macs_per_s:,.0f}", ""),
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


_LABELS = {"flash": "flash", "ram": "RAM", "duty_cycle": "duty cycle"}


def _kib(n_bytes: float) -> str:
    return f"{n_bytes / KIB:,.1f} KiB"


def _is_quantized(nodes: Iterable[Any]) -> bool:
    return any(n.op_type in _INTEGER_OPS for n in nodes)


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
    """
    import onnx

    from highfive.harness import Model

    from ._profile import count_macs

    profile = target if isinstance(target, TargetProfile) else TargetProfile.load(target)
    m = model if isinstance(model, Model) else Model.load(model)
    proto = onnx.load_model_from_string(m.data)
    schedule = activation_schedule(proto)
    quantized = _is_quantized(proto.graph.node)
    spec = m.spec
    return TargetEstimate(
        model=m.label,
        sha256=m.sha256,
        target=profile,
        quantized=quantized,
        weight_bytes=weight_bytes(proto),
        activations=schedule,
        window_buffer_bytes=spec.window * _AXES * _SAMPLE_BYTES,
        scalogram_buffer_bytes=schedule.input_bytes,
        window_samples=spec.window,
        input_shape=spec.input_shape,
        macs_per_window=count_macs(proto),
        hop_s=spec.hop_s,
        macs_per_cycle=profile.macs_per_cycle_int8 if quantized else profile.macs_per_cycle_float,
    )
