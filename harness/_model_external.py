"""A model's tensors stored in external files, read into the model.

A model whose tensors are stored in external files
(``onnx.save_model(..., save_as_external_data=True)``) has them read from the model's
own folder (never the working directory, never outside that folder), carried inside
the :class:`~highfive.harness.Model`'s bytes and covered by its SHA-256.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from highfive.generators import ModelError, show

from ._model_session import _named

# A model file (and its external data) at most this large: protobuf's 2 GiB limit.
_MAX_MODEL_BYTES = 2**31 - 1


def _all_tensors(graph: Any) -> Any:
    """Every TensorProto of a graph: initializers, node attributes, subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for g in attr.graphs:
                yield from _all_tensors(g)


def _external(proto: Any) -> list[Any]:
    from onnx import TensorProto

    tensors = list(_all_tensors(proto.graph))
    for fn in proto.functions:
        for node in fn.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    tensors.append(attr.t)
    return [t for t in tensors if t.data_location == TensorProto.EXTERNAL]


def _parse(data: bytes, label: str) -> Any:
    import onnx

    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelError(
            f"model {_named(label)}: not an ONNX file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160] if str(exc) else 'cannot parse'})"
        ) from None


def _inline_external(data: bytes, path: Path, label: str) -> tuple[bytes, str]:
    """The model with its external tensors read in, and the digest that identifies both.

    Each tensor's ``location`` is resolved against the model's folder (not the working
    directory) and must stay inside it. The digest covers the file's bytes and, in
    order, each external tensor's location, offset, length and bytes.
    """
    proto = _parse(data, label)
    tensors = _external(proto)
    folder = path.resolve().parent
    h = hashlib.sha256(b"highfive-onnx-external/1")
    h.update(len(data).to_bytes(8, "little") + data)
    total = len(data)
    for t in tensors:
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        where = f"model {_named(label)}: tensor {show(t.name)} has external data {show(location)}"
        target = (folder / location).resolve()
        if not location or Path(location).is_absolute() or not target.is_relative_to(folder):
            raise ModelError(
                f"{where}, which is not inside the model's folder {_named(str(folder))}; "
                "external data must be a relative path next to the model"
            )
        try:
            offset = int(info.get("offset", "0"))
            size = target.stat().st_size
            length = int(info["length"]) if "length" in info else size - offset
        except ValueError:
            raise ModelError(f"{where} with a non-integer offset or length") from None
        except OSError:
            raise ModelError(f"{where}, which does not exist next to the model") from None
        if not target.is_file():  # "." is the folder itself: 'Is a directory', naming nothing
            raise ModelError(f"{where}, which is not a file next to the model")
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelError(
                f"{where} at bytes {offset:,}-{offset + length:,}, beyond the file's {size:,} bytes"
            )
        total += length
        if total > _MAX_MODEL_BYTES:
            raise ModelError(
                f"model {_named(label)}: with its external data it exceeds 2 GiB, the most "
                "an ONNX model held in memory may have"
            )
        with open(target, "rb") as f:
            f.seek(offset)
            raw = f.read(length)
        for part in (location.encode(), str(offset).encode(), raw):
            h.update(len(part).to_bytes(8, "little") + part)
        t.raw_data = raw
        del t.external_data[:]
        t.data_location = 0  # TensorProto.DEFAULT
    return proto.SerializeToString(), h.hexdigest()


def _has_external(data: bytes, label: str) -> bool:
    # An external tensor stores the key "location" as plain bytes: most files need no parse.
    return b"location" in data and bool(_external(_parse(data, label)))
