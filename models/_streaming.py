"""MACs per second of a network that a watch runs column by column.

A graph is *column-streamable* when, up to its GlobalAveragePool, every node is a
convolution with stride 1 and no padding along time (``pads`` zero at both ends of the
last axis, ``auto_pad`` unset or ``VALID``), or acts on each column alone (Relu, batch
norm, quantize/dequantize, a Pad whose pads, read from the graph, are zero along
batch and time), and the hop is a whole
number of scalogram columns (``hop % time_step == 0``). Then an output column of
every convolution depends only on the input columns under it, the same in every
window that holds them, so each is computed once, when its last input column arrives
(:mod:`highfive.models._arch` describes the streaming network):

- MACs per column = sum over those convolutions of (node MACs per window / its
  output columns);
- MACs per window = the costed nodes after the pooling (the Linear head), once per
  hop, plus the pooling's running sum (adds, not counted, as elsewhere);
- MACs per second = MACs per column x columns per second (``sample_rate /
  time_step``) + MACs per window x windows per second (``1 / hop_s``).

Anything else (a MaxPool or AveragePool before the global pooling, a strided or
time-padded convolution, a Pad along time or with pads computed at run time, a
Reshape) is not streamable: :func:`streaming_macs` returns
None and the model costs its MACs per window at every hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from highfive.harness import ModelSpec

from ._profile import costed_nodes

__all__ = ["StreamCost", "streaming_macs"]

_PER_COLUMN_OPS = frozenset(
    {
        "Conv",
        "QLinearConv",
        "Relu",
        "BatchNormalization",
        "QuantizeLinear",
        "DequantizeLinear",
        "Pad",
        "Clip",
    }
)


@dataclass(frozen=True)
class StreamCost:
    """MACs of a column-streamable model per new column, per window and per second."""

    macs_per_column: float
    columns_per_s: float
    head_macs_per_window: int
    windows_per_s: float
    int8_macs_per_column: float = 0.0
    """The part of ``macs_per_column`` that runs in int8."""
    int8_head_macs_per_window: int = 0
    """The part of ``head_macs_per_window`` that runs in int8."""

    @property
    def macs_per_s(self) -> float:
        return (
            self.macs_per_column * self.columns_per_s
            + self.head_macs_per_window * self.windows_per_s
        )

    @property
    def int8_macs_per_s(self) -> float:
        """The part of :attr:`macs_per_s` that runs in int8."""
        return (
            self.int8_macs_per_column * self.columns_per_s
            + self.int8_head_macs_per_window * self.windows_per_s
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "macs_per_column": self.macs_per_column,
            "columns_per_s": self.columns_per_s,
            "head_macs_per_window": self.head_macs_per_window,
            "macs_per_s": self.macs_per_s,
        }


def _attr(node: Any, name: str, default: list[int]) -> list[int]:
    for a in node.attribute:
        if a.name == name:
            return list(a.ints)
    return default


def _auto_pad(node: Any) -> str:
    for a in node.attribute:
        if a.name == "auto_pad":
            return a.s.decode()
    return "NOTSET"


def _constant_ints(onnx_model: Any, name: str) -> list[int] | None:
    """The values of an initializer or ``Constant`` output ``name``, else None."""
    from onnx import numpy_helper

    for t in onnx_model.graph.initializer:
        if t.name == name:
            return [int(v) for v in numpy_helper.to_array(t).ravel()]
    for node in onnx_model.graph.node:
        if node.op_type == "Constant" and node.output and node.output[0] == name:
            for a in node.attribute:
                if a.name == "value":
                    return [int(v) for v in numpy_helper.to_array(a.t).ravel()]
                if a.name == "value_ints":
                    return list(a.ints)
            return None
    return None


def _pads_time(onnx_model: Any, node: Any, rank: int) -> bool:
    """Whether a Pad node pads the batch or time axis, or its pads cannot be read."""
    if len(node.input) > 1 and node.input[1]:
        pads = _constant_ints(onnx_model, node.input[1])
    else:  # opset < 11: an attribute
        pads = _attr(node, "pads", []) or None
    if pads is None or len(pads) % 2:
        return True
    n = len(pads) // 2
    axes: list[int] | None = list(range(n))
    if len(node.input) > 3 and node.input[3]:
        axes = _constant_ints(onnx_model, node.input[3])
    if axes is None or len(axes) != n:
        return True
    for axis, begin, end in zip(axes, pads[:n], pads[n:], strict=True):
        if (begin or end) and axis % rank in (0, rank - 1):
            return True
    return False


def _pads_conv_time(node: Any) -> bool:
    """Whether a convolution pads along time (its last axis), explicitly or by
    ``auto_pad``."""
    if _auto_pad(node) not in ("NOTSET", "VALID"):
        return True
    pads = _attr(node, "pads", [])
    half = len(pads) // 2
    return bool(pads) and bool(pads[half - 1] or pads[-1])


def _pool_index(onnx_model: Any) -> int:
    ops = [n.op_type for n in onnx_model.graph.node]
    return ops.index("GlobalAveragePool")


def streaming_macs(onnx_model: Any, spec: ModelSpec) -> StreamCost | None:
    """The column-by-column cost of ``onnx_model``, or None if it is not streamable.

    Parameters
    ----------
    onnx_model : onnx.ModelProto
    spec : ModelSpec
        Its preprocessing (sample rate, ``time_step``, hop).
    """
    if spec.hop % spec.time_step:
        return None
    pooled = False
    rank = len(spec.input_shape) + 1  # batch, channels, scales, columns
    for node in onnx_model.graph.node:
        if node.op_type == "GlobalAveragePool":
            pooled = True
            break
        if node.op_type not in _PER_COLUMN_OPS:
            return None
        if node.op_type in ("Conv", "QLinearConv"):
            strides = _attr(node, "strides", [1, 1])
            if strides[-1] != 1 or _pads_conv_time(node):
                return None
        if node.op_type == "Pad" and _pads_time(onnx_model, node, rank):
            return None
    if not pooled:
        return None
    # The Conv nodes before the pooling come first in costed_nodes (graph order).
    n_before = sum(
        n.op_type in ("Conv", "QLinearConv")
        for n in onnx_model.graph.node[: _pool_index(onnx_model)]
    )
    costs = costed_nodes(onnx_model)
    column = [(macs / shape[-1], int8) for _, macs, shape, int8 in costs[:n_before]]
    head = [(macs, int8) for _, macs, _, int8 in costs[n_before:]]
    return StreamCost(
        macs_per_column=sum(m for m, _ in column),
        columns_per_s=spec.sample_rate / spec.time_step,
        head_macs_per_window=sum(m for m, _ in head),
        windows_per_s=1.0 / spec.hop_s,
        int8_macs_per_column=sum(m for m, int8 in column if int8),
        int8_head_macs_per_window=sum(m for m, int8 in head if int8),
    )
