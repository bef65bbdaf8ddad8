"""The memory an ONNX graph needs at batch 1: its weights' bytes and the schedule of its
activation buffers.

Peak activations (:func:`activation_schedule`): the nodes run one at a time in the
file's (topological) order; a tensor's buffer is live from the node that writes it to
the last node that reads it (graph outputs to the end); the peak is the largest sum of
live buffers, each ``elements x dtype size`` at batch 1 from ONNX shape inference.
Assumptions, as an integer kernel library such as CMSIS-NN runs a graph:

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
  its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from highfive.generators import ModelError

__all__ = ["MemorySchedule", "activation_schedule", "infer_batch1", "weight_bytes"]

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


def infer_batch1(onnx_model: Any) -> tuple[Any, dict[str, tuple[tuple[int, ...], int]]]:
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

    _, info = infer_batch1(onnx_model)  # after the order check: inference needs it too

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
