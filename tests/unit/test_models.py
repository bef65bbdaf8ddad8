"""The shipped models, their training data, profiling, quantization and CLI (no PyTorch).

Every model (the float32 one and its int8 twin) passes the same contract tests; golden
numbers name their source. Bad model files must give a ModelError with a clear message,
never a raw ONNX Runtime exception.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import math
import pickle
import re
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import highfive.models
from highfive.generators import Event, InvalidParameter, ModelError, Trace
from highfive.harness import SHIPPED, Model, ModelSpec, load_counter
from highfive.harness._model_spec import LIMITS
from highfive.models import (
    _quantize,
    add_model_commands,
    count_macs,
    count_parameters,
    make_windows,
    norm_stats,
    profile,
    quantize,
    window_metrics,
    window_set,
)
from highfive.models._dataset import label_windows
from highfive.models._quantize import pad_input_channels

MODELS = ["float", "int8"]

# Closed form for the shipped architecture (models/_train.py docstring), per window:
# conv1 16x16x25 outputs x (3*3*3), conv2 32x8x12 x (16*9), conv3 32x4x6 x (32*9),
# linear 2 x 32.
GOLDEN_MACS = 16 * 16 * 25 * 27 + 32 * 8 * 12 * 144 + 32 * 4 * 6 * 288 + 2 * 32
# Conv weights + biases (batch norm folded) and the linear layer.
GOLDEN_PARAMETERS = (16 * 27 + 16) + (32 * 144 + 32) + (32 * 288 + 32) + (2 * 32 + 2)
# The int8 file pads conv1's input to 4 channels with zeros (models/_quantize.py,
# pad_input_channels): 16 x 9 more stored weights and 16x16x25 x 9 more MACs, on zeros.
PADDING_WEIGHTS = {"float": 0, "int8": 16 * 9}
PADDING_MACS = {"float": 0, "int8": 16 * 16 * 25 * 9}


@pytest.fixture(scope="module")
def profiles() -> dict[str, dict[str, object]]:
    return {name: profile(name, repeats=5) for name in MODELS}


@pytest.fixture(scope="module")
def held_out() -> dict[str, object]:
    # A seed neither training (0) nor calibration (1234) used; every negative kept.
    spec = Model.load("float").spec
    return {"data": window_set(40, 777, spec=spec, negative_fraction=1.0)}


def _shipped_bytes(name: str) -> bytes:
    return resources.files("highfive.models").joinpath(SHIPPED[name]).read_bytes()


# -- contract: every shipped model -------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
class TestShippedModel:
    def test_loads_with_its_spec(self, name: str) -> None:
        model = Model.load(name)
        assert model.name == name
        # 16 scales; 1.5 s at 50 Hz keeping every 3rd column (MODEL_CARD.md).
        assert model.spec.input_shape == (3, 16, 25)
        assert (model.spec.time_step, model.spec.hop_s) == (3, 0.2)
        assert model.spec.class_names == ("other", "high_five")
        assert model.spec.norm_std != (1.0, 1.0, 1.0)  # measured, not the identity

    def test_metadata_round_trips(self, name: str) -> None:
        proto = onnx.load_from_string(_shipped_bytes(name))
        props = {p.key: p.value for p in proto.metadata_props}
        spec = ModelSpec.from_metadata(props)
        assert spec == Model.load(name).spec
        # Every highfive.* entry in the file is what the spec writes (fields added to
        # ModelSpec later may be absent from the file and take their defaults).
        ours = {k: v for k, v in props.items() if k.startswith("highfive.")}
        assert ours.items() <= spec.to_metadata().items()
        assert ModelSpec.from_metadata(spec.to_metadata()) == spec

    def test_sha256_file_matches_the_bytes(self, name: str) -> None:
        ref = resources.files("highfive.models").joinpath(SHIPPED[name] + ".sha256")
        digest, file_name = ref.read_text().split()
        assert file_name == SHIPPED[name]
        assert digest == hashlib.sha256(_shipped_bytes(name)).hexdigest()
        assert digest == Model.load(name).sha256

    def test_budgets(self, name: str, profiles: dict[str, dict[str, object]]) -> None:
        prof = profiles[name]
        assert prof["parameters"] == GOLDEN_PARAMETERS + PADDING_WEIGHTS[name] <= 100_000
        assert prof["macs"] == GOLDEN_MACS + PADDING_MACS[name] <= 1_000_000  # 2 MFLOP
        assert prof["quantized"] is (name == "int8")
        assert prof["latency_b1_ms"] > 0 and prof["latency_b256_ms"] > 0  # type: ignore[operator]

    def test_predict_returns_probabilities(self, name: str) -> None:
        model = Model.load(name)
        x = np.random.default_rng(5).standard_normal((7, *model.spec.input_shape))
        x = x.astype(np.float32)
        p = model.predict(x, batch=3)
        assert p.shape == (7,) and p.dtype == np.float32
        assert np.all((p >= 0) & (p <= 1))

    def test_window_accuracy_on_held_out_data(self, name: str, held_out: dict[str, object]) -> None:
        data = held_out["data"]
        metrics = window_metrics(Model.load(name).predict(data.x), data)  # type: ignore[attr-defined]
        # MODEL_CARD.md reports 99.80 % on 1,000 held-out traces; 40 traces vary more.
        assert metrics["accuracy"] > 0.98
        assert metrics["tpr"] > 0.95


def test_int8_is_small_and_agrees_with_float(held_out: dict[str, object]) -> None:
    assert len(_shipped_bytes("int8")) <= 0.35 * len(_shipped_bytes("float"))
    data = held_out["data"]
    p_float = Model.load("float").predict(data.x)  # type: ignore[attr-defined]
    p_int8 = Model.load("int8").predict(data.x)  # type: ignore[attr-defined]
    assert np.mean((p_float >= 0.5) == (p_int8 >= 0.5)) > 0.99
    assert float(np.max(np.abs(p_float - p_int8))) < 0.5


# -- bad model files -----------------------------------------------------------------
def _corrupt(tmp: Path) -> Path:
    path = tmp / "corrupt.onnx"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def _no_metadata(tmp: Path) -> Path:
    proto = onnx.load_from_string(_shipped_bytes("float"))
    del proto.metadata_props[:]
    path = tmp / "no-metadata.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


def _wrong_input_shape(tmp: Path) -> Path:
    # Input (B, 3, 8, 75) but metadata saying 16 scales: GlobalAveragePool -> 3 values,
    # a 3x2 MatMul and Softmax make a valid graph with the right output shape.
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 2], [0.1] * 6)
    nodes = [
        helper.make_node("GlobalAveragePool", ["scalogram"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("scalogram", TensorProto.FLOAT, ["B", 3, 8, 75])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["B", 2])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, ModelSpec().to_metadata())
    onnx.checker.check_model(model)
    path = tmp / "wrong-shape.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def _missing(tmp: Path) -> Path:
    return tmp / "does-not-exist.onnx"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(_corrupt, r"ONNX Runtime cannot load it", id="corrupt-bytes"),
        pytest.param(  # not "is None": the model has no such key
            _no_metadata, r"metadata key 'highfive\.format' is missing, expected", id="no-metadata"
        ),
        pytest.param(
            _wrong_input_shape, r"input shape .* does not match its metadata", id="input-shape"
        ),
        pytest.param(_missing, r"is neither a file nor a shipped model", id="no-such-file"),
    ],
)
def test_bad_model_gives_model_error(make: object, match: str, tmp_path: Path) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ModelError, match=match):
        Model.load(path)
    with pytest.raises(ModelError, match=match):
        profile(path)


# -- metadata limits: refused in one line before anything is allocated from them --------
def _toy_with(make: Callable[..., bytes], tmp: Path, **fields: object) -> Path:
    """The toy model with some metadata fields replaced (JSON values; a str as is)."""
    meta = ModelSpec().to_metadata()
    for key, value in fields.items():
        meta[f"highfive.{key}"] = value if isinstance(value, str) else json.dumps(value)
    path = tmp / "models" / "custom.onnx"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(make(metadata=meta))
    return path


BAD_METADATA = [
    (
        "rate-1e5",
        {"sample_rate": 1e5},
        r"sample_rate 100000\.0 Hz is not allowed; must be a "
        r"number in \(0, 2000\] Hz",
    ),
    ("rate-1e308", {"sample_rate": 1e308}, r"sample_rate 1e\+308 Hz is not allowed"),
    ("rate-text", {"sample_rate": '"fast"'}, r"sample_rate 'fast' Hz is not allowed"),
    (
        "window-long",
        {"window_s": 100.0},
        r"window_s 100\.0 s is 5,000 samples at 50 Hz; at "
        r"most 4,096 samples allowed",
    ),
    (
        "window-1e308",
        {"window_s": 1e308},
        r"window_s: got 1e\+308 s, more than 2,147,483,648 "
        r"samples at fs=50\.0 Hz",
    ),
    (
        "hop-tiny",
        {"sample_rate": 1000.0, "hop_s": 0.002},
        r"hop_s 0\.002 s is not allowed; "
        r"must be at least 0\.01 s \(at most 100 windows per second\)",
    ),
    (
        "scales-1000",
        {"freqs_hz": [1.0] * 1000},
        r"freqs_hz \[1\.0, 1\.0, .*, \.\.\. \(1,000 items\)\] "
        r"has 1,000 values; 1 to 256 allowed",
    ),
    ("scales-none", {"freqs_hz": []}, r"freqs_hz \[\] has 0 values; 1 to 256 allowed"),
    ("scales-text", {"freqs_hz": '"abc"'}, r"freqs_hz 'abc' is not a list of numbers"),
    (
        "above-nyquist",
        {"freqs_hz": [30.0]},
        r"freqs_hz \[30\.0\] is not allowed; each must be "
        r"in \(0, fs/2\] = \(0, 25\] Hz",
    ),
    (
        "input-values",
        {"sample_rate": 200.0, "freqs_hz": [5.0] * 256, "time_step": 1},
        r"\[3, 256, 300\] = 230,400 input values per window; at most 65,536 allowed",
    ),
    (
        "bank",
        {"freqs_hz": [0.0001, 1.0, 20.0]},
        r"freqs_hz down to 0\.0001 Hz .* needs a "
        r"filter bank of 3 scales x [\d,]+ FFT points = [\d,]+ values; at most 2,097,152 allowed",
    ),
    (
        "norm-scale-0",
        {"norm_scale": 0},
        r"norm_scale 0 is not allowed; must be a finite number "
        r"> 0",
    ),
    (
        "norm-std-0",
        {"norm_std": [1.0, 0.0, 1.0]},
        r"norm_std \[1\.0, 0\.0, 1\.0\] is not "
        r"allowed; must be 3 finite numbers > 0",
    ),
    (
        "norm-mean-2",
        {"norm_mean": [0.0, 0.0]},
        r"norm_mean \[0\.0, 0\.0\] has 2 values; "
        r"exactly 3 allowed",
    ),
    ("wavelet", {"wavelet": '"morl"'}, r"wavelet 'morl' is not allowed; only complex Morlet"),
    (
        "wavelet-huge",
        {"wavelet": json.dumps("cmor" + "9" * 2**20)},
        r"wavelet 'cmor9999.*'\.\.\. \(1,048,580 characters\) is not allowed",
    ),
    (
        "classes-1000",
        {"class_names": [f"c{i}" for i in range(999)] + ["high_five"]},
        r"class_names \['c0', 'c1', .*\(1,000 items\)\] has 1,000 names; 1 to 256 allowed",
    ),
    ("classes-number", {"class_names": 5}, r"class_names 5 is not a list of strings"),
    (  # accepted: the count changed with which column was taken for the positive one
        "classes-twice",
        {"class_names": ["high_five", "high_five"]},
        r"class_names \['high_five', 'high_five'\] names 'high_five' twice; each class once",
    ),
    ("time-step-0", {"time_step": 0}, r"time_step 0 must be an integer in \[1, 75\]"),
]


@pytest.mark.parametrize(
    ("fields", "match"), [b[1:] for b in BAD_METADATA], ids=[b[0] for b in BAD_METADATA]
)
def test_metadata_out_of_limits_is_one_line_naming_the_model(
    fields: dict[str, object], match: str, tmp_path: Path, make_toy_model: Callable[..., bytes]
) -> None:
    """Checked before the filter bank, the model info batch or a window is allocated
    (a 100 kHz rate or thousands of scales took gigabytes); norm_scale 0 no longer
    divides by zero later. The message names the file, echoes the value shortened and
    in plain numbers, and says what is allowed."""
    path = _toy_with(make_toy_model, tmp_path, **fields)
    for load in (Model.load, profile):
        with pytest.raises(ModelError) as err:
            load(path)  # type: ignore[operator]
        text = str(err.value)
        assert text.startswith(f"model {str(path)!r} metadata: "), text
        assert re.search(match, text), text
        assert "\n" not in text and len(text) < 500 and "np." not in text and "inf" not in text


def test_limits_admit_the_shipped_models() -> None:
    spec = Model.load("float").spec
    assert spec.sample_rate <= LIMITS["sample_rate"] and spec.window <= LIMITS["window"]
    assert math.prod(spec.input_shape) * 54 <= LIMITS["input_values"]


# -- the model's output against the batch ----------------------------------------------
def _toy_output(make: Callable[..., bytes], tmp: Path, how: str) -> Path:
    """The toy model whose output has one row (mean over the batch) or twice the rows."""
    proto = onnx.load_from_string(make())
    last = proto.graph.node[-1]
    last.output[0] = "p0"
    if how == "fewer":
        node = helper.make_node("ReduceMean", ["p0"], ["probabilities"], axes=[0], keepdims=1)
    else:
        node = helper.make_node("Concat", ["p0", "p0"], ["probabilities"], axis=0)
    proto.graph.node.append(node)
    path = tmp / f"{how}-rows.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


@pytest.mark.parametrize("how", ["fewer", "more"])
def test_output_rows_must_match_the_windows(
    how: str, tmp_path: Path, make_toy_model: Callable[..., bytes]
) -> None:
    """One row per window or a one-line ModelError naming the file: fewer rows were
    broadcast into a wrong count, more rows gave numpy's ValueError. The load's probe
    batch finds it, before any window is judged."""
    path = _toy_output(make_toy_model, tmp_path, how)
    rows = 1 if how == "fewer" else 4
    with pytest.raises(ModelError) as err:
        Model.load(path)
    assert str(err.value) == (
        f"model {str(path)!r}: output 'probabilities' has shape [{rows}, 2] for a probe "
        "batch of 2 windows; it must be [2, 2], one row of class probabilities per window"
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest()[:12] not in str(err.value)


def test_errors_name_the_model_by_its_path_not_its_hash(tmp_path: Path) -> None:
    path = _corrupt(tmp_path)
    with pytest.raises(ModelError, match=r"ONNX Runtime cannot load it") as err:
        Model.load(path)
    assert str(err.value).startswith(f"model {str(path)!r}: ")
    assert hashlib.sha256(path.read_bytes()).hexdigest()[:12] not in str(err.value)


# -- external data: read from the model's folder, part of its identity ------------------
def _external(make: Callable[..., bytes], folder: Path, weight: float) -> Path:
    """The toy model saved with its float tensors in an external file, weights.bin."""
    from onnx import numpy_helper

    proto = onnx.load_from_string(make(weight=weight))
    inits = [
        numpy_helper.from_array(numpy_helper.to_array(t), t.name)
        if t.data_type == TensorProto.FLOAT
        else t
        for t in proto.graph.initializer
    ]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(inits)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save_model(
        proto,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    return path


def test_external_data_is_read_next_to_the_model_and_identifies_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_toy_model: Callable[..., bytes]
) -> None:
    """Two models whose .onnx files are byte for byte equal but whose weights.bin differ:
    each is read from its own folder whatever the working directory (it was resolved
    against the working directory), and their identities differ."""
    a = _external(make_toy_model, tmp_path / "a", weight=4.0)
    b = _external(make_toy_model, tmp_path / "b", weight=-4.0)
    assert a.read_bytes() == b.read_bytes()
    x = np.random.default_rng(0).standard_normal((4, 3, 16, 25)).astype(np.float32) + 1.0
    want_a = Model.from_bytes(make_toy_model(weight=4.0)).predict(x)
    want_b = Model.from_bytes(make_toy_model(weight=-4.0)).predict(x)
    assert not np.array_equal(want_a, want_b)
    monkeypatch.chdir(tmp_path / "b")  # a weights.bin here is b's, not a's
    model_a, model_b = Model.load(a), Model.load(b)
    np.testing.assert_array_equal(model_a.predict(x), want_a)
    np.testing.assert_array_equal(model_b.predict(x), want_b)
    assert model_a.sha256 != model_b.sha256
    assert model_a.sha256 != hashlib.sha256(a.read_bytes()).hexdigest()
    counter_a = load_counter(str(a))
    assert counter_a.identity.sha256 == model_a.sha256
    assert counter_a.identity.sha256 != load_counter(str(b)).identity.sha256
    again = pickle.loads(pickle.dumps(model_a))  # the weights travel inside
    monkeypatch.chdir(tmp_path)
    assert again.sha256 == model_a.sha256
    np.testing.assert_array_equal(again.predict(x), want_a)


@pytest.mark.parametrize(
    ("location", "match"),
    [
        pytest.param("../weights.bin", r"which is not inside the model's folder", id="parent"),
        pytest.param("/etc/passwd", r"which is not inside the model's folder", id="absolute"),
        pytest.param("gone.bin", r"which does not exist next to the model", id="missing"),
        # 'error: Is a directory: ...', naming neither the model nor the tensor
        pytest.param(".", r"'\.', which is not a file next to the model$", id="the-folder"),
    ],
)
def test_external_data_outside_the_model_folder_is_refused(
    location: str, match: str, tmp_path: Path, make_toy_model: Callable[..., bytes]
) -> None:
    path = _external(make_toy_model, tmp_path / "m", weight=4.0)
    proto = onnx.load(str(path), load_external_data=False)
    for t in proto.graph.initializer:
        for entry in t.external_data:
            if entry.key == "location":
                entry.value = location
    (tmp_path / "weights.bin").write_bytes((tmp_path / "m" / "weights.bin").read_bytes())
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelError, match=match) as err:
        Model.load(path)
    assert str(err.value).startswith(f"model {str(path)!r}: tensor 'w' has external data")


def test_external_data_from_bytes_alone_is_refused(
    tmp_path: Path, make_toy_model: Callable[..., bytes]
) -> None:
    path = _external(make_toy_model, tmp_path, weight=4.0)
    with pytest.raises(ModelError, match=r"stored in external files.*load it from its path"):
        Model.from_bytes(path.read_bytes(), name="m.onnx")


def test_tiny_graph_profile(tmp_path: Path) -> None:
    # The 16-scale twin of the graph above: MatMul (1x3)(3x2) -> 6 MACs, 6 parameters.
    proto = onnx.load(str(_wrong_input_shape(tmp_path)))
    proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 16
    assert count_parameters(proto) == 6
    assert count_macs(proto) == 6


# -- quantization --------------------------------------------------------------------
def test_quantize_writes_a_checked_int8_twin(tmp_path: Path) -> None:
    out = quantize("float", tmp_path / "q.onnx", n_calibration_traces=4, seed=5)
    model = Model.load(out)
    assert model.spec == Model.load("float").spec
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["train.seed"] == "0"
    assert out.stat().st_size <= 0.35 * len(_shipped_bytes("float"))
    assert [p.name for p in tmp_path.iterdir()] == ["q.onnx"]  # no temporary left over


def test_channel_padding_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The int8 model with conv1 padded to 4 input channels computes the same outputs,
    bit for bit, as the model quantize_static made; padding again changes nothing."""
    import onnxruntime as ort

    monkeypatch.setattr(_quantize, "pad_input_channels", lambda data, multiple=4: data)
    plain = quantize("float", tmp_path / "plain.onnx", n_calibration_traces=4, seed=5)
    monkeypatch.undo()
    data = plain.read_bytes()
    padded = pad_input_channels(data)
    assert padded != data and pad_input_channels(padded) == padded
    graph = onnx.load_from_string(padded).graph
    assert graph.node[0].op_type == "Pad"
    conv_w = [i for i in graph.initializer if len(i.dims) == 4 and i.dims[1] in (3, 4)]
    assert [list(i.dims) for i in conv_w] == [[16, 4, 3, 3]]

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    runs = [
        ort.InferenceSession(m, opts, providers=["CPUExecutionProvider"]) for m in (data, padded)
    ]
    rng = np.random.default_rng(11)
    for batch in (1, 5, 64):
        x = (3 * rng.standard_normal((batch, 3, 16, 25))).astype(np.float32)
        a, b = (r.run(None, {"scalogram": x})[0] for r in runs)
        np.testing.assert_array_equal(a, b)


