"""Float ONNX model -> PyTorch network, and structured channel pruning.

:func:`network_from_onnx` rebuilds the network of an exported highfive model (a chain
of Conv, Relu, MaxPool, AveragePool, GlobalAveragePool, Flatten, Gemm and a final
Softmax; batch norm was folded into the convolutions at export) with its weights, so
``model train --init`` can fine-tune it and ``model prune`` can prune it.

:func:`prune_channels` removes whole output channels of every convolution: those with
the smallest L1 norm of their filter (weights of all input channels and kernel
positions), keeping ``round((1 - sparsity) * C)`` of ``C`` (at least one), and drops
the matching input channels of the next Conv or Linear layer. The pruned network has
fewer channels, so its file, parameters and MACs shrink (by about ``(1 - sparsity)^2``
for the inner layers); it is then fine-tuned (:func:`prune_model`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from highfive.generators import InvalidParameter, ModelError, show

from ._arch import widths_text
from ._defaults import FALLBACK_SEED, FALLBACK_TRACES, MAX_SEED, MAX_THREADS, MAX_TRACES

__all__ = ["PROBE_TOLERANCE", "network_from_onnx", "prune_channels", "prune_model"]

_CHAIN_OPS = frozenset(
    {"Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Gemm", "Softmax"}
)


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _symmetric(pads: list[int], where: str) -> tuple[int, ...]:
    half = len(pads) // 2
    if list(pads[:half]) != list(pads[half:]):
        raise ModelError(f"{where}: asymmetric padding {pads} is not supported")
    return tuple(int(p) for p in pads[:half])


def _refuse(where: str, attr: str, value: Any, supported: str) -> ModelError:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return ModelError(f"{where}: attribute {attr} = {value!r} is not supported ({supported})")


def _padding(a: dict[str, Any], n: int, where: str) -> tuple[int, ...]:
    """Explicit symmetric ``pads`` (or ``auto_pad`` VALID: none) of a Conv or pool."""
    auto = a.get("auto_pad", b"NOTSET")
    if auto not in (b"NOTSET", b"VALID"):
        raise _refuse(where, "auto_pad", auto, "only NOTSET with explicit pads, or VALID")
    if auto == b"VALID":
        return (0,) * n
    return _symmetric(list(a.get("pads", [0] * 2 * n)), where)


def _initializer(inits: dict[str, np.ndarray], node: Any, i: int, where: str) -> np.ndarray:
    """Input ``i`` of ``node``, which must be a weight stored in the file."""
    if node.input[i] not in inits:
        raise ModelError(f"{where}: input {i} ({node.input[i]!r}) is not an initializer")
    return inits[node.input[i]]


def _gemm_bias(node: Any, inits: dict[str, np.ndarray], n: int, where: str) -> np.ndarray:
    """Gemm's ``C`` as the bias of its ``n`` outputs (zeros without one)."""
    if len(node.input) < 3 or not node.input[2]:
        return np.zeros(n, np.float32)
    c = _initializer(inits, node, 2, where)
    try:
        return np.array(np.broadcast_to(c, (1, n)).reshape(n), dtype=np.float32)
    except ValueError:
        raise ModelError(
            f"{where}: bias C of shape {list(c.shape)} is not one per output"
        ) from None


def network_from_onnx(data: bytes, name: str = "model") -> Any:
    """The logits network (``torch.nn.Sequential``, eval mode) of a float highfive model.

    Every attribute that changes what a node computes is either reproduced or refused;
    the rebuilt network is then checked against the model itself (ONNX Runtime, a probe
    batch of random windows: softmax of its logits within :data:`PROBE_TOLERANCE` of the
    model's probabilities), so nothing it leaves out goes unnoticed.

    Raises
    ------
    InvalidParameter
        The file is quantized.
    ModelError
        Its graph is not a chain of the supported nodes, a node has an attribute that is
        not reproduced (named with the node), or the rebuilt network computes otherwise.
    """
    import onnx
    from onnx import numpy_helper

    from ._train import require_torch

    torch = require_torch()
    proto = onnx.load_from_string(data)
    graph = proto.graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    ops = [n.op_type for n in graph.node]
    if {"QuantizeLinear", "DequantizeLinear"} & set(ops):
        raise InvalidParameter(f"model: {show(name)} is quantized; pass its float32 model")
    bad = sorted(set(ops) - _CHAIN_OPS)
    if bad:
        raise ModelError(f"model {name!r}: node {bad[0]!r} is not supported; need a float chain")
    with torch.random.fork_rng(devices=[]):  # layers are built with random weights first
        net = _chain(graph, inits, name, torch)
    _check_probe(net, data, graph, name, torch)
    return net


