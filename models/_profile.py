"""What a model costs: file size, parameters, multiply-accumulates, latency.

- *parameters*: elements of the initializers and ``Constant`` tensors a costed node
  (below) takes as weights, directly or through a ``DequantizeLinear`` (so a QDQ
  model's int8 weights and int32 biases are counted once, and its scales and zero
  points not at all);
- *MACs per window*: for every Conv, ConvTranspose, Gemm, MatMul, Einsum, their integer
  forms (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger) and LSTM/GRU/RNN, the
  multiply-accumulates of its output, from ONNX shape inference at batch 1 (pooling,
  activations and softmax are left out: they are adds and compares, a few percent). A
  node of another kind not known to be free of them is refused ("cannot cost op"),
  never costed at zero. Each costed node runs in int8 when it is an integer operator
  or a float one whose data and weights both come out of a ``DequantizeLinear``;
- *latency*: median wall time of ``session.run`` with one intra-op thread, at batch 1
  and at batch 256, after warm-up.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from highfive.generators import InvalidParameter
from highfive.harness import Model, session

from ._graph_memory import infer_batch1

__all__ = ["count_macs", "count_parameters", "int8_format", "node_macs", "profile"]

# Nodes with multiply-accumulates, costed by :func:`node_macs`; for each, the inputs
# that hold its weights (None: every input).
_WEIGHT_INPUTS: dict[str, tuple[int, ...] | None] = {
    "Conv": None,
    "ConvTranspose": None,
    "Gemm": None,
    "MatMul": None,
    "Einsum": None,
    # x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, bias
    "QLinearConv": (3, 8),
    # a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point
    "QLinearMatMul": (0, 3),
    # x, w, x_zero_point, w_zero_point (the bias is a later Add)
    "ConvInteger": (0, 1),
    "MatMulInteger": (0, 1),
    # X, W, R, B, ...
    "LSTM": (1, 2, 3),
    "GRU": (1, 2, 3),
    "RNN": (1, 2, 3),
}
_WEIGHTED_OPS = tuple(_WEIGHT_INPUTS)
_CONV_OPS = frozenset({"Conv", "QLinearConv", "ConvInteger"})
# Operators that run on integers whatever surrounds them.
_INTEGER_OPS = frozenset({"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"})
# Float operators an int8 kernel library runs in int8 when both their data input and
# their weights come out of a DequantizeLinear (a QDQ graph).
_QDQ_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
# Nodes without multiply-accumulates worth counting: element-wise arithmetic,
# normalisation, pooling and reductions (adds and compares), and data movement.
_FREE_OPS = frozenset(
    {
        "Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization",
        "Cast", "CastLike", "Ceil", "Celu", "Clip", "Concat", "Constant",
        "ConstantOfShape", "CumSum", "DepthToSpace", "DequantizeLinear", "Div",
        "Dropout", "DynamicQuantizeLinear", "Elu", "Equal", "Erf", "Exp", "Expand",
        "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gelu", "Greater",
        "GreaterOrEqual", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool",
        "GroupNormalization", "HardSigmoid", "HardSwish", "Identity",
        "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Less",
        "LessOrEqual", "Log", "LogSoftmax", "LpNormalization", "LpPool", "LRN", "Max",
        "MaxPool", "Mean", "Min", "Mish", "Mod", "Mul", "Neg", "Not", "Or", "Pad", "Pow",
        "PRelu", "QuantizeLinear", "Reciprocal", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
        "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize",
        "Round", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Size", "Slice",
        "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze",
        "Sub", "Sum", "Tanh", "ThresholdedRelu", "Tile", "Transpose", "Unsqueeze",
        "Upsample", "Where", "Xor",
        # ONNX Runtime's quantized element-wise and pooling operators (com.microsoft)
        "QLinearAdd", "QLinearAveragePool", "QLinearConcat", "QLinearGlobalAveragePool",
        "QLinearLeakyRelu", "QLinearMul", "QLinearReduceMean", "QLinearSigmoid",
        "QLinearSoftmax",
    }
)  # fmt: skip


def int8_format(op_types: Any) -> tuple[str, str] | None:
    """The int8 format of a graph with these node types, and the nodes that show it:
    ``("QOperator", "QLinearConv")`` for quantized operators (QLinearConv and the other
    QLinear* or *Integer operators, with one Quantize/DequantizeLinear at the edges),
    ``("QDQ", "QuantizeLinear/DequantizeLinear")`` for float operators between
    quantize/dequantize pairs, None for a float model."""
    ops = set(op_types)
    qop = sorted(o for o in ops if o.startswith("QLinear") or o.endswith("Integer"))
    if qop:
        return "QOperator", "/".join(qop)
    qdq = [o for o in ("QuantizeLinear", "DequantizeLinear") if o in ops]
    if qdq:
        return "QDQ", "/".join(qdq)
    return None


def _load_onnx(data: bytes) -> Any:
    import onnx

    return onnx.load_from_string(data)


def _constant_sizes(graph: Any) -> dict[str, int]:
    """Elements of every initializer and ``Constant`` node output of ``graph``."""
    sizes = {t.name: int(np.prod(t.dims, dtype=np.int64)) for t in graph.initializer}
    for node in graph.node:
        if node.op_type != "Constant" or not node.output:
            continue
        n = 1
        for a in node.attribute:
            if a.name in ("value", "sparse_value"):
                t = a.t if a.name == "value" else a.sparse_tensor.values
                n = int(np.prod(t.dims, dtype=np.int64))
            elif a.name in ("value_floats", "value_ints"):
                n = len(a.floats) or len(a.ints)
            elif a.name == "value_strings":
                n = len(a.strings)
        sizes[node.output[0]] = n
    return sizes


def count_parameters(onnx_model: Any) -> int:
    """Weight and bias elements of the nodes :func:`node_macs` costs (see module
    docstring), stored as initializers or ``Constant`` nodes.

    Parameters
    ----------
    onnx_model : onnx.ModelProto

    Returns
    -------
    int
    """
    graph = onnx_model.graph
    sizes = _constant_sizes(graph)
    dq_source = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    counted: set[str] = set()
    for node in graph.node:
        if node.op_type not in _WEIGHT_INPUTS:
            continue
        which = _WEIGHT_INPUTS[node.op_type]
        names = (
            list(node.input)
            if which is None
            else [node.input[i] for i in which if i < len(node.input)]
        )
        for name in names:
            src = dq_source.get(name, name)
            if src in sizes:
                counted.add(src)
    return int(sum(sizes[n] for n in counted))


def _runs_int8(node: Any, dq_outputs: set[str]) -> bool:
    """Whether ``node`` multiplies int8 values: an integer operator, or a float one whose
    data input and weights both come out of a DequantizeLinear."""
    if node.op_type in _INTEGER_OPS:
        return True
    return (
        node.op_type in _QDQ_OPS
        and len(node.input) >= 2
        and node.input[0] in dq_outputs
        and node.input[1] in dq_outputs
    )


def _einsum_macs(node: Any, shape: Any) -> int:
    eq = next((a.s.decode() for a in node.attribute if a.name == "equation"), "")
    lhs = eq.replace(" ", "").split("->")[0]
    terms = lhs.split(",")
    if "." in lhs or len(terms) != len(node.input) or len(terms) > 2:
        raise InvalidParameter(
            f"model: cannot cost op 'Einsum' (node {node.name!r}, equation {eq!r}): "
            "MACs are counted for one or two operands without an ellipsis; the model's "
            "compute cannot be judged"
        )
    if len(terms) == 1:
        return 0  # a transpose or a reduction: adds
    sizes: dict[str, int] = {}
    for term, name in zip(terms, node.input, strict=True):
        for letter, d in zip(term, shape(name, node), strict=False):
            sizes[letter] = d
    return int(np.prod(list(sizes.values()), dtype=np.int64))


def _cannot_cost(node: Any) -> InvalidParameter:
    domain = f"{node.domain}." if node.domain not in ("", "ai.onnx") else ""
    return InvalidParameter(
        f"model: cannot cost op {domain}{node.op_type!r} (node {node.name!r}): MACs are "
        f"counted for {', '.join(_WEIGHTED_OPS)} only; the model's compute cannot be "
        "judged"
    )


def node_macs(onnx_model: Any) -> list[tuple[Any, int, tuple[int, ...]]]:
    """Per node with multiply-accumulates (in graph order): the node, its
    multiply-accumulates for one window (batch 1) and its output shape (see
    :func:`count_macs`).

    Raises
    ------
    InvalidParameter
        A node whose kind is neither costed nor known to be free of MACs (a subgraph,
        an unknown custom operator...), or a shape that cannot be inferred.
    """
    return [(node, macs, shape) for node, macs, shape, _ in costed_nodes(onnx_model)]


def costed_nodes(onnx_model: Any) -> list[tuple[Any, int, tuple[int, ...], bool]]:
    """:func:`node_macs` with, per node, whether it runs in int8 (an integer operator, or
    a float one between dequantized int8 data and weights)."""
    for node in onnx_model.graph.node:
        if node.op_type not in _WEIGHT_INPUTS and node.op_type not in _FREE_OPS:
            raise _cannot_cost(node)
    inferred, info = infer_batch1(onnx_model)
    shapes = {name: shape for name, (shape, _) in info.items()}

    def shape(name: str, node: Any) -> tuple[int, ...]:
        s = shapes.get(name)
        if s is None or any(d <= 0 for d in s):
            raise InvalidParameter(
                f"model: cannot infer the shape of {name!r} ({node.op_type} node "
                f"{node.name!r}); MACs need static shapes apart from the batch"
            )
        return s

    dq_outputs = {n.output[0] for n in inferred.graph.node if n.op_type == "DequantizeLinear"}
    out: list[tuple[Any, int, tuple[int, ...], bool]] = []
    for node in inferred.graph.node:
        op = node.op_type
        if op not in _WEIGHT_INPUTS:
            continue
        out_shape = shape(node.output[0], node)
        n_out = int(np.prod(out_shape, dtype=np.int64))
        if op in ("Conv", "QLinearConv", "ConvInteger"):
            w = shape(node.input[3 if op == "QLinearConv" else 1], node)
            macs = n_out * int(np.prod(w[1:], dtype=np.int64))  # C/group * kernel
        elif op == "ConvTranspose":
            # each input element is scattered through C_out/group x kernel weights
            x, w = shape(node.input[0], node), shape(node.input[1], node)
            macs = int(np.prod(x, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64))
        elif op == "Gemm":
            a = shape(node.input[0], node)
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            macs = n_out * (a[0] if trans_a else a[1])
        elif op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
            macs = n_out * shape(node.input[0], node)[-1]
        elif op == "Einsum":
            macs = _einsum_macs(node, shape)
        else:  # LSTM, GRU, RNN: every step multiplies the input by W and the state by R
            x = shape(node.input[0], node)
            steps = x[0] * x[1]  # sequence x batch, in either layout
            w, r = shape(node.input[1], node), shape(node.input[2], node)
            macs = steps * (int(np.prod(w, dtype=np.int64)) + int(np.prod(r, dtype=np.int64)))
        out.append((node, int(macs), out_shape, _runs_int8(node, dq_outputs)))
    return out


def count_macs(onnx_model: Any) -> int:
    """Multiply-accumulates for one window (batch 1) of the nodes :func:`node_macs` costs.

    Parameters
    ----------
    onnx_model : onnx.ModelProto
        Its inputs' leading (batch) dimension is set to 1 for shape inference.

    Returns
    -------
    int

    Raises
    ------
    InvalidParameter
        The graph has a node that cannot be costed (see :func:`node_macs`).
    """
    return int(sum(macs for _, macs, _ in node_macs(onnx_model)))


def _median_seconds(run: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def profile(
    model: str | os.PathLike[str] | Model, *, repeats: int = 50, big_batch: int = 256
) -> dict[str, Any]:
    """Size, parameters, MACs and latency of a model, with its metadata.

    Parameters
    ----------
    model : str, path or Model
        ``"float"``, ``"int8"``, an ONNX file, or a loaded :class:`Model`.
    repeats : int
        Timed runs at batch 1 (a fifth as many, at least 5, at ``big_batch``).
    big_batch : int
        The large batch size timed.

    Returns
    -------
    dict
        ``name``, ``sha256``, ``bytes``, ``parameters``, ``macs`` (per window),
        ``int8_macs`` (those of them that run in int8), ``quantized`` (some do),
        ``int8_format`` ("QDQ", "QOperator" or None, from the node kinds alone: a float
        model with one quantize/dequantize pair has a format and no int8 MAC; see
        :func:`int8_format`), ``latency_b1_ms`` (per call),
        ``latency_b{big_batch}_ms`` (per call), ``per_window_b{big_batch}_us``,
        ``input_shape`` (per window), ``conv_channels`` (output channels of each
        convolution, in graph order, from the graph), ``spec`` (the ModelSpec) and
        ``metadata`` (all ``metadata_props``).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InvalidParameter(f"repeats: got {repeats!r}; must be an integer >= 1")
    if isinstance(big_batch, bool) or not isinstance(big_batch, int) or big_batch < 1:
        raise InvalidParameter(f"big_batch: got {big_batch!r}; must be an integer >= 1")
    m = model if isinstance(model, Model) else Model.load(model)
    proto = _load_onnx(m.data)
    sess = session(m.data, m.sha256, threads=1)
    name_in, name_out = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    rng = np.random.default_rng(0)
    fmt = int8_format(n.op_type for n in proto.graph.node)
    costs = costed_nodes(proto)
    int8_macs = int(sum(macs for _, macs, _, in_int8 in costs if in_int8))
    out: dict[str, Any] = {
        "name": m.name,
        "sha256": m.sha256,
        "bytes": len(m.data),
        "parameters": count_parameters(proto),
        "macs": int(sum(macs for _, macs, _, _ in costs)),
        "int8_macs": int8_macs,
        "quantized": int8_macs > 0,
        "int8_format": None if fmt is None else fmt[0],
        "input_shape": m.spec.input_shape,
        "conv_channels": [
            shape[1] for node, _, shape, _ in costs if node.op_type in _CONV_OPS and len(shape) > 1
        ],
    }
    for b, n_rep in ((1, repeats), (big_batch, max(5, repeats // 5))):
        x = rng.standard_normal((b, *m.spec.input_shape)).astype(np.float32)
        feed = {name_in: x}
        for _ in range(3):  # warm-up: first runs allocate and pick kernels
            sess.run([name_out], feed)
        sec = _median_seconds(lambda feed=feed: sess.run([name_out], feed), n_rep)
        out[f"latency_b{b}_ms"] = 1e3 * sec
        if b != 1:
            out[f"per_window_b{b}_us"] = 1e6 * sec / b
    out["spec"] = m.spec
    out["metadata"] = {p.key: p.value for p in proto.metadata_props}
    return out