def _int8_weights(data: bytes) -> list[np.ndarray]:
    from onnx import numpy_helper

    graph = onnx.load_from_string(data).graph
    arrays = [
        numpy_helper.to_array(i) for i in graph.initializer if i.data_type == TensorProto.INT8
    ]
    return [a for a in arrays if a.ndim >= 2]  # not the zero points


@pytest.mark.parametrize("source", ["shipped", "quantize"])
def test_int8_weights_keep_to_seven_bits(source: str, tmp_path: Path) -> None:
    # x86 CPUs without VNNI (AVX2, AVX-512 before VNNI) multiply uint8 activations by
    # int8 weights in pairs summed into int16, which saturates above 32,767: with
    # weights up to 127 the shipped int8 model's outputs depended on the host CPU
    # (here, AVX2, up to 1.8 logits from its own QDQ graph) and on the zero padding of
    # conv1. Weights within +-64 keep every pair sum below 2 x 255 x 64 = 32,640.
    if source == "shipped":
        data = _shipped_bytes("int8")
    else:
        data = quantize("float", tmp_path / "q.onnx", n_calibration_traces=4, seed=5).read_bytes()
    weights = _int8_weights(data)
    assert len(weights) == 4  # three convolutions and the head
    assert all(int(np.abs(w.astype(np.int16)).max()) <= 64 for w in weights)