def _chain(graph: Any, inits: dict[str, np.ndarray], name: str, torch: Any) -> Any:
    """The layers of the chain ``graph``, one per node (the head Softmax left out)."""
    nn = torch.nn
    layers: list[Any] = []
    current = graph.input[0].name
    for j, node in enumerate(graph.node):
        where = f"model {name!r} node {j} ({node.op_type})"
        if node.input[0] != current:
            raise ModelError(f"{where}: the graph is not a chain")
        current = node.output[0]
        a = _attrs(node)
        if node.op_type == "Conv":
            w = _initializer(inits, node, 1, where)
            if w.ndim != 4:
                raise ModelError(f"{where}: only 2-D convolutions are supported")
            b = (
                _initializer(inits, node, 2, where)
                if len(node.input) > 2 and node.input[2]
                else np.zeros(w.shape[0], w.dtype)
            )
            conv = nn.Conv2d(
                w.shape[1] * int(a.get("group", 1)),
                w.shape[0],
                tuple(w.shape[2:]),
                stride=tuple(a.get("strides", [1, 1])),
                padding=_padding(a, 2, where),
                dilation=tuple(a.get("dilations", [1, 1])),
                groups=int(a.get("group", 1)),
            )
            conv.weight.data = torch.from_numpy(w.copy())
            conv.bias.data = torch.from_numpy(b.copy())
            layers.append(conv)
        elif node.op_type == "Relu":
            layers.append(nn.ReLU())
        elif node.op_type in ("MaxPool", "AveragePool"):
            kernel = tuple(a["kernel_shape"])
            dilations = list(a.get("dilations", [1] * len(kernel)))
            if node.op_type == "AveragePool" and any(d != 1 for d in dilations):
                raise _refuse(where, "dilations", dilations, "only 1")
            kw = {
                "stride": tuple(a.get("strides", [1] * len(kernel))),
                "padding": _padding(a, len(kernel), where),
                "ceil_mode": bool(a.get("ceil_mode", 0)),
            }
            if node.op_type == "MaxPool":
                layers.append(nn.MaxPool2d(kernel, dilation=tuple(dilations), **kw))
            else:
                pad = bool(a.get("count_include_pad", 0))
                layers.append(nn.AvgPool2d(kernel, count_include_pad=pad, **kw))
        elif node.op_type == "GlobalAveragePool":
            layers.append(nn.AdaptiveAvgPool2d(1))
        elif node.op_type == "Flatten":
            if int(a.get("axis", 1)) != 1:
                raise _refuse(where, "axis", a["axis"], "only 1")
            layers.append(nn.Flatten())
        elif node.op_type == "Gemm":
            has_c = len(node.input) > 2 and bool(node.input[2])
            for attr, want in (("alpha", 1.0), ("beta", 1.0), ("transA", 0)):
                if a.get(attr, want) != want and (attr != "beta" or has_c):
                    raise _refuse(where, attr, a[attr], f"only {want:g}")
            w = _initializer(inits, node, 1, where)
            if not a.get("transB", 0):
                w = w.T
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data = torch.from_numpy(np.array(w, dtype=np.float32, order="C"))
            lin.bias.data = torch.from_numpy(_gemm_bias(node, inits, w.shape[0], where))
            layers.append(lin)
        elif j != len(graph.node) - 1:  # Softmax: only as the head
            raise ModelError(f"{where}: Softmax only as the last node")
    return nn.Sequential(*layers).eval()


PROBE_TOLERANCE = 1e-4
"""Largest difference between the model's probabilities and those of the network
:func:`network_from_onnx` rebuilt from it, on the probe batch."""
_PROBE_WINDOWS = 16


