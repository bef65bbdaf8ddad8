"""What a model's graph costs: MACs per operator kind, its precision, its parameters, and
whether it streams column by column. Each figure is counted by hand in a comment."""

from __future__ import annotations

import math
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from highfive.generators import InvalidParameter
from highfive.harness import ModelSpec
from highfive.harness.cli import main
from highfive.models import count_macs, count_parameters, estimate_target, streaming_macs
from highfive.models._target_profile import TargetProfile

PROFILE = TargetProfile.from_mapping(
    {
        "description": "test part",
        "core": "Cortex-M4F",
        "clock_mhz": 64,
        "flash_kib": 1024,
        "ram_kib": 1024,
        "code_allowance_kib": 4,
        "ram_allowance_kib": 2,
        "macs_per_cycle_int8": 0.5,
        "macs_per_cycle_float": 0.25,
        "max_duty_cycle": 0.25,
    },
    name="part",
    source="test",
)


def _weights(name: str, dims: list[int], dtype: int = TensorProto.FLOAT) -> onnx.TensorProto:
    n = math.prod(dims)
    if dtype == TensorProto.FLOAT:
        return helper.make_tensor(name, dtype, dims, [0.01 * (i % 7) for i in range(n)])
    return helper.make_tensor(name, dtype, dims, [i % 7 for i in range(n)])


def _graph(
    nodes: list[onnx.NodeProto],
    inits: list[onnx.TensorProto],
    inputs: list[tuple[str, int, list[object]]],
    output: tuple[str, int, list[object]],
    *,
    spec: ModelSpec | None = None,
    opsets: tuple[tuple[str, int], ...] = (("", 17),),
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "hand",
        [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_tensor_value_info(*output)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(*o) for o in opsets])
    model.ir_version = 8
    if spec is not None:
        helper.set_model_props(model, spec.to_metadata())
    return model


# -- column streaming -----------------------------------------------------------------
# time_step 2: hop 10 samples is 5 columns; input 3 x 16 x 37 columns.
STREAM_SPEC = ModelSpec(time_step=2)


def _stream_net(conv_in: str = "scalogram", first: list[onnx.NodeProto] = (), **conv: object):
    """[first nodes], Conv 3->4 (1x3 along time), Relu, GAP, Flatten, Gemm 4->2, Softmax."""
    nodes = [
        *first,
        helper.make_node("Conv", [conv_in, "w1"], ["c1"], **conv),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w2"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    channels = 5 if first and first[0].op_type == "Pad" and "channels" in first[0].name else 3
    inits = [_weights("w1", [4, channels, 1, 3]), _weights("w2", [2, 4])]
    return nodes, inits


def _stream_model(nodes, inits) -> onnx.ModelProto:
    x = ("scalogram", TensorProto.FLOAT, ["B", 3, 16, 37])
    y = ("probabilities", TensorProto.FLOAT, ["B", 2])
    return _graph(nodes, inits, [x], y, spec=STREAM_SPEC, opsets=(("", 18),))


def _pad(pads: list[int], name: str = "pad", *, as_constant: bool = False):
    pads_t = helper.make_tensor("pads", TensorProto.INT64, [8], pads)
    if as_constant:
        return [
            helper.make_node("Constant", [], ["pads"], value=pads_t),
            helper.make_node("Pad", ["scalogram", "pads"], ["xp"], name=name),
        ], []
    return [helper.make_node("Pad", ["scalogram", "pads"], ["xp"], name=name)], [pads_t]


def test_a_valid_network_streams() -> None:
    proto = _stream_model(*_stream_net())
    cost = streaming_macs(proto, STREAM_SPEC)
    # Conv: 4 x 16 x 35 outputs x 9 = 20,160 MACs per window over 35 columns: 576 a
    # column, 25 columns/s; the Gemm's 8 MACs at 5 windows/s.
    assert cost is not None
    assert cost.macs_per_column == pytest.approx(576)
    assert cost.macs_per_s == pytest.approx(576 * 25 + 8 * 5)


def test_a_pad_of_channels_streams() -> None:
    first, inits = _pad([0, 1, 0, 0, 0, 1, 0, 0], name="channels")
    nodes, more = _stream_net("xp", first)
    assert streaming_macs(_stream_model(nodes, inits + more), STREAM_SPEC) is not None


@pytest.mark.parametrize(
    ("how", "conv", "pads", "as_constant"),
    [
        ("explicit pads", {"pads": [0, 1, 0, 1]}, None, False),
        ("auto_pad SAME_UPPER", {"auto_pad": "SAME_UPPER"}, None, False),
        ("auto_pad SAME_LOWER", {"auto_pad": "SAME_LOWER"}, None, False),
        ("a Pad along time", {}, [0, 0, 0, 1, 0, 0, 0, 1], False),
        ("a Pad along time, pads a Constant", {}, [0, 0, 0, 1, 0, 0, 0, 1], True),
        ("a Pad at the end of time only", {}, [0, 0, 0, 0, 0, 0, 0, 2], False),
    ],
)
def test_time_padding_does_not_stream(
    how: str, conv: dict[str, object], pads: list[int] | None, as_constant: bool, tmp_path: Path
) -> None:
    if pads is None:
        nodes, inits = _stream_net(**conv)
    else:
        first, inits = _pad(pads, as_constant=as_constant)
        nodes, more = _stream_net("xp", first)
        inits += more
    proto = _stream_model(nodes, inits)
    assert streaming_macs(proto, STREAM_SPEC) is None, how
    path = tmp_path / "m.onnx"
    onnx.save(proto, str(path))
    est = estimate_target(path, PROFILE)
    assert est.stream is None  # every window in full
    assert est.macs_per_s == pytest.approx(est.macs_per_window * 5)


# -- operators and their MACs ---------------------------------------------------------
def test_integer_and_transposed_convolutions_are_costed() -> None:
    # ConvInteger 3->2 1x1 on 16 x 25: 800 outputs x 3 = 2,400 MACs, 6 weights.
    # ConvTranspose 2->4 1x1: 2 x 16 x 25 inputs x (4 x 1 x 1) = 3,200 MACs, 8 weights.
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
        helper.make_node("ConvInteger", ["xq", "w", "xz"], ["ci"]),
        helper.make_node("Cast", ["ci"], ["cf"], to=TensorProto.FLOAT),
        helper.make_node("ConvTranspose", ["cf", "wt"], ["y"]),
    ]
    inits = [_weights("w", [2, 3, 1, 1], TensorProto.UINT8), _weights("wt", [2, 4, 1, 1])]
    proto = _graph(
        nodes,
        inits,
        [("x", TensorProto.FLOAT, ["B", 3, 16, 25])],
        ("y", TensorProto.FLOAT, ["B", 4, 16, 25]),
    )
    assert count_macs(proto) == 2400 + 3200
    assert count_parameters(proto) == 6 + 8