def test_int8_integer_kernels_compute_the_qdq_graph() -> None:
    # The int8 file's QDQ graph defines its arithmetic; ONNX Runtime's integer kernels
    # (graph optimisation on) must compute it on this CPU as it is evaluated in float
    # with the optimisations off, up to float rounding: no saturation, whatever the host.
    # A rounding tie settled the other way moves a requantized value by one step; at
    # the output that is one step of the logits' quantizer (0.256 for the shipped file:
    # 5 of 3,129 windows here). Saturation moved logits by up to 1.8, seven steps.
    import onnxruntime as ort
    from onnx import numpy_helper

    data = _shipped_bytes("int8")
    graph = onnx.load_from_string(data).graph
    producer = {out: node for node in graph.node for out in node.output}
    (softmax,) = (node for node in graph.node if node.op_type == "Softmax")
    dequantize = producer[softmax.input[0]]
    assert dequantize.op_type == "DequantizeLinear"
    (scale,) = (i for i in graph.initializer if i.name == dequantize.input[1])
    step = float(numpy_helper.to_array(scale))
    spec = Model.load("int8").spec
    x = window_set(40, 77, spec=spec, negative_fraction=1.0).x.astype(np.float32)

    def logits(level: ort.GraphOptimizationLevel) -> np.ndarray:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.graph_optimization_level = level
        run = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        p = run.run(None, {"scalogram": x})[0].astype(np.float64)
        return np.log(np.maximum(p[:, 1], 1e-30)) - np.log(np.maximum(p[:, 0], 1e-30))

    integer = logits(ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    reference = logits(ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    assert len(x) > 1_000
    assert np.abs(integer - reference).max() <= step * (1.0 + 1e-5)


def test_channel_padding_leaves_float_models_alone() -> None:
    data = _shipped_bytes("float")
    assert pad_input_channels(data) == data


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param(
            {"n_calibration_traces": 0}, InvalidParameter, "n_calibration_traces", id="n0"
        ),
        pytest.param({"float_path": "nope.onnx"}, ModelError, "nope.onnx", id="missing"),
        pytest.param({"float_path": "int8"}, InvalidParameter, "already quantized", id="int8"),
    ],
)
def test_quantize_bad_input(
    kwargs: dict[str, object], error: type[Exception], match: str, tmp_path: Path
) -> None:
    args: dict[str, object] = {"float_path": "float", "out_path": tmp_path / "q.onnx"}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        quantize(**args)  # type: ignore[arg-type]
    assert not (tmp_path / "q.onnx").exists()


