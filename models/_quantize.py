"""Float ONNX model -> static int8 (QDQ) twin, calibrated on generated windows.

ONNX Runtime's ``quantize_static`` with ``QuantFormat.QDQ``: int8 weights per output
channel (symmetric, within +-64: ``reduce_range``, see below), uint8 activations
calibrated by min/max over windows from the same generators and preprocessing as
training (the float model's own :class:`~highfive.harness.ModelSpec`), on a seed of
their own. The softmax is left in float so the output probabilities are not rounded
to 1/256 steps before the counter's thresholds. ``quant_pre_process`` (shape inference
and graph optimisation) runs first, as ONNX Runtime recommends; afterwards the first
convolution's input channels are padded to a multiple of four
(:func:`pad_input_channels`, exact and faster). The float file's ``metadata_props``
(the ModelSpec and training notes) are copied into the int8 file, which is checked with
:meth:`Model.from_bytes` and written atomically.

Why 7-bit weights: x86 CPUs without VNNI (AVX2, AVX-512 before VNNI) multiply uint8
activations by int8 weights in pairs whose sum is an int16, which saturates above
32,767. With weights up to 127 a pair reaches 2 x 255 x 127 = 64,770, so the int8 model's
outputs depended on the host CPU: on an AVX2 machine the earlier shipped int8 file
differed from its own QDQ graph by up to 1.8 logits, and padding conv1 changed its
outputs. Within +-64 every pair sum stays below 32,640, so the integer kernels of every
CPU compute the same exact integer sums a microcontroller's int32 accumulators do.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from highfive.generators import InvalidParameter, ModelError
from highfive.harness import Model, session

from ._dataset import window_set
from ._defaults import CALIBRATION_SEED, CALIBRATION_TRACES, MAX_TRACES
from ._export import compact_names, write_checked

__all__ = [
    "CALIBRATION_SEED",
    "CALIBRATION_TRACES",
    "QUANT_FORMATS",
    "pad_input_channels",
    "quantize",
]

QUANT_FORMATS = ("qdq", "qoperator")
"""Formats of the int8 file (:func:`quantize`'s ``fmt``)."""

_CALIBRATION_BATCH = 256


class _Reader:
    """Calibration data reader (ONNX Runtime's duck type) over windows, in batches."""

    def __init__(self, name: str, x: np.ndarray) -> None:
        self._name = name
        self._x = x
        self._b0 = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._b0 >= self._x.shape[0]:
            return None
        batch = self._x[self._b0 : self._b0 + _CALIBRATION_BATCH]
        self._b0 += _CALIBRATION_BATCH
        return {self._name: batch}

    def rewind(self) -> None:
        self._b0 = 0


def quantize(
    float_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    n_calibration_traces: int = CALIBRATION_TRACES,
    seed: int = CALIBRATION_SEED,
    *,
    per_channel: bool = True,
    fmt: str = "qdq",
) -> Path:
    """Write the static int8 (QDQ) version of a float highfive model.

    Parameters
    ----------
    float_path : path
        The float32 model (with its ModelSpec metadata).
    out_path : path
        Destination ``.onnx`` file (written atomically).
    n_calibration_traces : int
        Generated traces whose windows (all positives, a quarter of the negatives)
        calibrate the activation ranges.
    seed : int
        Seed of the calibration traces; use one the training did not.
    per_channel : bool
        One weight scale per output channel (better accuracy for small convolutions).
    fmt : {"qdq", "qoperator"}
        ``"qdq"`` (the shipped int8 model): QuantizeLinear/DequantizeLinear pairs
        around float operators, which ONNX Runtime fuses into integer kernels.
        ``"qoperator"``: integer operators in the file (QLinearConv with its ReLU
        folded into the output range; the pooling and Linear head stay float): fewer
        nodes and quantization parameters, so the file of a small network is smaller
        (the 8.2k-parameter ``small`` variant: 11.4 kB instead of 13.2 kB).

    Returns
    -------
    Path
        ``out_path``.
    """
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if isinstance(n_calibration_traces, bool) or not isinstance(n_calibration_traces, int):
        raise InvalidParameter(
            f"n_calibration_traces: got {n_calibration_traces!r}; must be an integer >= 1"
        )
    if not 1 <= n_calibration_traces <= MAX_TRACES:
        raise InvalidParameter(
            f"n_calibration_traces: got {n_calibration_traces}; must be an integer from 1 "
            f"to {MAX_TRACES:,}"
        )
    if fmt not in QUANT_FORMATS:
        raise InvalidParameter(f"fmt: {fmt!r} is not a format; use one of {QUANT_FORMATS}")
    model = Model.load(float_path)
    _check_train_metadata(model)
    done = _int8_format(model.data)
    if done is not None:
        raise InvalidParameter(
            f"model {os.fspath(float_path)!r} is already quantized (int8 {done[0]}: "
            f"it has {done[1]} nodes); quantize the float32 model it came from"
        )
    data = window_set(n_calibration_traces, seed, spec=model.spec)
    if len(data) == 0:
        raise InvalidParameter(
            f"n_calibration_traces: {n_calibration_traces} traces gave no windows; use more"
        )
    in_name = session(model.data, model.sha256).get_inputs()[0].name
    reader = _Reader(in_name, data.x)

    with tempfile.TemporaryDirectory(prefix="highfive-quant-") as tmp:
        src = Path(tmp) / "float.onnx"
        pre = Path(tmp) / "pre.onnx"
        dst = Path(tmp) / "int8.onnx"
        src.write_bytes(model.data)
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            softmax = _nodes_of_type(pre, "Softmax")
            if fmt == "qoperator":
                # Standard ONNX integer operators only (no com.microsoft ones), so
                # shape inference, MACs and the target budget read the file: the
                # pooling and the small Linear head stay float.
                softmax += _nodes_of_type(pre, "GlobalAveragePool") + _nodes_of_type(pre, "Gemm")
            quantize_static(
                str(pre),
                str(dst),
                reader,  # a duck-typed CalibrationDataReader
                quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                calibrate_method=CalibrationMethod.MinMax,
                reduce_range=True,  # 7-bit weights: no int16 saturation (docstring)
                nodes_to_exclude=softmax,
            )
        except (OSError, ModelError):
            raise
        except Exception as exc:  # onnxruntime raises assorted exception types
            raise ModelError(
                f"quantize {os.fspath(float_path)!r}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200]}"
            ) from None
        quantized = dst.read_bytes()
    padded = pad_input_channels(quantized)
    if padded != quantized:
        _check_same_outputs(quantized, padded, in_name, data.x[:_CALIBRATION_BATCH])
    data_int8 = _copy_metadata(model.data, _used_opsets(compact_names(padded)))
    return write_checked(data_int8, out_path)


def pad_input_channels(model_bytes: bytes, multiple: int = 4) -> bytes:
    """Pad the input channels of a QDQ model's first convolution with zeros.

    ONNX Runtime runs a QDQ convolution as an integer convolution whose kernels
    want the input channels in groups of four: the first convolution of the
    scalogram network (3 axes) took 536 us for 80 windows, 300 us with a fourth,
    all-zero channel, and the whole int8 model 0.79 ms instead of 0.56 ms (measured
    side by side, one thread). The padding is exact: the input gains a channel of
    zeros (which quantizes to the zero point) and the weights a channel of zeros,
    so every integer sum, and so every output, is unchanged (checked bit for bit
    on calibration windows by :func:`quantize`).

    The pattern is ``input -> QuantizeLinear -> DequantizeLinear -> Conv`` with the
    weights an initializer behind a symmetric ``DequantizeLinear`` (per output
    channel); any other graph is returned unchanged.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    if len(g.input) != 1:
        return model_bytes
    x = g.input[0].name
    consumers = [n for n in g.node if x in n.input]
    if len(consumers) != 1 or consumers[0].op_type != "QuantizeLinear":
        return model_bytes
    q = consumers[0]
    dq = [n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] == q.output[0]]
    if len(dq) != 1:
        return model_bytes
    conv = [n for n in g.node if n.op_type == "Conv" and n.input[0] == dq[0].output[0]]
    if len(conv) != 1 or any(a.name == "group" and a.i != 1 for a in conv[0].attribute):
        return model_bytes
    wdq = next((n for n in g.node if n.output[0] == conv[0].input[1]), None)
    if wdq is None or wdq.op_type != "DequantizeLinear" or wdq.input[0] not in inits:
        return model_bytes
    zero_point = inits.get(wdq.input[2]) if len(wdq.input) > 2 else None
    if zero_point is not None and np.any(numpy_helper.to_array(zero_point) != 0):
        return model_bytes  # asymmetric weights: a zero weight is not code 0
    w = numpy_helper.to_array(inits[wdq.input[0]])
    c = w.shape[1]
    if w.ndim != 4 or c % multiple == 0:
        return model_bytes
    extra = multiple - c % multiple
    w_pad = np.concatenate([w, np.zeros((w.shape[0], extra, *w.shape[2:]), w.dtype)], axis=1)
    inits[wdq.input[0]].CopyFrom(numpy_helper.from_array(w_pad, wdq.input[0]))
    pads = numpy_helper.from_array(
        np.array([0, 0, 0, 0, 0, extra, 0, 0], dtype=np.int64), f"{x}_channel_pads"
    )
    g.initializer.append(pads)
    padded = f"{x}_padded"
    q.input[0] = padded
    g.node.insert(0, helper.make_node("Pad", [x, pads.name], [padded], mode="constant"))
    return model.SerializeToString()


def _check_same_outputs(a: bytes, b: bytes, name: str, x: np.ndarray) -> None:
    outs = [session(m, hashlib.sha256(m).hexdigest()).run(None, {name: x}) for m in (a, b)]
    if not all(np.array_equal(u, v) for u, v in zip(*outs, strict=True)):
        raise ModelError("quantize: padding the first convolution's channels changed outputs")


def _used_opsets(data: bytes) -> bytes:
    """Drop the opset imports of domains no node uses (the quantizer lists nine)."""
    import onnx

    model = onnx.load_from_string(data)
    used = {n.domain for n in model.graph.node} | {""}
    keep = [o for o in model.opset_import if o.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    return model.SerializeToString()


def _int8_format(data: bytes) -> tuple[str, str] | None:
    import onnx

    from ._profile import int8_format

    return int8_format(n.op_type for n in onnx.load_from_string(data).graph.node)


def _nodes_of_type(path: Path, op_type: str) -> list[str]:
    import onnx

    graph = onnx.load(str(path)).graph
    return [n.name for n in graph.node if n.op_type == op_type]


def _check_train_metadata(model: Model) -> None:
    from ._export import metadata_of
    from ._failures import check_train_metadata

    check_train_metadata(metadata_of(model.data), f"model {model.label!r}")


def _copy_metadata(src: bytes, dst: bytes) -> bytes:
    """``dst`` with the ``metadata_props`` of ``src`` (replacing any of its own), failure
    corpora summarized by their SHA-256 (:func:`~._failures.summarize_corpora`)."""
    import onnx

    from ._failures import summarize_corpora

    props = summarize_corpora({p.key: p.value for p in onnx.load_from_string(src).metadata_props})
    model = onnx.load_from_string(dst)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    return model.SerializeToString()