def test_matmul_kinds_einsum_and_recurrent_layers_are_costed() -> None:
    # At batch 1: MatMulInteger (1x3)(3x4) and QLinearMatMul (1x3)(3x4): 12 MACs each, b8
    # sharing 12 weights; Einsum ij,jk->ik: 1 x 3 x 4 = 12; LSTM hidden 3 over 5 steps of
    # 4 inputs (the batch-first input transposed): 5 x (4*3 x 4 + 4*3 x 3) = 420 MACs,
    # 48 + 36 weights.
    u8 = TensorProto.UINT8
    nodes = [
        helper.make_node("MatMulInteger", ["a8", "b8"], ["mi"]),
        helper.make_node("QLinearMatMul", ["a8", "s", "z", "b8", "s", "z", "s", "z"], ["qm"]),
        helper.make_node("Einsum", ["af", "bf"], ["e"], equation="ij,jk->ik"),
        helper.make_node("Transpose", ["bseq"], ["seq"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["seq", "W", "R"], ["h"], hidden_size=3),
        helper.make_node("Cast", ["mi"], ["mif"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["qm"], ["qmf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["mif", "qmf"], ["sum1"]),
        helper.make_node("Add", ["sum1", "e"], ["y"]),
    ]
    inits = [
        _weights("b8", [3, 4], u8),
        _weights("bf", [3, 4]),
        _weights("W", [1, 12, 4]),
        _weights("R", [1, 12, 3]),
        helper.make_tensor("s", TensorProto.FLOAT, [], [0.1]),
        helper.make_tensor("z", u8, [], [0]),
    ]
    proto = _graph(
        nodes,
        inits,
        [
            ("a8", u8, ["B", 3]),
            ("af", TensorProto.FLOAT, ["B", 3]),
            ("bseq", TensorProto.FLOAT, ["B", 5, 4]),
        ],
        ("y", TensorProto.FLOAT, ["B", 4]),
    )
    proto.graph.output.append(helper.make_tensor_value_info("h", TensorProto.FLOAT, None))
    assert count_macs(proto) == 12 + 12 + 12 + 420
    assert count_parameters(proto) == 12 + 12 + 48 + 36  # b8 shared: counted once


@pytest.mark.parametrize(
    ("node", "match"),
    [
        (helper.make_node("Det", ["x"], ["y"]), r"cannot cost op 'Det' \(node 'mystery'\)"),
        (
            helper.make_node("Einsum", ["x", "x", "x"], ["y"], equation="ij,jk,kl->il"),
            r"cannot cost op 'Einsum'.*equation",
        ),
    ],
)
def test_an_op_that_cannot_be_costed_is_refused(node: onnx.NodeProto, match: str) -> None:
    node.name = "mystery"
    proto = _graph([node], [], [("x", TensorProto.FLOAT, [2, 2])], ("y", TensorProto.FLOAT, None))
    with pytest.raises(InvalidParameter, match=match):
        count_macs(proto)


# -- precision and parameters of the shipped-like network -----------------------------
def _small(qdq_input: bool = False, constants: bool = False) -> onnx.ModelProto:
    """Conv 3->4 3x3 (pads 1), Relu, GAP, Flatten, Gemm 4->2, Softmax; optionally a
    Quantize/Dequantize pair at the input, or weights as Constant nodes."""
    first = "scalogram"
    nodes = []
    inits = [_weights("w1", [4, 3, 3, 3]), _weights("b1", [4]), _weights("w2", [2, 4])]
    if qdq_input:
        nodes += [
            helper.make_node("QuantizeLinear", ["scalogram", "s", "z"], ["xq"]),
            helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xf"]),
        ]
        inits += [
            helper.make_tensor("s", TensorProto.FLOAT, [], [0.05]),
            helper.make_tensor("z", TensorProto.UINT8, [], [128]),
        ]
        first = "xf"
    nodes += [
        helper.make_node("Conv", [first, "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w2"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    if constants:
        nodes = [helper.make_node("Constant", [], [t.name], value=t) for t in inits] + nodes
        inits = []
    return _graph(
        nodes,
        inits,
        [("scalogram", TensorProto.FLOAT, ["B", 3, 16, 25])],
        ("probabilities", TensorProto.FLOAT, ["B", 2]),
        spec=ModelSpec(),
    )


# Conv 1,600 outputs x 27 + Gemm 2 x 4; 108 + 4 + 8 parameters.
SMALL_MACS = 1600 * 27 + 8


def test_weights_in_constant_nodes_are_parameters() -> None:
    assert count_parameters(_small()) == count_parameters(_small(constants=True)) == 120


def test_a_quantize_pair_at_the_input_leaves_a_float_model_float(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_small(qdq_input=True), str(path))
    est = estimate_target(path, PROFILE)
    assert count_macs(_small(qdq_input=True)) == SMALL_MACS
    assert est.kernels == "float" and not est.quantized
    assert est.macs_per_cycle == 0.25
    assert est.cycles_per_s == pytest.approx(SMALL_MACS * 5 / 0.25)


def _mixed() -> onnx.ModelProto:
    """:func:`_small` with its Conv on dequantized int8 data and weights (int8); the
    Gemm head stays float."""
    proto = _small(qdq_input=True)
    proto.graph.initializer.append(_weights("w1q", [4, 3, 3, 3], TensorProto.INT8))
    proto.graph.node.insert(0, helper.make_node("DequantizeLinear", ["w1q", "s", "z8"], ["w1dq"]))
    proto.graph.initializer.append(helper.make_tensor("z8", TensorProto.INT8, [], [0]))
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    conv.input[1] = "w1dq"
    return proto


def test_each_node_is_costed_at_its_own_precision(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_mixed(), str(path))
    est = estimate_target(path, PROFILE)
    int8, flt = 1600 * 27, 8
    assert est.kernels == "mixed" and est.quantized
    assert est.int8_share == pytest.approx(int8 / (int8 + flt))
    assert est.cycles_per_s == pytest.approx(5 * (int8 / 0.5 + flt / 0.25))
    assert est.to_dict()["kernels"] == "mixed"


@pytest.mark.parametrize(
    ("make", "line"),
    [
        pytest.param(
            lambda: _small(qdq_input=True),
            "int8        no (QDQ nodes, but no multiply-accumulate runs in int8)",
            id="float-with-a-pair",  # was "yes (QDQ)"
        ),
        pytest.param(
            _mixed,
            f"int8        partly (QDQ: {1600 * 27:,} of the {SMALL_MACS:,} MACs per window run "
            "in int8)",
            id="mixed",  # was "yes (QDQ)"
        ),
        pytest.param(_small, "int8        no", id="float"),
    ],
)
def test_model_info_says_how_many_macs_run_in_int8(
    make: object, line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(make(), str(path))  # type: ignore[operator]
    assert main(["model", "info", str(path)]) == 0
    assert line in capsys.readouterr().out.splitlines()