# -- training data -------------------------------------------------------------------
def _trace_with(events: tuple[Event, ...]) -> Trace:
    t = np.arange(500) / 50.0
    return Trace(t=t, samples=np.zeros((500, 3), np.float32), fs=50.0, events=events)


def test_label_windows_golden() -> None:
    # Thresholds from the brief: positive within 0.25 s of a high-five impact, negative
    # beyond 0.6 s, ambiguous in between; the motion is that of the event under the centre.
    trace = _trace_with(
        (
            Event("high_five", 1.5, 2.5, 2.0, True),
            Event("clap", 4.0, 5.0, 4.5, False),
        )
    )
    centres = np.array([2.0, 2.25, 1.74, 2.3, 2.59, 2.61, 4.2, 7.0])
    label, motion = label_windows(centres, trace)
    assert label.tolist() == [1, 1, -1, -1, -1, 0, 0, 0]
    assert motion.tolist() == ["high_five"] * 4 + ["(idle)", "(idle)", "clap", "(idle)"]


def test_make_windows_shapes_and_determinism() -> None:
    x, y, w = make_windows(6, seed=3)
    assert x.dtype == np.float32 and x.shape[1:] == ModelSpec().input_shape
    assert y.dtype == np.int8 and set(np.unique(y)) <= {0, 1} and y.shape == (x.shape[0],)
    assert w.dtype == np.float32 and set(np.unique(w[y == 0])) == {4.0}
    assert np.all(w[y == 1] == 1.0)
    x2, y2, w2 = make_windows(6, seed=3)
    assert np.array_equal(x, x2) and np.array_equal(y, y2) and np.array_equal(w, w2)