def _check_probe(net: Any, data: bytes, graph: Any, name: str, torch: Any) -> None:
    """Refuse a rebuilt network whose probabilities differ from the model's."""
    import hashlib

    from highfive.harness import session

    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]]
    if not dims or min(dims) < 1:
        raise ModelError(f"model {name!r}: its input shape is not fixed beyond the batch")
    x = np.random.default_rng(0).standard_normal((_PROBE_WINDOWS, *dims)).astype(np.float32)
    sess = session(data, hashlib.sha256(data).hexdigest(), name=name)
    want = np.asarray(sess.run(None, {graph.input[0].name: x})[0], dtype=np.float64)
    with torch.no_grad():
        got = torch.softmax(net(torch.from_numpy(x)), dim=1).double().numpy()
    diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
    if not diff <= PROBE_TOLERANCE:
        raise ModelError(
            f"model {name!r}: the network rebuilt from its graph computes otherwise (its "
            f"probabilities differ by up to {diff:.3g} > {PROBE_TOLERANCE:g} on random "
            "windows); it cannot be fine-tuned or pruned"
        )


def pruned_metadata(
    meta: Mapping[str, str],
    channels: Sequence[tuple[int, int]],
    *,
    sparsity: float,
    source: str,
    epochs: int,
    traces: str,
) -> dict[str, str]:
    """The ``train.*`` metadata of a model pruned from one with metadata ``meta``: its
    entries, the widths the pruned network has (the first three convolutions' output
    channels; those of the unpruned network become ``train.prune_widths_from``: both
    from the networks, not from ``meta``), and how it was pruned (``train.prune_*``)."""
    extra = {k: v for k, v in meta.items() if k.startswith("train.")}
    before, after = widths_text([a for a, _ in channels]), widths_text([b for _, b in channels])
    if before is not None and after is not None:
        extra["train.prune_widths_from"], extra["train.widths"] = before, after
    extra.update(
        {
            "train.prune_sparsity": f"{sparsity:g}",
            "train.prune_channels": " ".join(f"{a}->{b}" for a, b in channels),
            "train.prune_from": source,
            "train.prune_epochs": str(epochs),
            "train.prune_traces": traces,
        }
    )
    return extra


def fine_tuning_data(
    meta: Mapping[str, str], label: str, n_traces: int | None, seed: int | None
) -> tuple[int, int, list[str]]:
    """The traces and seed a pruned model is fine-tuned on: those given, else the
    model's ``train.n_traces`` and ``train.seed`` (``meta``, already well-formed), else
    :data:`FALLBACK_TRACES` and :data:`FALLBACK_SEED`; with the keys that fell back.

    Raises
    ------
    InvalidParameter
        A count or seed out of range; or ``train.n_traces``, taken as the default, is
        not from 1 to :data:`MAX_TRACES` (one line naming the model, ``label``).
    """
    from ._train import _check_int

    fell_back = []
    if n_traces is None:
        if "train.n_traces" in meta:
            n_traces = int(meta["train.n_traces"])
            if not 1 <= n_traces <= MAX_TRACES:
                raise InvalidParameter(
                    f"{label}: metadata train.n_traces = {show(meta['train.n_traces'])} is "
                    f"not a trace count from 1 to {MAX_TRACES:,} (the default of --traces); "
                    "give --traces"
                )
        else:
            n_traces = FALLBACK_TRACES
            fell_back.append("train.n_traces")
    if seed is None:
        if "train.seed" in meta:
            seed = int(meta["train.seed"])
        else:
            seed = FALLBACK_SEED
            fell_back.append("train.seed")
    return (
        _check_int("n_traces", n_traces, 1, MAX_TRACES),
        _check_int("seed", seed, 0, MAX_SEED),
        fell_back,
    )


