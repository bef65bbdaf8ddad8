"""Target budgets: does a model fit a watch microcontroller's flash, RAM and CPU time?

Golden values come from tiny hand-built graphs whose live buffers and MACs are counted
by hand in the comments; the shipped models are checked against the shipped profiles
with the figures the architecture gives (models/MODEL_CARD.md, "Target budget").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

import highfive.models
import highfive.reports
from highfive.generators import ConfigError, ModelError
from highfive.harness import Model, ModelSpec
from highfive.harness.cli import main
from highfive.models import (
    TargetProfile,
    activation_schedule,
    count_macs,
    estimate_target,
    register_gate_estimator,
    shipped_targets,
    weight_bytes,
)
from highfive.models._target_profile import DEFAULT_TARGET, PROFILE_KEYS

from .._helpers import run_and_move

SHIPPED_TARGETS = ("apollo4-plus", "nrf52832", "nrf5340-app")

# A profile for the golden tests: round figures, nothing to do with a real part.
TEST_PROFILE = {
    "description": "test part",
    "core": "Cortex-M4F",
    "clock_mhz": 64,
    "flash_kib": 8,
    "ram_kib": 16,
    "code_allowance_kib": 4,
    "ram_allowance_kib": 2,
    "macs_per_cycle_int8": 0.5,
    "macs_per_cycle_float": 0.25,
    "max_duty_cycle": 0.25,
}


def _toml(values: dict[str, object]) -> str:
    return "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())


def _write_profile(tmp: Path, name: str = "part", **changes: object) -> Path:
    values = {**TEST_PROFILE, **changes}
    path = tmp / f"{name}.toml"
    path.write_text(_toml({k: v for k, v in values.items() if v is not None}))
    return path


def _model(
    nodes: list[onnx.NodeProto],
    inits: list[onnx.TensorProto],
    *,
    out_shape: list[object],
    out_type: int = TensorProto.FLOAT,
    in_shape: list[object] | None = None,
    metadata: bool = True,
) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("scalogram", TensorProto.FLOAT, in_shape or ["B", 3, 16, 25])
    y = helper.make_tensor_value_info("probabilities", out_type, out_shape)
    graph = helper.make_graph(nodes, "hand", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, ModelSpec().to_metadata())
    onnx.checker.check_model(model)
    return model


def _const(name: str, dims: list[int], dtype: int = TensorProto.FLOAT) -> onnx.TensorProto:
    n = math.prod(dims)
    return helper.make_tensor(name, dtype, dims, [0.01 * (i % 7) for i in range(n)])


def _small_cnn() -> onnx.ModelProto:
    """Conv 3->4 3x3, Relu, MaxPool 2x2, Conv 4->2 1x1, GAP, Flatten, Gemm 2->2, Softmax."""
    nodes = [
        helper.make_node("Conv", ["scalogram", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"]),
        helper.make_node("GlobalAveragePool", ["c2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [
        _const("w1", [4, 3, 3, 3]),
        _const("b1", [4]),
        _const("w2", [2, 4, 1, 1]),
        _const("b2", [2]),
        _const("w3", [2, 2]),
        _const("b3", [2]),
    ]
    return _model(nodes, inits, out_shape=["B", 2])


# Hand count for _small_cnn at batch 1, float32 (4 bytes), input 3x16x25 excluded:
#   node 0 Conv     c1 4x16x25 = 1,600 values = 6,400 B                live 6,400
#   node 1 Relu     in place into c1 (its last reader)                 live 6,400
#   node 2 MaxPool  c1 + p1 4x8x12 = 384 values = 1,536 B              live 7,936 (peak)
#   node 3 Conv     p1 + c2 2x8x12 = 192 values = 768 B                live 2,304
#   node 4 GAP      c2 + g 2 values = 8 B                              live 776
#   node 5 Flatten  a view of g                                        live 8
#   node 6 Gemm     g + logits 8 B                                     live 16
#   node 7 Softmax  logits + probabilities 8 B (graph output)          live 16
SMALL_LIVE = (6400, 6400, 7936, 2304, 776, 8, 16, 16)
# MACs: conv1 1,600 outputs x 27, conv2 192 x 4, gemm 2 x 2.
SMALL_MACS = 1600 * 27 + 192 * 4 + 2 * 2
# Weights: (108 + 4) + (8 + 2) + (4 + 2) floats.
SMALL_WEIGHT_BYTES = 4 * (112 + 10 + 6)


def test_small_cnn_schedule_golden() -> None:
    proto = _small_cnn()
    sched = activation_schedule(proto)
    assert sched.live_bytes == SMALL_LIVE
    assert (sched.peak_bytes, sched.peak_node, sched.peak_op) == (7936, 2, "MaxPool")
    assert sched.peak_tensors == ("c1", "p1")
    assert sched.input_bytes == 3 * 16 * 25 * 4
    assert count_macs(proto) == SMALL_MACS == 43_972
    assert weight_bytes(proto) == SMALL_WEIGHT_BYTES == 512


def test_in_place_only_for_the_last_reader() -> None:
    # c is read again by the Add after the Relu, so the Relu gets a buffer of its own:
    #   node 0 Conv     c 4x16x25 float32 = 6,400 B                       live 6,400
    #   node 1 Relu     c + r                                             live 12,800
    #   node 2 Add      c + r + s (Add is not an activation: no reuse)    live 19,200 (peak)
    #   node 3 GAP      s + g 4 values = 16 B                             live 6,416
    #   node 4 Flatten  a view of g, the graph output                     live 16
    nodes = [
        helper.make_node("Conv", ["scalogram", "w1", "b1"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Add", ["c", "r"], ["s"]),
        helper.make_node("GlobalAveragePool", ["s"], ["g"]),
        helper.make_node("Flatten", ["g"], ["probabilities"]),
    ]
    inits = [_const("w1", [4, 3, 3, 3]), _const("b1", [4])]
    proto = _model(nodes, inits, out_shape=["B", 4])
    sched = activation_schedule(proto)
    assert sched.live_bytes == (6400, 12800, 19200, 6416, 16)
    assert sched.peak_bytes == 19200 and sched.peak_op == "Add"


def _qdq_cnn() -> onnx.ModelProto:
    """Quantize, Conv 3->4 3x3 on int8 weights, Quantize, MaxPool, Quantize, Dequantize."""
    s, z = "s", "z"
    nodes = [
        helper.make_node("QuantizeLinear", ["scalogram", s, z], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", s, z], ["xf"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wf"], axis=0),
        helper.make_node("Conv", ["xf", "wf"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("QuantizeLinear", ["c", s, z], ["cq"]),
        helper.make_node("DequantizeLinear", ["cq", s, z], ["cf"]),
        helper.make_node("MaxPool", ["cf"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("QuantizeLinear", ["m", s, z], ["mq"]),
        helper.make_node("DequantizeLinear", ["mq", s, z], ["probabilities"]),
    ]
    inits = [
        helper.make_tensor(s, TensorProto.FLOAT, [], [0.05]),
        helper.make_tensor(z, TensorProto.UINT8, [], [128]),
        helper.make_tensor("wq", TensorProto.INT8, [4, 3, 3, 3], [1] * 108),
        helper.make_tensor("ws", TensorProto.FLOAT, [4], [0.01] * 4),
        helper.make_tensor("wz", TensorProto.INT8, [4], [0] * 4),
    ]
    return _model(nodes, inits, out_shape=["B", 4, 8, 12])


# Hand count for _qdq_cnn (uint8 activations, 1 byte; input excluded):
#   node 0 Quantize   xq 3x16x25 = 1,200 B                                  live 1,200
#   node 1 Dequantize read in place by the Conv: no float copy             live 1,200
#   node 2 Dequantize of weights: a constant, not an activation            live 1,200
#   node 3 Conv       xq + c, which only a Quantize reads: stored as cq,
#                     4x16x25 = 1,600 B                                    live 2,800 (peak)
#   node 4 Quantize   cq                                                   live 1,600
#   node 5 Dequantize read in place                                        live 1,600
#   node 6 MaxPool    cq + m stored as mq 4x8x12 = 384 B                   live 1,984
#   node 7 Quantize   mq                                                   live 384
#   node 8 Dequantize a graph output: its own float buffer, 1,536 B        live 1,920
QDQ_LIVE = (1200, 1200, 1200, 2800, 1600, 1600, 1984, 384, 1920)
# Initializers: 4 + 1 + 108 + 16 + 4 bytes.
QDQ_WEIGHT_BYTES = 4 + 1 + 108 + 16 + 4


def test_quantized_schedule_golden() -> None:
    proto = _qdq_cnn()
    sched = activation_schedule(proto)
    assert sched.live_bytes == QDQ_LIVE
    assert (sched.peak_bytes, sched.peak_node, sched.peak_op) == (2800, 3, "Conv")
    assert sched.peak_tensors == ("xq", "cq")
    assert weight_bytes(proto) == QDQ_WEIGHT_BYTES
    assert count_macs(proto) == 1600 * 27


def test_estimate_golden(tmp_path: Path) -> None:
    path = tmp_path / "small.onnx"
    onnx.save(_small_cnn(), str(path))
    est = estimate_target(path, _write_profile(tmp_path))
    assert not est.quantized and est.macs_per_cycle == 0.25
    # Default ModelSpec: 50 Hz, 1.5 s windows (75 samples), hop 0.2 s -> 5 windows/s.
    assert est.window_buffer_bytes == 75 * 3 * 4 == 900
    assert est.scalogram_buffer_bytes == 3 * 16 * 25 * 4 == 4800
    assert est.macs_per_s == pytest.approx(SMALL_MACS * 5)
    assert est.cycles_per_s == pytest.approx(SMALL_MACS * 5 / 0.25)  # 879,440
    assert est.duty_cycle == pytest.approx(879_440 / 64e6)
    assert est.ms_per_window == pytest.approx(1e3 * SMALL_MACS / 0.25 / 64e6)
    # flash: 512 B + 4 KiB of 8 KiB; RAM: 7,936 + 900 + 4,800 + 2,048 = 15,684 of 16,384 B.
    assert est.flash_need_bytes == 512 + 4096
    assert est.ram_need_bytes == 15_684
    assert est.checks == {"flash": True, "ram": True, "duty_cycle": True} and est.fits
    tight = estimate_target(path, _write_profile(tmp_path, "tight", ram_kib=15))
    assert tight.checks["ram"] is False and not tight.fits  # 15,684 > 15,360
    slow = estimate_target(path, _write_profile(tmp_path, "slow", clock_mhz=3))
    assert slow.duty_cycle == pytest.approx(879_440 / 3e6)  # 29 % > 25 %
    assert slow.checks == {"flash": True, "ram": True, "duty_cycle": False}
    doc = est.to_dict()
    assert doc["fits"] == {"flash": True, "ram": True, "duty_cycle": True, "all": True}
    assert doc["peak_activation_bytes"] == 7936 and doc["kernels"] == "float"
    json.dumps(doc)  # JSON-ready


def test_quantized_model_uses_the_int8_figure(tmp_path: Path) -> None:
    proto = _qdq_cnn()
    # A classifier needs (batch, classes) probabilities: end in GAP + Flatten + Softmax.
    proto.graph.node[-1].output[0] = "mf"
    proto.graph.node.extend(
        [
            helper.make_node("GlobalAveragePool", ["mf"], ["g"]),
            helper.make_node("Flatten", ["g"], ["f"]),
            helper.make_node("Gather", ["f", "idx"], ["two"], axis=1),
            helper.make_node("Softmax", ["two"], ["probabilities"], axis=1),
        ]
    )
    proto.graph.initializer.append(helper.make_tensor("idx", TensorProto.INT64, [2], [0, 1]))
    proto.graph.output[0].type.tensor_type.shape.Clear()
    for d in ("B", 2):
        dim = proto.graph.output[0].type.tensor_type.shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        else:
            dim.dim_value = d
    onnx.checker.check_model(proto)
    path = tmp_path / "q.onnx"
    onnx.save(proto, str(path))
    est = estimate_target(path, _write_profile(tmp_path))
    assert est.quantized and est.macs_per_cycle == 0.5
    assert est.cycles_per_s == pytest.approx(1600 * 27 * 5 / 0.5)


# -- the shipped models on the shipped profiles ----------------------------------------
# Weight bytes as stored. float: 14,402 parameters x 4 B (tests/unit/test_models.py,
# GOLDEN_PARAMETERS). int8 (QDQ, conv1 padded to 4 input channels): int8 weights
# 16*4*9 + 32*16*9 + 32*32*9 + 2*32; int32 biases 82 x 4; float weight scales 82 x 4;
# int8 weight zero points 82; float bias scales 82 x 4; int32 bias zero points 82 x 4;
# six activation scales (float) and zero points (uint8); the Pad's 8 int64 pads.
WEIGHTS = {
    "float": 14_402 * 4,
    "int8": (576 + 4608 + 9216 + 64) + 82 * 4 * 4 + 82 + 6 * 4 + 6 + 8 * 8,
}
# Peak activations (models/MODEL_CARD.md, Architecture). float: at the first MaxPool,
# conv1's 16x16x25 and pool1's 16x8x12 float32 outputs. int8: at conv1, the padded
# input 4x16x25 and conv1's output 16x16x25, both uint8.
PEAK = {"float": (16 * 16 * 25 + 16 * 8 * 12) * 4, "int8": 4 * 16 * 25 + 16 * 16 * 25}
MACS = {"float": 836_416, "int8": 894_016}  # models/MODEL_CARD.md, Cost
# What the numbers say (models/MODEL_CARD.md, Target budget); nothing is tuned to fit.
FITS = {
    ("float", "nrf52832"): {"flash": True, "ram": False, "duty_cycle": False},
    ("int8", "nrf52832"): {"flash": True, "ram": True, "duty_cycle": True},
    ("float", "nrf5340-app"): {"flash": True, "ram": True, "duty_cycle": True},
    ("int8", "nrf5340-app"): {"flash": True, "ram": True, "duty_cycle": True},
    ("float", "apollo4-plus"): {"flash": True, "ram": True, "duty_cycle": True},
    ("int8", "apollo4-plus"): {"flash": True, "ram": True, "duty_cycle": True},
}


@pytest.mark.parametrize("target", SHIPPED_TARGETS)
@pytest.mark.parametrize("name", ["float", "int8"])
def test_shipped_models_on_shipped_targets(name: str, target: str) -> None:
    est = estimate_target(name, target)
    prof = TargetProfile.load(target)
    assert est.quantized is (name == "int8")
    assert est.weight_bytes == WEIGHTS[name]
    assert est.activations.peak_bytes == PEAK[name]
    assert est.macs_per_window == MACS[name]
    mpc = prof.macs_per_cycle_int8 if name == "int8" else prof.macs_per_cycle_float
    duty = MACS[name] * 5 / mpc / (prof.clock_mhz * 1e6)
    assert est.duty_cycle == pytest.approx(duty)
    ram = PEAK[name] + 900 + 4800 + prof.ram_allowance_kib * 1024
    assert est.ram_need_bytes == ram
    assert est.checks == FITS[(name, target)]


def test_shipped_targets_and_default() -> None:
    assert shipped_targets() == SHIPPED_TARGETS
    assert DEFAULT_TARGET in SHIPPED_TARGETS
    assert estimate_target("int8").target.name == DEFAULT_TARGET


@pytest.mark.parametrize("target", SHIPPED_TARGETS)
def test_every_shipped_figure_has_a_comment(target: str) -> None:
    # Each profile says where each figure comes from, or that it is an assumption.
    ref = resources.files("highfive.models").joinpath("targets", f"{target}.toml")
    comments = "\n".join(
        line for line in ref.read_text().splitlines() if line.lstrip().startswith("#")
    )
    for key in PROFILE_KEYS:
        if key not in ("description", "core"):
            assert re.search(rf"\b{key}\b", comments), f"{target}: no comment on {key}"
    assert TargetProfile.load(target).name == target


# -- bad profiles and models ---------------------------------------------------------
BAD_PROFILES = [
    pytest.param({"clok_mhz": 64}, r"unknown key 'clok_mhz'; allowed keys: description", id="typo"),
    pytest.param({"clock_mhz": None}, r"missing key 'clock_mhz'", id="missing"),
    pytest.param(
        {"clock_mhz": 0},
        r"clock_mhz = 0 is not allowed; .* > 0 and at most 100,000 \(MHz\)",
        id="clock-0",
    ),
    pytest.param({"clock_mhz": -64}, r"clock_mhz = -64 is not allowed", id="clock-negative"),
    pytest.param(
        {"flash_kib": -1},
        r"flash_kib = -1 is not allowed; .* > 0 and at most [\d,]+ \(KiB\)",
        id="flash",
    ),
    pytest.param(
        {"ram_kib": 0.5},
        r"ram_kib = 0.5 is not allowed; .* >= 1 and at most [\d,]+ \(KiB\)",
        id="ram-1k",
    ),
    pytest.param(
        {"macs_per_cycle_int8": 0}, r"macs_per_cycle_int8 = 0 is not .* >= 0.001", id="mpc8"
    ),
    # Finite, yet infinite in bytes or as a duty cycle: tracebacks in 'model target
    # --json' and in a gate, which then exited 1, the status of a failed gate.
    pytest.param(
        {"ram_kib": 1e308},
        r"ram_kib = 1e\+308 is not allowed; .* at most 1,099,511,627,776 \(KiB\)$",
        id="ram-huge",
    ),
    pytest.param({"flash_kib": 1e308}, r"flash_kib = 1e\+308 is not allowed", id="flash-huge"),
    pytest.param(
        {"macs_per_cycle_int8": 1e-320}, r"macs_per_cycle_int8 = 1e-320 is not", id="mpc-tiny"
    ),
    pytest.param(
        {"clock_mhz": 1e300},
        r"clock_mhz = 1e\+300 is not .* at most 100,000 \(MHz\)$",
        id="clock-huge",
    ),
    pytest.param(
        {"macs_per_cycle_float": -0.25}, r"macs_per_cycle_float = -0.25 is not", id="mpc-float"
    ),
    pytest.param({"clock_mhz": "64"}, r"clock_mhz = '64' is not allowed; must be a", id="text"),
    pytest.param({"clock_mhz": True}, r"clock_mhz = True is not allowed", id="bool"),
    pytest.param({"ram_allowance_kib": -2}, r"ram_allowance_kib = -2 is not .* >= 0", id="neg"),
    pytest.param(
        {"code_allowance_kib": 9}, r"code_allowance_kib = 9 .* at most flash_kib = 8", id="code"
    ),
    pytest.param(
        {"ram_allowance_kib": 17}, r"ram_allowance_kib = 17 .* at most ram_kib = 16", id="ram"
    ),
    pytest.param({"max_duty_cycle": 1.5}, r"max_duty_cycle = 1.5 .* in \(0, 1\]", id="duty>1"),
    pytest.param({"max_duty_cycle": 0}, r"max_duty_cycle = 0 is not allowed", id="duty-0"),
    pytest.param({"description": ""}, r"description = '' is not allowed; give a text", id="desc"),
    pytest.param({"core": 4}, r"core = 4 is not allowed; give a text", id="core"),
]


@pytest.mark.parametrize(("changes", "match"), BAD_PROFILES)
def test_bad_profile_is_one_line_naming_the_key(
    changes: dict[str, object], match: str, tmp_path: Path
) -> None:
    path = _write_profile(tmp_path, **changes)
    with pytest.raises(ConfigError, match=match) as err:
        TargetProfile.load(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"target profile {str(path)!r}: ")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        pytest.param("clock_mhz = inf\n", r"clock_mhz = inf is not allowed", id="inf"),
        pytest.param("clock_mhz = nan\n", r"clock_mhz = nan is not allowed", id="nan"),
        pytest.param("clock_mhz = [64]\n", r"clock_mhz = \[64\] is not allowed", id="list"),
        pytest.param("clock_mhz = \n", r"part.toml: not valid TOML", id="not-toml"),
    ],
)
def test_bad_profile_values_in_toml(text: str, match: str, tmp_path: Path) -> None:
    values = {k: v for k, v in TEST_PROFILE.items() if k != "clock_mhz"}
    path = tmp_path / "part.toml"
    path.write_text(_toml(values) + text)
    with pytest.raises(ConfigError, match=match):
        TargetProfile.load(path)


def test_unknown_target_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"target: 'm4' is neither a shipped profile "):
        TargetProfile.load("m4")
    with pytest.raises(ConfigError, match=r"target profile '.*nope.toml' does not exist"):
        TargetProfile.load(tmp_path / "nope.toml")


def _bare() -> onnx.ModelProto:
    """_small_cnn without highfive metadata."""
    proto = _small_cnn()
    del proto.metadata_props[:]
    return proto


def test_model_without_metadata_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "bare.onnx"
    onnx.save(_bare(), str(path))
    with pytest.raises(ModelError, match=r"metadata key 'highfive\.format'") as err:
        estimate_target(path)
    assert "\n" not in str(err.value)


def test_dynamic_shapes_are_a_model_error() -> None:
    proto = _small_cnn()
    proto.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "S"
    with pytest.raises(ModelError, match=r"cannot infer the shape of 'c1'"):
        activation_schedule(proto)


def test_unsorted_graph_is_a_model_error() -> None:
    proto = _small_cnn()
    nodes = list(proto.graph.node)
    nodes[0], nodes[1] = nodes[1], nodes[0]
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    with pytest.raises(ModelError, match=r"node 0 \(Relu ''\) reads 'c1' before any node"):
        activation_schedule(proto)


# -- command line ----------------------------------------------------------------------
def test_cli_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "target", "int8"]) == 0
    out = capsys.readouterr().out
    assert "target     nrf52832: " in out and "verdict    fits" in out
    assert re.search(r"activations\s+8,000 B\s+peak at node 11 \(Conv\)", out)
    assert main(["model", "target", "float", "--target", "nrf52832", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["fits"] == {"flash": True, "ram": False, "duty_cycle": False, "all": False}
    assert doc["weight_bytes"] == WEIGHTS["float"] and doc["target"]["name"] == "nrf52832"


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        pytest.param(["int8", "--target", "m4"], r"'m4' is neither a shipped profile", id="name"),
        pytest.param(["int8", "--target", "{bad}"], r"clock_mhz = 0 is not allowed", id="bad"),
        pytest.param(["{bare}", "--json"], r"metadata key 'highfive\.format'", id="no-meta"),
        pytest.param(["nope.onnx"], r"is neither a file nor a shipped model", id="no-model"),
    ],
)
def test_cli_errors_exit_2_with_nothing_written(
    argv: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "bare.onnx"
    onnx.save(_bare(), str(bare))
    bad = _write_profile(tmp_path, "bad", clock_mhz=0)
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.format(bad=bad, bare=bare) for a in argv]
    assert main(["model", "target", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("error: ") and re.search(match, line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_public_names() -> None:
    for name in ("TargetProfile", "TargetEstimate", "estimate_target", "activation_schedule"):
        assert name in highfive.models.__all__
    assert Model.load("int8").spec.hop_s == 0.2  # the hop the figures above assume


# -- the fits_target gate criterion and model compare ---------------------------------
@pytest.fixture(scope="module")
def shipped_run(
    tmp_path_factory: pytest.TempPathFactory, small_campaign: Callable[..., Path]
) -> Path:
    """The shipped float and int8 models on 64 cases."""
    return small_campaign(
        tmp_path_factory.mktemp("fit"), "fit", 2, 64, {"float": "float", "int8": "int8"}
    )


def _gate(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "gate.toml"
    path.write_text('[[criteria]]\nkind = "fits_target"\n' + body)
    return path


def test_fits_target_passes_and_fails(tmp_path: Path, shipped_run: Path) -> None:
    from highfive.coverage import evaluate_gate, load_gate

    register_gate_estimator()
    by_model = {
        c.model: c
        for c in evaluate_gate(
            shipped_run, load_gate(_gate(tmp_path, 'target = "nrf52832"\n'))
        ).criteria
    }
    # On the nRF52832 the int8 model fits; the float one's duty cycle does not
    # (see 'highfive model target float').
    assert by_model["int8"].passed and by_model["int8"].value == "fits"
    assert not by_model["float"].passed and "duty_cycle" in by_model["float"].value
    assert "on nrf52832: flash" in by_model["int8"].detail
    tight = _gate(tmp_path, 'target = "nrf52832"\nmodel = "int8"\nmax_ram_bytes = 1000\n')
    (only,) = evaluate_gate(shipped_run, load_gate(tight)).criteria
    assert not only.passed and only.value == "does not fit: ram"
    assert only.threshold == "fits nrf52832, RAM <= 1,000 B"


def test_fits_target_profile_is_read_beside_the_gate_file(
    tmp_path: Path,
    shipped_run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A relative profile path resolves against the gate file's folder, as `[gate] bins`
    does: the verdict does not depend on the working directory."""
    shipped = resources.files("highfive.models").joinpath("targets", "nrf52832.toml")
    gates = tmp_path / "g"
    gates.mkdir()
    (gates / "mine.toml").write_text(shipped.read_text())
    gate = gates / "gate.toml"
    gate.write_text('[[criteria]]\nkind = "fits_target"\ntarget = "mine.toml"\nmodel = "int8"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # with a mine.toml of its own, that must not be read
    (elsewhere / "mine.toml").write_text(
        shipped.read_text().replace("clock_mhz = 64", "clock_mhz = 1")
    )
    monkeypatch.chdir(elsewhere)
    assert main(["gate", str(shipped_run), "--gate", str(gate)]) == 0
    assert "PASS" in capsys.readouterr().out
    (gates / "mine.toml").unlink()
    assert main(["gate", str(shipped_run), "--gate", str(gate)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: criterion 'fits_target' (fits_target, target "), line
    assert str(gates / "mine.toml") in line


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('target = "nosuchchip"\n', "nosuchchip"),
        ('target = "nrf52832"\nflash = 3\n', "unknown key 'flash'"),
        ("", "missing key 'target'"),
        ('target = "nrf52832"\nmax_duty_cycle = 2\n', "must be a fraction in"),
    ],
)
def test_fits_target_bad_input(
    body: str, match: str, tmp_path: Path, shipped_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gate", str(shipped_run), "--gate", str(_gate(tmp_path, body))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and match in err and "\n" not in err


def test_model_compare(
    tmp_path: Path, shipped_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    out, plot = tmp_path / "c.parquet", tmp_path / "c.png"
    argv = ["model", "compare", str(shipped_run), "--traces", "5", "--json"]
    assert main([*argv, "--out", str(out), "--plot", str(plot)]) == 0
    doc = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    rows = {r["model"]: r for r in doc["models"]}
    assert doc["reference"] == "float" and doc["held_out"] == {"traces": 5, "seed": 1}
    assert rows["int8"]["twin"] == "float" and rows["float"]["twin"] == "int8"
    assert rows["int8"]["quantized"] and rows["int8"]["fits_target"]
    assert rows["float"]["cells_worse"] is None and rows["int8"]["cells_worse"] >= 0
    assert rows["float"]["cases"] == 64
    assert 0 <= rows["float"]["failure_rate"] <= rows["float"]["failure_upper"] <= 1
    assert pd.read_parquet(out)["model"].tolist() == ["float", "int8"]
    assert plot.stat().st_size > 0


def test_model_compare_bad_input(
    tmp_path: Path,
    shipped_run: Path,
    small_campaign: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = small_campaign(tmp_path, "o", 2, 8, {"f": "float"}, space={"motion": "high_five"})
    cases = [
        (["--reference", "nope"], "--reference: 'nope' is not a model of the runs"),
        ([str(other)], "is over another parameter space"),
        (["--out", str(tmp_path / "x.csv")], "does not end in .parquet"),
    ]
    for extra, match in cases:
        argv = ["model", "compare", str(shipped_run), *extra, "--traces", "5"]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and match in err and "\n" not in err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_model_compare_refuses_an_unwritable_plot_before_the_work(
    tmp_path: Path, shipped_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "table.parquet"
    argv = ["model", "compare", str(shipped_run), "--traces", "3", "--out", str(table)]
    assert main([*argv, "--plot", "/proc/cmp.png"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no table printed: refused before the work
    assert captured.err.startswith("error: --plot: cannot write '/proc/cmp.png': ")
    assert captured.err.count("\n") == 1 and ".tmp" not in captured.err
    assert list(tmp_path.iterdir()) == []


def test_model_compare_writes_both_outputs_or_neither(
    tmp_path: Path,
    shipped_run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import errno
    import os

    def disk_full(fig: object, path: object) -> None:
        Path(path).write_bytes(b"\x89PNG half")  # type: ignore[arg-type]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(highfive.reports, "save_figure", disk_full)
    table, plot = tmp_path / "table.parquet", tmp_path / "plots" / "cmp.png"
    argv = ["model", "compare", str(shipped_run), "--traces", "3"]
    assert main([*argv, "--out", str(table), "--plot", str(plot)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot write --plot {str(plot)!r}: No space left on device\n"
    assert list(tmp_path.iterdir()) == []  # no table, no temporary, no folder made


def test_model_compare_reference_that_is_not_an_onnx_model(
    tmp_path: Path, small_campaign: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = Path(__file__).parents[2] / "examples" / "counters" / "baseline.py"
    run = small_campaign(
        tmp_path, "py", 2, 8, {"float": "float", "baseline": f"{baseline}:PeakCounter"}
    )
    assert main(["model", "compare", str(run), "--reference", "baseline"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: --reference: 'baseline' is a python counter; compare takes ONNX models "
        "only; the runs' ONNX models: float\n"
    )


def test_model_compare_gives_models_of_same_named_runs_distinct_ids(
    tmp_path: Path, shipped_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(shipped_run, copy)  # the same campaign name ("fit") twice
    argv = ["model", "compare", str(shipped_run), str(copy), "--traces", "5", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    ids = [r["model"] for r in doc["models"]]
    assert len(set(ids)) == 4, ids
    assert ids == [f"{shipped_run}/float", f"{shipped_run}/int8", f"{copy}/float", f"{copy}/int8"]
    assert doc["reference"] == ids[0]
    twins = {r["model"]: r["twin"] for r in doc["models"]}
    assert twins[f"{copy}/int8"] == f"{copy}/float"  # twins stay within their run
    # A --reference that names a model of each run is refused, naming both.
    for ambiguous in ("int8", "fit/int8"):
        assert main([*argv, "--reference", ambiguous]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err
        assert f"--reference: {ambiguous!r} matches 2 models" in err
        assert f"{shipped_run}/int8, {copy}/int8" in err
    assert main([*argv, "--reference", f"{copy}/int8"]) == 0
    assert json.loads(capsys.readouterr().out)["reference"] == f"{copy}/int8"


def test_model_compare_refuses_a_run_given_twice(
    shipped_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["model", "compare", str(shipped_run), f"{shipped_run}/", "--traces", "5"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--model" not in err
    assert f"run {str(shipped_run)!r} is given twice" in err


@pytest.mark.parametrize(
    ("ways", "words"),
    [([1], "1-way"), ([1, 2], "1- and 2-way"), ([1, 2, 3], "1-, 2- and 3-way")],
)
def test_model_compare_header_names_the_ways_in_words(ways: list[int], words: str) -> None:
    from highfive.models._compare import CompareResult

    rows = [{"model": "float", "worse_cell_labels": []}]
    result = CompareResult(rows, "float", "nrf52832", {"traces": 5, "seed": 1}, ways)
    assert f"; worse cells: {words}, Holm-adjusted at 0.05" in result.lines()[0]


def test_model_compare_plot_starts_its_rates_at_zero() -> None:
    """Rates of 1% with upper bounds of 2.6% (300 cases): the axis starts at 0, so the
    points do not sit on the bottom frame and every bar reaches its upper bound."""
    from highfive.models._compare import CompareResult, _figure

    rows = [
        {"model": m, "bytes": b, "quantized": q, "failure_rate": 0.01, "failure_upper": 0.02564}
        for m, b, q in (("float", 63_175, False), ("int8", 20_196, True))
    ]
    fig = _figure(CompareResult(rows, "float", "nrf52832", {"traces": 5, "seed": 1}, [1]))
    (ax,) = fig.axes  # a plain Figure, not pyplot's: nothing to close
    low, high = ax.get_ylim()
    assert low == 0.0 and 2.564 < high < 3.5
    left, right = ax.get_xlim()
    assert left < 20_196 and right > 63_175  # no point on the side frames either


def test_a_moved_project_compares_and_fits_its_own_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # replay and shrink found a project's models where the project was moved or copied
    # with its runs; model compare and the fits_target criterion looked only where the
    # run was made, and refused a model that was beside them.
    from highfive.harness._model import shipped_file

    project = tmp_path / "project"
    project.mkdir()
    (project / "mine.onnx").write_bytes(shipped_file("int8").read_bytes())
    (project / "c.toml").write_text(
        'name = "x"\ncases = 8\nbatch_size = 8\nout = "runs"\nmodels = ["mine.onnx"]\n'
        "[execution]\nworkers = 0\n"
    )
    (project / "gate.toml").write_text('[[criteria]]\nkind = "fits_target"\ntarget = "nrf52832"\n')
    run_and_move(project, monkeypatch)
    capsys.readouterr()
    assert main(["gate", "runs/x", "--gate", "gate.toml"]) == 0, capsys.readouterr().err
    assert main(["model", "compare", "runs/x", "--traces", "3"]) == 0, capsys.readouterr().err


def test_a_run_that_records_no_model_source_is_damage_in_one_line(
    tmp_path: Path, shipped_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # compare and the fits_target gate ended in a KeyError traceback (exit 1).
    import shutil

    from highfive.harness import RunDir

    run = tmp_path / "run"
    shutil.copytree(shipped_run, run)
    record = RunDir(run).read_campaign()
    del record["models"][0]["source"]
    RunDir(run).write_campaign(record)
    gate = _gate(tmp_path, 'target = "nrf52832"\n')
    register_gate_estimator()
    for argv in (["gate", str(run), "--gate", str(gate)], ["model", "compare", str(run)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert (
            err.startswith(  # (and the gate files of an earlier gate there removed)
                "error: counter 'float': the run records no source to load it from "
                "(campaign.json damaged); run the campaign again"
            )
            and err.count("\n") == 1
        ), err