def test_trace_i_does_not_depend_on_n_traces() -> None:
    small, big = window_set(2, seed=9), window_set(4, seed=9)
    n = len(small)
    assert np.array_equal(small.y, big.y[:n]) and np.array_equal(small.weight, big.weight[:n])
    # The scalogram's BLAS call rounds differently with the batch size (~1e-6).
    np.testing.assert_allclose(small.x, big.x[:n], rtol=1e-5, atol=1e-5)
    assert np.all(big.trace[n:] >= 2)


def test_norm_stats_standardise_the_features() -> None:
    spec = norm_stats(8, seed=2)
    assert spec.norm_mean != (0.0, 0.0, 0.0)
    x = window_set(8, seed=2, spec=spec).x
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0.0, atol=1e-3)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), 1.0, atol=1e-3)


def test_window_metrics_weights_undo_subsampling() -> None:
    data = window_set(5, seed=4)
    calls = (data.y == 0).astype(np.float64)  # every negative wrong, every positive missed
    metrics = window_metrics(calls, data)
    assert metrics["accuracy"] == 0.0 and metrics["tpr"] == 0.0 and metrics["fpr"] == 1.0
    assert metrics["balanced_accuracy"] == 0.0
    assert metrics["n_windows"] == len(data)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"n_traces": 0}, r"n_traces: got 0", id="no-traces"),
        pytest.param({"seed": -1}, r"seed: got -1", id="negative-seed"),
        pytest.param({"negative_fraction": 0.0}, r"negative_fraction: got 0.0", id="fraction-0"),
        pytest.param({"negative_fraction": 1.5}, r"negative_fraction: got 1.5", id="fraction>1"),
    ],
)
def test_window_set_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"n_traces": 2, "seed": 0}
    args.update(kwargs)
    with pytest.raises(InvalidParameter, match=match):
        window_set(**args)  # type: ignore[arg-type]


