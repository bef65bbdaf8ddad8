"""What a model costs: file size, parameters, multiply-accumulates, latency.

- *parameters*: elements of the initializers a Conv, Gemm or MatMul consumes, directly
  or through a ``DequantizeLinear`` (so a QDQ model's int8 weights and int32 biases are
  counted once, and its scales and zero points not at all);
- *MACs per window*: for every Conv, Gemm and MatMul, output elements times the length
  of the dot product behind each, from ONNX shape inference at batch 1 (pooling,
  activations and softmax are left out: they are adds and compares, a few percent);
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

_WEIGHTED_OPS = ("Conv", "QLinearConv", "Gemm", "MatMul")
# Inputs of QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
# y_zero_point, bias.
_QLINEAR_WEIGHTS = (3, 8)


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


def count_parameters(onnx_model: Any) -> int:
    """Weight and bias elements of Conv, Gemm and MatMul nodes (see module docstring).

    Parameters
    ----------
    onnx_model : onnx.ModelProto

    Returns
    -------
    int
    """
    graph = onnx_model.graph
    inits = {t.name: t for t in graph.initializer}
    dq_source = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    counted: set[str] = set()
    for node in graph.node:
        if node.op_type not in _WEIGHTED_OPS:
            continue
        names = node.input
        if node.op_type == "QLinearConv":
            names = [node.input[i] for i in _QLINEAR_WEIGHTS if i < len(node.input)]
        for name in names:
            src = dq_source.get(name, name)
            if src in inits:
                counted.add(src)
    return int(sum(int(np.prod(inits[n].dims, dtype=np.int64)) for n in counted))


def node_macs(onnx_model: Any) -> list[tuple[Any, int, tuple[int, ...]]]:
    """Per Conv, Gemm and MatMul node (in graph order): the node, its multiply-accumulates
    for one window (batch 1) and its output shape (see :func:`count_macs`)."""
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

    out: list[tuple[Any, int, tuple[int, ...]]] = []
    for node in inferred.graph.node:
        if node.op_type not in _WEIGHTED_OPS:
            continue
        out_shape = shape(node.output[0], node)
        n_out = int(np.prod(out_shape, dtype=np.int64))
        if node.op_type in ("Conv", "QLinearConv"):
            w = shape(node.input[1 if node.op_type == "Conv" else 3], node)
            per_output = int(np.prod(w[1:], dtype=np.int64))  # C/group * kernel
        elif node.op_type == "Gemm":
            a = shape(node.input[0], node)
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            per_output = a[0] if trans_a else a[1]
        else:
            per_output = shape(node.input[0], node)[-1]
        out.append((node, n_out * per_output, out_shape))
    return out


def count_macs(onnx_model: Any) -> int:
    """Multiply-accumulates for one window (batch 1) in Conv, Gemm and MatMul nodes.

    Parameters
    ----------
    onnx_model : onnx.ModelProto
        Its inputs' leading (batch) dimension is set to 1 for shape inference.

    Returns
    -------
    int
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
        ``quantized`` (int8), ``int8_format`` ("QDQ", "QOperator" or None; see
        :func:`int8_format`), ``latency_b1_ms`` (per call),
        ``latency_b{big_batch}_ms`` (per call), ``per_window_b{big_batch}_us``,
        ``input_shape`` (per window), ``spec`` (the ModelSpec) and ``metadata``
        (all ``metadata_props``).
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
    out: dict[str, Any] = {
        "name": m.name,
        "sha256": m.sha256,
        "bytes": len(m.data),
        "parameters": count_parameters(proto),
        "macs": count_macs(proto),
        "quantized": fmt is not None,
        "int8_format": None if fmt is None else fmt[0],
        "input_shape": m.spec.input_shape,
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
