"""MACs per second of a network that a watch runs column by column.

A graph is *column-streamable* when, up to its GlobalAveragePool, every node is a
convolution with stride 1 and no padding along time, or acts on each column alone
(Relu, batch norm, quantize/dequantize, a Pad of channels), and the hop is a whole
number of scalogram columns (``hop % time_step == 0``). Then an output column of
every convolution depends only on the input columns under it, the same in every
window that holds them, so each is computed once, when its last input column arrives
(:mod:`highfive.models._arch` describes the streaming network):

- MACs per column = sum over those convolutions of (node MACs per window / its
  output columns);
- MACs per window = the weighted nodes after the pooling (the Linear head), once per
  hop, plus the pooling's running sum (adds, not counted, as elsewhere);
- MACs per second = MACs per column x columns per second (``sample_rate /
  time_step``) + MACs per window x windows per second (``1 / hop_s``).

Anything else (a MaxPool or AveragePool before the global pooling, a strided or
time-padded convolution, a Reshape) is not streamable: :func:`streaming_macs` returns
None and the model costs its MACs per window at every hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from highfive.harness import ModelSpec

from ._profile import node_macs

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

    @property
    def macs_per_s(self) -> float:
        return (
            self.macs_per_column * self.columns_per_s
            + self.head_macs_per_window * self.windows_per_s
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
    for node in onnx_model.graph.node:
        if node.op_type == "GlobalAveragePool":
            pooled = True
            break
        if node.op_type not in _PER_COLUMN_OPS:
            return None
        if node.op_type in ("Conv", "QLinearConv"):
            strides = _attr(node, "strides", [1, 1])
            pads = _attr(node, "pads", [0, 0, 0, 0])
            half = len(pads) // 2
            if strides[-1] != 1 or pads[half - 1] or pads[-1]:
                return None
    if not pooled:
        return None
    # The Conv nodes before the pooling come first in node_macs (graph order).
    n_before = sum(
        n.op_type in ("Conv", "QLinearConv")
        for n in onnx_model.graph.node[: _pool_index(onnx_model)]
    )
    costs = node_macs(onnx_model)
    per_column = sum(macs / out_shape[-1] for _, macs, out_shape in costs[:n_before])
    head = sum(macs for _, macs, _ in costs[n_before:])
    return StreamCost(
        macs_per_column=per_column,
        columns_per_s=spec.sample_rate / spec.time_step,
        head_macs_per_window=head,
        windows_per_s=1.0 / spec.hop_s,
    )
