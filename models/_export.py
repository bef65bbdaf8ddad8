"""Trained network -> self-describing ONNX file.

The exported graph takes ``scalogram`` (batch, 3, S, T) float32 and returns
``probabilities`` (batch, n_classes): the softmax is inside the graph. Batch norm is
folded into the convolutions by the exporter's constant folding (eval mode). The
:class:`~highfive.harness.ModelSpec` goes into ``metadata_props``, and the file
is checked with :meth:`Model.from_bytes` before it is written (atomically).

PyTorch 2.13's default exporter (``dynamo=True``) needs ``onnxscript``, which the
``train`` extra does not install; the TorchScript exporter (``dynamo=False``) needs
nothing more. It emits ``DeprecationWarning``s about its own future removal.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from highfive.generators import ModelError
from highfive.harness import Model, ModelSpec, atomic_path

__all__ = [
    "INPUT_NAME",
    "OPSET",
    "OUTPUT_NAME",
    "compact_names",
    "export_onnx",
    "metadata_of",
    "with_metadata",
    "write_checked",
]

INPUT_NAME = "scalogram"
OUTPUT_NAME = "probabilities"
OPSET = 17


def with_metadata(
    model_bytes: bytes, spec: ModelSpec, extra: Mapping[str, str] | None = None
) -> bytes:
    """Return the ONNX model with ``spec`` (and ``extra`` entries) as ``metadata_props``.

    Existing entries with the same keys are replaced; others are kept.

    Parameters
    ----------
    model_bytes : bytes
        A serialized ONNX ``ModelProto``.
    spec : ModelSpec
    extra : Mapping[str, str], optional
        Further string entries, e.g. how the model was trained.

    Returns
    -------
    bytes
        The serialized model.
    """
    import onnx

    model = onnx.load_from_string(model_bytes)
    props = {p.key: p.value for p in model.metadata_props}
    props.update(spec.to_metadata())
    props.update(extra or {})
    onnx.helper.set_model_props(model, dict(sorted(props.items())))
    return model.SerializeToString()


def metadata_of(model_bytes: bytes) -> dict[str, str]:
    """The ``metadata_props`` of a serialized ONNX model, as a dict."""
    import onnx

    return {p.key: p.value for p in onnx.load_from_string(model_bytes).metadata_props}


def compact_names(model_bytes: bytes) -> bytes:
    """Shorten internal tensor and node names and drop ``value_info``.

    Exporters and quantizers name tensors after module paths (``/0/0.3/Relu_output_0``,
    ``onnx::Conv_41_quantized_zero_point``); in a 15k-parameter int8 model those strings
    take a quarter of the file. Graph inputs and outputs keep their names, and
    ``value_info`` (intermediate shapes) is recomputed by ONNX Runtime at load time.
    Graphs with subgraphs (control flow) are returned unchanged.

    Parameters
    ----------
    model_bytes : bytes
        A serialized ONNX ``ModelProto``.

    Returns
    -------
    bytes
        The serialized model, computing the same function.
    """
    import onnx

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    if any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for n in graph.node
        for a in n.attribute
    ):
        return model_bytes
    keep = {v.name for v in graph.input} | {v.name for v in graph.output} | {""}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if name in keep:
            return name
        if name not in names:
            names[name] = f"t{len(names)}"
        return names[name]

    for init in graph.initializer:
        init.name = short(init.name)
    for j, node in enumerate(graph.node):
        node.name = f"n{j}"
        node.ClearField("doc_string")
        node.input[:] = [short(x) for x in node.input]
        node.output[:] = [short(x) for x in node.output]
    del graph.value_info[:]
    return model.SerializeToString()


def write_checked(data: bytes, out: str | os.PathLike[str]) -> Path:
    """Check ``data`` loads as a highfive model, then write it to ``out`` atomically."""
    out = Path(out)
    Model.from_bytes(data, name=out.name)
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    return out


def export_onnx(
    network: Any,
    spec: ModelSpec,
    out: str | os.PathLike[str],
    *,
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Export a logits network with a softmax head and its metadata to ``out``.

    Parameters
    ----------
    network : torch.nn.Module
        Maps (B, 3, S, T) float32 to logits (B, n_classes); put in eval mode here.
    spec : ModelSpec
        Preprocessing and counting settings stored in the file.
    out : path
        Destination ``.onnx`` file (written atomically).
    extra : Mapping[str, str], optional
        Further ``metadata_props`` entries.

    Returns
    -------
    Path
        ``out``.
    """
    import torch

    head = torch.nn.Sequential(network, torch.nn.Softmax(dim=1)).eval()
    example = torch.zeros((1, *spec.input_shape), dtype=torch.float32)
    with tempfile.TemporaryDirectory(prefix="highfive-export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        _torch_export(torch, head, example, raw, out)
        data = raw.read_bytes()
    data = with_metadata(compact_names(data), spec, extra)
    return write_checked(data, out)


def _torch_export(
    torch: Any, head: Any, example: Any, raw: Path, out: str | os.PathLike[str]
) -> None:
    try:
        torch.onnx.export(
            head,
            (example,),
            raw,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True,
        )
    except Exception as exc:  # the exporter raises many unrelated exception types
        raise ModelError(
            f"export to {os.fspath(out)!r} failed: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}"
        ) from None
