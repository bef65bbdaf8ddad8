"""What a model file must be to be loaded, and what the model commands may write: the
input's type and batch, probabilities out, shipped files kept, train.* metadata read
with checks."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from highfive.generators import InvalidParameter, ModelError
from highfive.harness import Model, ModelSpec
from highfive.harness._model import shipped_file
from highfive.harness.cli import main


def _net(
    *,
    in_type: int = TensorProto.FLOAT,
    batch: object = "N",
    softmax: bool = True,
    metadata: dict[str, str] | None = None,
) -> bytes:
    """Cast to float, mean over each window, two logits (0, mean): softmax optional."""
    spec = ModelSpec()
    x = helper.make_tensor_value_info("scalogram", in_type, [batch, *spec.input_shape])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, 2])
    nodes = [
        helper.make_node("Cast", ["scalogram"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["xf"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("Slice", ["m", "zero", "two", "one"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)
        if softmax
        else helper.make_node("Identity", ["logits"], ["probabilities"]),
    ]
    inits = [
        helper.make_tensor(n, TensorProto.INT64, [1], [v])
        for n, v in (("zero", 0), ("two", 2), ("one", 1))
    ]
    graph = helper.make_graph(nodes, "net", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, spec.to_metadata() if metadata is None else metadata)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _campaign(tmp_path: Path, model: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'name = "c"\nseed = 3\ncases = 2\nbatch_size = 2\n'
        f'models = [{{ counter = "{model.as_posix()}", id = "m" }}]\n'
        "[execution]\nworkers = 0\n"
    )
    return path


def test_a_good_net_loads() -> None:
    Model.from_bytes(_net(), name="m.onnx")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_type": TensorProto.DOUBLE}, r"'scalogram' is tensor\(double\); it must be float32"),
        ({"in_type": TensorProto.FLOAT16}, r"input 'scalogram' is tensor\(float16\); it must be"),
        ({"in_type": TensorProto.INT32}, r"input 'scalogram' is tensor\(int32\)"),
        ({"batch": 1}, r"input 'scalogram' has a fixed batch of 1 .*must be dynamic"),
        ({"batch": 4}, r"fixed batch of 4"),
        ({"softmax": False}, r"not class probabilities on a probe batch.*Softmax"),
    ],
)  # fmt: skip
def test_bad_input_or_output_is_one_line_at_load(
    kwargs: dict[str, object], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ModelError, match=match):
        Model.from_bytes(_net(**kwargs), name="m.onnx")
    path = tmp_path / "m.onnx"
    path.write_bytes(_net(**kwargs))
    assert main(["model", "info", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: model {str(path)!r}: ") and re.search(match, line), line
    campaign = _campaign(tmp_path, path)
    assert main(["run", str(campaign), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err) and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists()  # nothing half-written


# -- the shipped files ----------------------------------------------------------------
def test_out_may_not_be_a_shipped_model_file(tmp_path: Path) -> None:
    from highfive.models._cli import _check_out

    shipped = Path(str(shipped_file("int8")))
    link = tmp_path / "link.onnx"
    link.symlink_to(shipped)
    hard = tmp_path / "hard.onnx"
    try:
        hard.hardlink_to(shipped)
    except OSError:  # another file system
        hard = link
    for out in (shipped, link, hard):
        with pytest.raises(InvalidParameter, match=r"--out: .* is the shipped model file"):
            _check_out(out, force=True)  # not even with --force
    _check_out(tmp_path / "mine.onnx", force=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["model", "quantize", "float", "--calibration-traces", "1"],
        ["model", "train", "--traces", "1", "--epochs", "1"],
        ["model", "prune", "float", "--epochs", "0"],
    ],
)
def test_model_commands_replace_an_existing_model_only_with_force(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --out silently replaced a model, one a finished run had used among them: that
    # run could no longer be replayed ("restore the counter the run was made with").
    out = tmp_path / "mine.onnx"
    out.write_bytes(b"a model a run used")
    assert main([*argv, "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: --out: {str(out)!r} exists (a run that used that model could no longer be "
        "replayed); give another file name, or --force to replace it"
    )
    assert out.read_bytes() == b"a model a run used"


@pytest.mark.parametrize(
    "argv",
    [
        ["model", "quantize", "float", "--calibration-traces", "1"],
        ["model", "train", "--traces", "1", "--epochs", "1"],
        ["model", "prune", "float", "--epochs", "0"],
    ],
)
def test_model_commands_refuse_to_overwrite_a_shipped_model(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A stand-in for the installed file, so a failure of the check writes no real one.
    stand_in = tmp_path / "highfive-cnn-int8.onnx"
    stand_in.write_bytes(b"shipped")
    monkeypatch.setattr(
        "highfive.models._cli._shipped_model_files", lambda: [tmp_path / "x.onnx", stand_in]
    )
    assert main([*argv, "--out", str(stand_in)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "is the shipped model file highfive-cnn-int8.onnx" in line
    assert stand_in.read_bytes() == b"shipped"


# -- train.* metadata -------------------------------------------------------------------
def _with_train(tmp_path: Path, **train: str) -> Path:
    meta = {**ModelSpec().to_metadata(), **{f"train.{k}": v for k, v in train.items()}}
    path = tmp_path / "m.onnx"
    path.write_bytes(_net(metadata=meta))
    return path


BAD_TRAIN = [
    ({"failures": "not json"}, r"train\.failures = 'not json' is not a JSON list"),
    ({"failures": '[{"run":"x","seed":"eleven"}]'}, r"train\.failures = .*eleven"),
    ({"failures": '[{"run":"x","seed":1,"cases_z":"zz"}]'}, r"train\.failures = .*zz"),
    # Three ids recorded as five (quantize carried it into the int8 file), and a number
    # no run's record holds (a small text unpacking to gigabytes was read whole).
    (
        {"failures": '[{"run":"x","seed":1,"n":5,"cases_z":"eNpjYmEBAAAVAAs="}]'},
        r"train\.failures = .*\"n\":5",
    ),
    ({"failures": '[{"run":"x","seed":1,"n":1000001}]'}, r"train\.failures = .*up to 1,000,000"),
    ({"failures": '{"run":"x"}'}, r"train\.failures = .* is not a JSON list"),
    ({"init_failures": "[1]"}, r"train\.init_failures = '\[1\]'"),
    ({"seed": "1.5"}, r"train\.seed = '1\.5' is not an integer >= 0"),
    ({"n_traces": "abc"}, r"train\.n_traces = 'abc' is not an integer >= 0"),
    ({"widths": "16 x 32"}, r"train\.widths = '16 x 32' is not three channel counts"),
    ({"arch": "bogus"}, r"train\.arch = 'bogus' is not one of reference, small, streaming"),
]


@pytest.mark.parametrize(("train", "match"), BAD_TRAIN)
def test_bad_train_metadata_is_one_line_naming_key_and_value(
    train: dict[str, str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from highfive.models._failures import check_train_metadata

    with pytest.raises(InvalidParameter, match=match):
        check_train_metadata({f"train.{k}": v for k, v in train.items()}, "model 'm'")
    path = _with_train(tmp_path, **train)
    out = tmp_path / "out.onnx"
    commands = [
        ["model", "quantize", str(path), "--calibration-traces", "1"],
        ["model", "prune", str(path), "--epochs", "0"],
        ["model", "train", "--init", str(path), "--traces", "1", "--epochs", "1"],
    ]
    for argv in commands:
        assert main([*argv, "--out", str(out)]) == 2, argv
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("error: ") and str(path) in line and re.search(match, line), line
        assert not out.exists()


def test_run_skips_a_bad_corpus_record_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _with_train(tmp_path, failures="not json")
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown as the command shows it, not raised
        assert main(["run", str(_campaign(tmp_path, path)), "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert re.search(r"warning: model 'm': metadata train\.failures = 'not json'.*cannot tell", err)
    assert "Traceback" not in err


# -- argument bounds --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["train", "--seed", str(2**63)], r"--seed: 9223372036854775808 must be <= 9,223,"),
        (["train", "--seed", str(2**64)], r"--seed: 18446744073709551616 must be <="),
        (["prune", "float", "--seed", str(2**63)], r"--seed: .* must be <="),
        (["quantize", "float", "--seed", str(2**64)], r"--seed: .* must be <="),
        (["train", "--oversample", "101"], r"--oversample: 101 must be <= 100"),
        (["train", "--oversample", "1000000000"], r"--oversample: 1000000000 must be <= 100"),
        (["train", "--traces", "100000000000"], r"--traces: 100000000000 must be <= 1,000,000"),
        (["train", "--traces", "1", "--threads", str(10**11)], r"--threads: .* must be <= 256"),
        (["prune", "float", "--traces", "1000001"], r"--traces: 1000001 must be <= 1,000,000"),
        (["prune", "float", "--epochs", "0", "--threads", "257"], r"--threads: 257 must be <="),
        (["quantize", "float", "--calibration-traces", str(10**11)], r"--calibration-traces: "),
        (["compare", "nothere", "--traces", str(10**11)], r"--traces: .* must be <= 1,000,000"),
    ],
)
def test_seed_and_oversample_are_bounded(
    argv: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.onnx"
    with pytest.raises(SystemExit) as exit_:
        main(["model", *argv, "--out", str(out)])
    assert exit_.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert re.search(match, line), line
    assert not out.exists()


def test_oversample_without_failures_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It was accepted and did nothing: no failing trace to repeat, nothing recorded.
    out = tmp_path / "x.onnx"
    argv = ["model", "train", "--oversample", "3", "--traces", "1", "--out", str(out)]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "error: --oversample: 3 repeats failing traces, and no --add-failures run gives "
        "any; add a run's failures, or drop --oversample\n"
    )
    assert not out.exists()


def test_library_train_bounds_seed_and_oversample(tmp_path: Path) -> None:
    from highfive.models._train import train

    with pytest.raises(InvalidParameter, match=r"seed: got 9223372036854775808; must be an"):
        train(seed=2**63, out=tmp_path / "x.onnx")
    with pytest.raises(InvalidParameter, match=r"oversample: got 101; must be an integer <= 100"):
        train(oversample=101, out=tmp_path / "x.onnx")
    with pytest.raises(
        InvalidParameter, match=r"n_traces: got 100000000000; must be an integer <="
    ):
        train(n_traces=10**11, out=tmp_path / "x.onnx")
    with pytest.raises(InvalidParameter, match=r"threads: got 100000000000; must be an integer <="):
        train(n_traces=1, threads=10**11, out=tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("n_traces", ["0", "100000000000"])
def test_prune_refuses_a_trace_count_from_metadata_out_of_range(
    n_traces: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """train.n_traces becomes prune's default --traces: checked as --traces is, by name."""
    path = _with_train(tmp_path, n_traces=n_traces)
    out = tmp_path / "out.onnx"
    assert main(["model", "prune", str(path), "--epochs", "0", "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: model '{path}': metadata train.n_traces = '{n_traces}' is not a trace count "
        "from 1 to 1,000,000 (the default of --traces); give --traces"
    )
    assert not out.exists()


def test_prune_falls_back_to_stated_defaults_for_a_model_without_training_metadata() -> None:
    from highfive.models._defaults import FALLBACK_SEED, FALLBACK_TRACES
    from highfive.models._prune import fine_tuning_data

    fell = fine_tuning_data({}, "model 'm'", None, None)
    assert fell == (FALLBACK_TRACES, FALLBACK_SEED, ["train.n_traces", "train.seed"])
    assert fine_tuning_data({"train.n_traces": "50", "train.seed": "4"}, "m", None, 2) == (
        50,
        2,
        [],
    )


def test_the_seeds_whose_traces_trained_a_model() -> None:
    from highfive.models._failures import trace_seeds

    meta = {"train.seed": "3", "train.init_seed": "0", "train.prune_traces": "6000 (seed 5)"}
    assert trace_seeds(meta) == {"train.seed": 3, "train.init_seed": 0, "train.prune_traces": 5}
    assert trace_seeds({"train.failures": "[]"}) == {}


def test_info_shows_the_widths_of_the_graph_and_flags_stale_metadata() -> None:
    """The shipped pruned variant's metadata predates the pruned widths: info says so."""
    from highfive.models._cli import format_profile
    from highfive.models._profile import profile

    variants = Path(str(shipped_file("float"))).parent / "variants"
    for name, want in [
        ("float", "widths      16 32 32 (output channels of the first three convolutions)"),
        (
            str(variants / "highfive-pruned-int8.onnx"),
            "widths      11 22 22 (output channels of the first three convolutions); its "
            "metadata's train.widths=16 32 32 is not this network's",
        ),
    ]:
        lines = format_profile(profile(name, repeats=1))
        assert want in lines, lines


def test_info_shows_a_failure_corpus_by_the_sha256_of_its_cases() -> None:
    """The shipped float model's trained line was 3,503 characters, mostly its corpus's
    compressed case ids; it shows their SHA-256, as the int8 twin keeps them."""
    from highfive.models._cli import format_profile
    from highfive.models._profile import profile

    (trained,) = [
        line for line in format_profile(profile("float", repeats=1)) if line.startswith("trained")
    ]
    assert "cases_z" not in trained and len(trained) < 600, trained
    assert re.search(r'"n":2594,"cases_sha256":"[0-9a-f]{64}"', trained), trained


def test_a_seed_in_metadata_beyond_the_bound_is_refused() -> None:
    from highfive.models._failures import check_train_metadata

    with pytest.raises(InvalidParameter, match=r"train\.seed = '9223372036854775808'"):
        check_train_metadata({"train.seed": str(2**63)}, "model 'm'")


def test_compare_json_writes_null_for_a_figure_that_is_not_a_number() -> None:
    import json
    import math

    from highfive.models import CompareResult

    row = {"model": "m", "window_balanced_accuracy": math.nan, "macs_per_s": math.inf, "n": 3}
    result = CompareResult(
        rows=[row], reference="m", target="nrf52832", held_out={"traces": 1}, ways=[1]
    )
    doc = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert doc["models"] == [
        {"model": "m", "window_balanced_accuracy": None, "macs_per_s": None, "n": 3}
    ]


# -- pruning provenance -----------------------------------------------------------------
def test_pruned_metadata_records_the_real_widths_and_survives_fine_tuning() -> None:
    from highfive.models._prune import pruned_metadata
    from highfive.models._train import _init_metadata

    meta = {"train.widths": "16 32 32", "train.seed": "0", "highfive.format": "x"}
    pruned = pruned_metadata(
        meta,
        [(16, 11), (32, 22), (32, 22)],
        sparsity=0.3,
        source="abc",
        epochs=3,
        traces="6000 (seed 0)",
    )
    assert pruned["train.widths"] == "11 22 22"
    assert pruned["train.prune_widths_from"] == "16 32 32"
    assert pruned["train.prune_channels"] == "16->11 32->22 32->22"
    assert "highfive.format" not in pruned
    spec_meta = {**ModelSpec().to_metadata(), **pruned}
    tuned = _init_metadata(Model.from_bytes(_net(metadata=spec_meta), name="p.onnx"), "11 22 22")
    assert tuned["train.widths"] == tuned["train.init_widths"] == "11 22 22"
    for key in ("sparsity", "channels", "from", "epochs", "traces", "widths_from"):
        assert tuned[f"train.prune_{key}"] == pruned[f"train.prune_{key}"], key


def test_info_prints_a_foreign_model_s_metadata_and_name_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model file is anyone's: its metadata reached the terminal raw, a window title
    and clear-screen sequence included, as did its file name."""
    proto = onnx.load(str(shipped_file("float")))
    for prop in proto.metadata_props:
        if prop.key == "train.space":
            prop.value = "default\x1b]0;pwned\x07\x1b[2J"
    path = tmp_path / "q\x1b[2J.onnx"
    onnx.save(proto, str(path))
    capsys.readouterr()
    assert main(["model", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert r"default\x1b]0;pwned\x07\x1b[2J" in out and r"q\x1b[2J" in out


def test_metadata_thresholds_are_named_as_metadata_keys(tmp_path: Path) -> None:
    # highfive.on lowered below highfive.off was refused as "CounterConfig.off: got
    # 0.4; ...", a class the model file does not name.
    meta = {**ModelSpec().to_metadata(), "highfive.on": "0.3"}
    path = tmp_path / "m.onnx"
    path.write_bytes(_net(metadata=meta))
    with pytest.raises(ModelError) as err:
        Model.load(path)
    assert f"{str(path)!r} metadata: off: got 0.4; must be in [0, on] = [0, 0.3]" in str(
        err.value
    )  # the spec's fields, as every metadata check names them (highfive.off in the file)
    assert "CounterConfig" not in str(err.value)