# -- package and CLI -------------------------------------------------------------------
def test_importing_models_does_not_import_torch(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import sys, highfive.models; print('torch' in sys.modules)"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "False"


def test_importing_models_imports_no_other_highfive_package(tmp_path: Path) -> None:
    # The harness reads the shipped files through this package (importlib.resources),
    # so importing it must not import the harness back.
    code = "import sys, highfive.models; print(sorted(m for m in sys.modules if 'highfive.' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['highfive.models']"


@pytest.mark.parametrize("name", highfive.models.__all__)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(highfive.models, name)
    home = highfive.models._HOME[name]
    assert value is getattr(importlib.import_module(f"highfive.models.{home}"), name)
    assert name in dir(highfive.models)


def test_unknown_names_raise_attribute_error() -> None:
    assert sorted(highfive.models._HOME) == sorted(highfive.models.__all__)
    with pytest.raises(AttributeError, match=r"'highfive.models' has no attribute 'nope'"):
        _ = highfive.models.nope


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="highfive")
    add_model_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cli_model_info(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["model", "info", "int8"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert Model.load("int8").sha256 in out
    stored = GOLDEN_PARAMETERS + PADDING_WEIGHTS["int8"]
    assert f"parameters  {stored:,}" in out and "int8        yes (QDQ)" in out
    assert "one column in 3 (time_step)" in out  # it said "every 3th column"


def test_cli_train_without_torch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    args = _parse(["model", "train", "--out", str(tmp_path / "m.onnx")])
    # From a clone, 'highfive[train]' asks the package index: the message names the
    # source folder's form first.
    with pytest.raises(
        ModelError,
        match=r'PyTorch is not installed; install the train extra: pip install "\.\[train\]" '
        r"in the highfive source folder \(pip install 'highfive\[train\]' where highfive "
        r"comes from a package index\)$",
    ):
        args.handler(args)


def test_train_help_says_how_to_install_the_extra_from_the_source_folder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        _parse(["model", "train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert (
        "Needs the 'train' extra: pip install \".[train]\" in the highfive source folder"
        in help_text
    )


@pytest.mark.parametrize(
    ("argv", "error", "match"),
    [
        pytest.param(["model", "info", "nope.onnx"], ModelError, "nope.onnx", id="info-missing"),
        pytest.param(
            ["model", "quantize", "float", "--out", "{tmp}"],
            InvalidParameter,
            "is a directory",
            id="out-is-dir",
        ),
        pytest.param(
            ["model", "quantize", "float", "--out", "{tmp}/m.txt"],
            InvalidParameter,
            r"\.onnx",
            id="out-not-onnx",
        ),
    ],
)
def test_cli_errors(argv: list[str], error: type[Exception], match: str, tmp_path: Path) -> None:
    args = _parse([a.replace("{tmp}", str(tmp_path)) for a in argv])
    with pytest.raises(error, match=match):
        args.handler(args)


VARIANTS = ("small", "streaming", "pruned")
"""Variants shipped in ``highfive.models/variants`` (see MODEL_CARD.md, "Variants")."""


@pytest.mark.parametrize("variant", VARIANTS)
def test_shipped_variants_are_whole_self_describing_and_small_in_int8(variant: str) -> None:
    """Each variant ships float32 and int8 with their SHA-256; both carry their metadata,
    and the int8 file is at most 35 % of its float twin (the model budget)."""
    folder = resources.files("highfive.models").joinpath("variants")
    sizes = {}
    for kind in ("float32", "int8"):
        name = f"highfive-{variant}-{kind}.onnx"
        data = folder.joinpath(name).read_bytes()
        digest, file_name = folder.joinpath(name + ".sha256").read_text().split()
        assert (file_name, digest) == (name, hashlib.sha256(data).hexdigest())
        with resources.as_file(folder.joinpath(name)) as path:
            model = Model.load(path)
        assert model.spec.positive_class in model.spec.class_names
        sizes[kind] = len(data)
    assert sizes["int8"] <= 0.35 * sizes["float32"]


@given(st.sets(st.integers(0, 2**40), max_size=300), st.integers(0, 400))
def test_case_ids_round_trip_through_their_compact_form(ids: set[int], other: int) -> None:
    """A model records the failing cases it was trained on as gap varints, zlib, base64,
    with their number; a text that holds another number of ids is refused."""
    text = highfive.models.encode_case_ids(ids)
    assert highfive.models.decode_case_ids(text, len(ids)) == sorted(ids)
    if other != len(ids):
        with pytest.raises(ValueError):
            highfive.models.decode_case_ids(text, other)


def test_a_case_list_is_one_whole_zlib_stream() -> None:
    import base64

    raw = base64.b64decode(highfive.models.encode_case_ids([1, 5, 9]))
    for damaged in (raw + b"junk", raw[:-2]):  # bytes after its end; its checksum cut
        with pytest.raises(ValueError, match="not one whole zlib stream"):
            highfive.models.decode_case_ids(base64.b64encode(damaged).decode(), 3)


def test_a_record_without_its_number_reads_as_none() -> None:
    # A record of no ids that gives no number passed the check, then broke
    # training_cases with a KeyError.
    empty = highfive.models.encode_case_ids([])
    meta = {"train.failures": json.dumps([{"run": "r", "seed": 1, "cases_z": empty}])}
    from highfive.models._failures import check_train_metadata

    check_train_metadata(meta)
    assert highfive.models.training_cases(meta) == set()


def test_a_case_list_is_not_unpacked_beyond_its_number_of_ids() -> None:
    # 193 kB of metadata unpacking to 100 MB took 11 s and 1.1 GB to read the model.
    import base64
    import tracemalloc
    import zlib

    bomb = base64.b64encode(zlib.compress(b"\x01" * 100_000_000, 9)).decode("ascii")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than 5 case ids"):
            highfive.models.decode_case_ids(bomb, 5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.fixture(scope="module")
def qoperator_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The float model quantized to int8 in the QOperator format (QLinearConv nodes)."""
    out = tmp_path_factory.mktemp("qop") / "q.onnx"
    return quantize("float", out, n_calibration_traces=5, fmt="qoperator")


def test_model_info_and_quantize_name_the_int8_format(
    qoperator_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The QOperator twin keeps its last Gemm (64 MACs) in float.
    for model, said in (
        ("int8", "yes (QDQ)"),
        (
            str(qoperator_model),
            "partly (QOperator: 836,352 of the 836,416 MACs per window run in int8)",
        ),
        ("float", "no"),
    ):
        args = _parse(["model", "info", model])
        assert args.handler(args) == 0
        lines = capsys.readouterr().out.splitlines()
        (line,) = [x for x in lines if x.startswith("int8 ")]
        assert line == f"int8        {said}"
    for model, fmt, nodes in (
        ("int8", "QDQ", "QuantizeLinear/DequantizeLinear"),
        (str(qoperator_model), "QOperator", "QLinearConv"),
    ):
        with pytest.raises(InvalidParameter) as err:
            quantize(model, tmp_path / "q2.onnx", n_calibration_traces=5)
        # named as the model it is, not as the library's parameter (float_path)
        assert str(err.value).startswith(f"model {model!r} is already quantized (int8 {fmt}: ")
        assert f"it has {nodes} nodes); quantize the float32 model" in str(err.value)
    assert not (tmp_path / "q2.onnx").exists()


def test_the_model_card_quotes_the_shipped_normalisation() -> None:
    # The card kept the constants of an earlier model after a retraining.
    card = (Path(__file__).resolve().parents[2] / "models" / "MODEL_CARD.md").read_text()
    for name in ("float", "int8"):
        spec = Model.load(name).spec
        for field, values in (("norm_mean", spec.norm_mean), ("norm_std", spec.norm_std)):
            quoted = f"`{field} = [{', '.join(f'{v:.6f}' for v in values)}]`"
            assert quoted in card, (name, quoted)


def test_a_failure_corpus_holds_the_cases_a_model_miscounted(
    tmp_path: Path, small_campaign: Callable[..., Path]
) -> None:
    # Every case any counter failed was a failing trace to train on: those only a
    # Python counter failed, and those where a counter crashed, which say nothing
    # about the network (40 "failing traces" where the model being retrained failed 1).
    from highfive.harness import RunDir
    from highfive.models import load_corpora

    counters = tmp_path / "counters.py"
    counters.write_text(
        "def none(trace):\n    return []\n\ndef crash(trace):\n    raise RuntimeError('boom')\n"
    )
    models = {"float": "float", "none": f"{counters}:none", "crash": f"{counters}:crash"}
    run = small_campaign(tmp_path, "mixed", 11, 192, models)
    rows = RunDir(run).results(["case_id", "model", "verdict"])
    by = rows.pivot(index="case_id", columns="model", values="verdict")
    assert (by["crash"] == "error").all() and (by["none"] == "miss").sum() > 50
    miscounted = sorted(by.index[~by["float"].isin(["pass", "error", "timeout"])])
    assert miscounted, "seed 11 gives failing cases for the shipped model"
    (corpus,) = load_corpora([run])
    assert sorted(corpus.case_ids) == miscounted
    python_only = small_campaign(tmp_path, "python", 11, 32, {"none": f"{counters}:none"})
    with pytest.raises(InvalidParameter, match=r"has no case a model miscounted: its \d+ failing"):
        load_corpora([python_only])