def prune_channels(net: Any, sparsity: float) -> tuple[Any, list[tuple[int, int]]]:
    """A copy of ``net`` with the lowest-L1 output channels of every Conv2d removed.

    Parameters
    ----------
    net : torch.nn.Sequential
        A chain whose Conv2d layers have ``groups == 1`` and no batch norm (as
        :func:`network_from_onnx` returns); each Conv2d's output feeds the next Conv2d
        or Linear through channel-wise layers only.
    sparsity : float
        Fraction of each convolution's channels to remove, in [0, 1).

    Returns
    -------
    network : torch.nn.Sequential
    channels : list of (before, after)
        Per convolution.
    """
    import copy

    from ._train import require_torch

    torch = require_torch()
    nn = torch.nn
    if not (isinstance(sparsity, float | int) and not isinstance(sparsity, bool)) or not (
        0.0 <= sparsity < 1.0
    ):
        raise InvalidParameter(f"sparsity: {show(sparsity)} must be a fraction in [0, 1)")
    net = copy.deepcopy(net)
    weighted = [m for m in net if isinstance(m, nn.Conv2d | nn.Linear)]
    if any(isinstance(m, nn.BatchNorm2d) for m in net):
        raise InvalidParameter("network: fold batch norm first (prune an exported model)")
    channels: list[tuple[int, int]] = []
    with torch.no_grad():
        for layer, nxt in itertools.pairwise(weighted):
            if not isinstance(layer, nn.Conv2d):
                continue
            if layer.groups != 1:
                raise InvalidParameter("network: grouped convolutions cannot be pruned")
            c = layer.out_channels
            k = max(1, round((1.0 - sparsity) * c))
            norms = layer.weight.abs().sum(dim=(1, 2, 3))
            # Stable order: the k largest norms, ties to the lower index, kept in order.
            order = np.argsort(-norms.numpy(), kind="stable")
            keep = torch.from_numpy(np.sort(order[:k]))
            layer.weight = nn.Parameter(layer.weight[keep].clone())
            layer.bias = nn.Parameter(layer.bias[keep].clone())
            layer.out_channels = k
            nxt.weight = nn.Parameter(nxt.weight[:, keep].clone())
            if isinstance(nxt, nn.Conv2d):
                nxt.in_channels = k
            else:
                nxt.in_features = k
            channels.append((c, k))
    return net, channels


def prune_model(
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    sparsity: float = 0.5,
    epochs: int = 3,
    n_traces: int | None = None,
    seed: int | None = None,
    lr: float = 1e-3,
    threads: int = 1,
    log: Any = None,
) -> Path:
    """Prune a float model's convolution channels, fine-tune it and export it.

    Parameters
    ----------
    model : path or str
        A float highfive model (``"float"`` or an ONNX file).
    out : path
        Destination ``.onnx`` file.
    sparsity : float
        Fraction of each convolution's channels removed (:func:`prune_channels`).
    epochs : int
        Fine-tuning epochs (0: none) on traces generated as the model's training did.
    n_traces, seed : int, optional
        Fine-tuning data; default the model's ``train.n_traces`` and ``train.seed``
        (so no new seed is used, and held-out seeds stay unseen), or, for a model that
        records none, :data:`FALLBACK_TRACES` and :data:`FALLBACK_SEED` (logged).
    lr : float
        Peak learning rate of the fine-tuning.
    threads : int
        PyTorch intra-op threads (1 to :data:`MAX_THREADS`).
    log : callable, optional

    Returns
    -------
    Path
    """
    from highfive.harness import Model

    from ._arch import network_arch
    from ._dataset import window_set
    from ._export import export_onnx, metadata_of
    from ._failures import check_train_metadata
    from ._train import _check_int, fit, require_torch, torch_settings, versions

    torch = require_torch()
    m = Model.load(model)
    meta = metadata_of(m.data)
    check_train_metadata(meta, f"model {m.label!r}")
    n_traces, seed, fell_back = fine_tuning_data(meta, f"model {m.label!r}", n_traces, seed)
    threads = _check_int("threads", threads, 1, MAX_THREADS)
    say = log if log is not None else (lambda _m: None)
    if fell_back and epochs:
        say(
            f"fine-tuning on {n_traces} traces of seed {seed}: the model's metadata has no "
            f"{' or '.join(fell_back)}"
        )
    with torch_settings(torch, threads):
        original = network_from_onnx(m.data, m.name)
        arch = network_arch(original, meta.get("train.arch", "reference"), f"model {m.label!r}")
        net, channels = prune_channels(original, sparsity)
        say("pruned channels: " + ", ".join(f"{a}->{b}" for a, b in channels))
        if epochs:
            data = window_set(n_traces, seed, spec=m.spec)
            fit(net, data, epochs=epochs, seed=seed, lr=lr, log=say)
        extra = pruned_metadata(
            meta,
            channels,
            sparsity=sparsity,
            source=m.sha256,
            epochs=epochs,
            traces=f"{n_traces} (seed {seed})",
        )
        extra["train.arch"] = arch
        extra["train.versions"] = versions(torch)
        path = export_onnx(net, m.spec, out, extra=extra)
    say(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return path
