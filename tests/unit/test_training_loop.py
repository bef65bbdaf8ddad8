"""Retraining from failure corpora, model variants and pruning (needs PyTorch).

Skipped cleanly when PyTorch is absent. Every training here is tiny (tens of traces,
one epoch): the tests check the machinery (data, metadata, shapes, sizes, refusals),
not accuracy.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import onnx  # noqa: E402

from highfive.generators import InvalidParameter, ModelError, RunDirError  # noqa: E402
from highfive.harness import Model, RunDir  # noqa: E402
from highfive.harness.cli import main  # noqa: E402
from highfive.models import (  # noqa: E402
    count_macs,
    decode_case_ids,
    load_corpora,
    metadata_of,
    network_from_onnx,
    prune_model,
    quantize,
    streaming_macs,
    train,
    training_cases,
)

pytestmark = [
    pytest.mark.train,
    pytest.mark.filterwarnings(
        "ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning"),
]

TINY = {"n_traces": 20, "epochs": 1, "stats_traces": 10}
CORPUS_SEED = 11
FRESH_SEED = 12


@pytest.fixture(scope="module")
def corpus_run(
    tmp_path_factory: pytest.TempPathFactory, small_campaign: Callable[..., Path]
) -> Path:
    """The shipped float model on 192 cases of seed 11 (a few fail)."""
    root = tmp_path_factory.mktemp("corpus")
    return small_campaign(root, "before", CORPUS_SEED, 192, {"float": "float"})


@pytest.fixture(scope="module")
def retrained(tmp_path_factory: pytest.TempPathFactory, corpus_run: Path) -> Path:
    out = tmp_path_factory.mktemp("retrained") / "retrained.onnx"
    return train(seed=3, out=out, add_failures=[corpus_run], oversample=2, **TINY)


def test_failures_are_recorded_in_the_metadata(corpus_run: Path, retrained: Path) -> None:
    failing = sorted({int(c) for c in RunDir(corpus_run).failures()["case_id"].tolist()})
    assert failing, "seed 11 gives failing cases for the shipped model"
    meta = metadata_of(retrained.read_bytes())
    (record,) = json.loads(meta["train.failures"])
    assert record["run"] == "before" and record["seed"] == CORPUS_SEED
    assert decode_case_ids(record["cases_z"], record["n"]) == failing
    assert meta["train.failure_cases"] == str(len(failing))
    assert meta["train.failures_oversample"] == "2"
    keys = training_cases(meta)
    assert {(CORPUS_SEED, c) for c in failing} <= keys
    assert {(3, i) for i in range(TINY["n_traces"])} <= keys
    # The failing windows (x2) joined the generated ones.
    assert int(meta["train.n_windows"]) > 0


def test_fresh_campaign_judges_no_training_case(
    tmp_path: Path, retrained: Path, small_campaign: Callable[..., Path]
) -> None:
    fresh = small_campaign(tmp_path, "after", FRESH_SEED, 64, {"new": str(retrained)})
    judged = {(FRESH_SEED, int(c)) for c in RunDir(fresh).results(columns=["case_id"])["case_id"]}
    trained_on = training_cases(metadata_of(retrained.read_bytes()))
    assert len(judged) == 64
    assert not judged & trained_on
    # The same check catches a campaign on the corpus's seed.
    again = {(CORPUS_SEED, c) for _, c in judged}
    assert again & trained_on


def test_run_warns_on_a_training_seed(
    tmp_path: Path, retrained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def config(seed: int, name: str) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(
            f'name = "{name}"\nseed = {seed}\ncases = 8\nbatch_size = 8\n'
            f'models = [{{ counter = "{retrained}", id = "new" }}]\n[execution]\nworkers = 0\n'
        )
        return path

    said = f"warning: campaign seed {CORPUS_SEED}: model 'new' was trained on cases of this"
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown as the command shows it, not raised
        assert main(["run", str(config(CORPUS_SEED, "same")), "--out", str(tmp_path)]) == 0
    assert said in capsys.readouterr().err
    # Another seed: no warning (warnings are errors in the test suite).
    assert main(["run", str(config(FRESH_SEED, "other")), "--out", str(tmp_path)]) == 0


def test_fine_tune_from_the_shipped_model(tmp_path: Path, corpus_run: Path) -> None:
    out = train(seed=0, out=tmp_path / "ft.onnx", init="float", add_failures=[corpus_run], **TINY)
    meta = metadata_of(out.read_bytes())
    shipped = Model.load("float")
    assert Model.load(out).spec == shipped.spec  # the preprocessing is the shipped one
    assert meta["train.init_seed"] == "0" and meta["train.init_n_traces"] == "6000"
    assert meta["train.lr"] == "0.001" and shipped.sha256 in meta["train.init"]
    with pytest.raises(InvalidParameter, match="widths: comes from the --init model"):
        train(out=tmp_path / "x.onnx", init="float", widths=(8, 8, 8), **TINY)


def test_init_refuses_a_quantized_model_before_generating_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.onnx"
    argv = ["model", "train", "--init", "int8", "--traces", "5", "--epochs", "1", "--out", str(out)]
    assert main(argv) == 2
    said = capsys.readouterr()
    assert said.out == ""  # no "data: ..." line: nothing was generated
    assert said.err == "error: model: 'int8' is quantized; pass its float32 model\n"
    assert not out.exists()


def _lying(tmp_path: Path, **train: str) -> Path:
    """The shipped float model (reference design, widths 16 32 32) with ``train.*``
    metadata that says otherwise."""
    model = onnx.load_from_string(Model.load("float").data)
    props = {p.key: p.value for p in model.metadata_props}
    props.update({f"train.{k}": v for k, v in train.items()})
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    path = tmp_path / "lie.onnx"
    onnx.save(model, str(path))
    return path


def test_widths_and_arch_come_from_the_network_not_the_metadata(tmp_path: Path) -> None:
    lie = _lying(tmp_path, widths="8 8 8", arch="small")
    tuned = metadata_of(train(seed=2, out=tmp_path / "t.onnx", init=lie, **TINY).read_bytes())
    assert tuned["train.widths"] == tuned["train.init_widths"] == "16 32 32"
    pruned = metadata_of(prune_model(lie, tmp_path / "p.onnx", sparsity=0.5, epochs=0).read_bytes())
    assert pruned["train.prune_widths_from"] == "16 32 32" and pruned["train.widths"] == "8 16 16"
    # 'small' is the reference design, narrower: the network cannot tell; 'streaming' it can.
    assert tuned["train.arch"] == pruned["train.arch"] == "small"
    streaming = _lying(tmp_path, arch="streaming")
    match = r"model '.*lie\.onnx': metadata train\.arch = 'streaming' is not its network's"
    with pytest.raises(InvalidParameter, match=match):
        train(out=tmp_path / "s.onnx", init=streaming, **TINY)
    with pytest.raises(InvalidParameter, match=match):
        prune_model(streaming, tmp_path / "s.onnx", epochs=0)
    assert not (tmp_path / "s.onnx").exists()


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("case", ["no_corpus", "other_space", "incomplete", "not_a_run"])
def test_add_failures_bad_runs(
    case: str,
    tmp_path: Path,
    corpus_run: Path,
    small_campaign: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if case == "no_corpus":
        run = small_campaign(tmp_path, "nf", 5, 16, {"float": "float"}, keep_failures=False)
        match = "has no failure corpus"
    elif case == "other_space":
        run = small_campaign(
            tmp_path, "sp", 5, 16, {"float": "float"}, space={"motion": "high_five"}
        )
        match = "is over another parameter space"
    elif case == "incomplete":
        run = _copy_run(corpus_run, tmp_path / "inc")
        record = json.loads((run / "campaign.json").read_text())
        record["status"] = "interrupted"
        (run / "campaign.json").write_text(json.dumps(record))
        match = "is incomplete"
    else:
        run = tmp_path / "nothing"
        run.mkdir()
        match = "has no campaign.json"
    error = RunDirError if case in ("incomplete", "not_a_run") else InvalidParameter
    with pytest.raises(error, match=match):
        load_corpora([run])
    out = tmp_path / "m.onnx"
    assert (
        main(["model", "train", "--add-failures", str(run), "--traces", "5", "--out", str(out)])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and match in err and "\n" not in err
    assert not out.exists()


def test_streaming_variant_streams_its_columns(tmp_path: Path) -> None:
    out = train(seed=1, out=tmp_path / "s.onnx", arch="streaming", widths=(8, 8, 8), **TINY)
    model = Model.load(out)
    assert model.spec.time_step == 2 and model.spec.hop % model.spec.time_step == 0
    proto = onnx.load(str(out))
    cost = streaming_macs(proto, model.spec)
    assert cost is not None
    # Per column: 3 x 16 -> 8 (kernel 16 x 1), then three 8 -> 8 kernel-3 convolutions.
    assert cost.macs_per_column == 48 * 8 + 3 * (8 * 8 * 3)
    assert cost.columns_per_s == 25.0 and cost.head_macs_per_window == 8 * 2
    t = model.spec.input_shape[2]
    per_window = 48 * 8 * t + sum(8 * 8 * 3 * (t - 2 * d) for d in (1, 3, 7)) + 16
    assert count_macs(proto) == per_window  # the graph computes whole windows
    assert cost.macs_per_s == 25.0 * cost.macs_per_column + 5.0 * 16
    # Not streamable: the reference network pools in time.
    assert (
        streaming_macs(onnx.load(str(train(out=tmp_path / "r.onnx", **TINY))), model.spec) is None
    )


def test_network_from_onnx_reproduces_the_shipped_model() -> None:
    shipped = Model.load("float")
    net = network_from_onnx(shipped.data)
    x = np.random.default_rng(0).standard_normal((16, *shipped.spec.input_shape)).astype(np.float32)
    with torch.no_grad():
        probs = torch.softmax(net(torch.from_numpy(x)), dim=1)[:, 1].numpy()
    np.testing.assert_allclose(probs, shipped.predict(x), atol=1e-5)
    with pytest.raises(InvalidParameter, match="is quantized; pass its float32 model"):
        network_from_onnx(Model.load("int8").data, "int8")


def _node(model: onnx.ModelProto, op_type: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.op_type == op_type)


def _set(node: onnx.NodeProto, name: str, value: object, *, drop: str = "") -> None:
    """Set attribute ``name`` of ``node`` (dropping attribute ``drop``)."""
    keep = [a for a in node.attribute if a.name not in (name, drop)]
    del node.attribute[:]
    node.attribute.extend([*keep, onnx.helper.make_attribute(name, value)])


def _drop(node: onnx.NodeProto, name: str) -> None:
    keep = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(keep)


def _dilated_average_pool(model: onnx.ModelProto) -> None:
    pool = _node(model, "MaxPool")
    pool.op_type = "AveragePool"
    _set(pool, "dilations", [2, 2])


# Each a valid float model the harness runs, computing otherwise than its pads/bias say.
_CHANGED: dict[str, Callable[[onnx.ModelProto], None]] = {
    "conv-auto_pad": lambda m: _set(_node(m, "Conv"), "auto_pad", "SAME_UPPER", drop="pads"),
    "pool-auto_pad": lambda m: _set(_node(m, "MaxPool"), "auto_pad", "SAME_UPPER", drop="pads"),
    "gemm-alpha": lambda m: _set(_node(m, "Gemm"), "alpha", 3.0),
    "gemm-beta": lambda m: _set(_node(m, "Gemm"), "beta", 0.5),
    "gemm-transA": lambda m: _set(_node(m, "Gemm"), "transA", 1),
    "avgpool-dilations": _dilated_average_pool,
    "softmax-axis": lambda m: _set(_node(m, "Softmax"), "axis", 0),
    # Reproduced, not refused:
    "gemm-no-bias": lambda m: _node(m, "Gemm").input.pop(),
    "maxpool-dilations": lambda m: _set(_node(m, "MaxPool"), "dilations", [2, 2]),
    "maxpool-default-strides": lambda m: _drop(_node(m, "MaxPool"), "strides"),
}


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("conv-auto_pad", r"node 0 \(Conv\): attribute auto_pad = 'SAME_UPPER' is not supp"),
        ("pool-auto_pad", r"node 2 \(MaxPool\): attribute auto_pad = 'SAME_UPPER' is not"),
        ("gemm-alpha", r"node 10 \(Gemm\): attribute alpha = 3\.0 is not supported"),
        ("gemm-beta", r"node 10 \(Gemm\): attribute beta = 0\.5 is not supported"),
        ("gemm-transA", r"node 10 \(Gemm\): attribute transA = 1 is not supported"),
        ("avgpool-dilations", r"node 2 \(AveragePool\): attribute dilations = \[2, 2\] is not"),
        # a softmax over the wrong axis changes the probabilities grossly (>= 0.5)
        (
            "softmax-axis",
            r"the network rebuilt .* differ by up to (0\.[5-9]\d*|1) > 0\.0001 on random",
        ),
        ("gemm-no-bias", None),
        ("maxpool-dilations", None),
        ("maxpool-default-strides", None),
    ],
)
def test_network_from_onnx_reproduces_the_graph_or_refuses_it(case: str, match: str | None) -> None:
    """Every attribute that changes what a node computes is reproduced or refused in one
    line naming the node; what slips through is caught by comparing outputs."""
    model = onnx.load_from_string(Model.load("float").data)
    _CHANGED[case](model)
    data = model.SerializeToString()
    if match is not None:
        with pytest.raises(ModelError, match=rf"^model 'm':? {match}"):
            network_from_onnx(data, "m")
        return
    net = network_from_onnx(data, "m")
    changed = Model.from_bytes(data, name="m")
    x = np.random.default_rng(1).standard_normal((8, *changed.spec.input_shape))
    with torch.no_grad():
        probs = torch.softmax(net(torch.from_numpy(x.astype(np.float32))), dim=1)[:, 1].numpy()
    np.testing.assert_allclose(probs, changed.predict(x.astype(np.float32)), atol=1e-5)


def test_pruning_removes_channels(tmp_path: Path) -> None:
    out = prune_model("float", tmp_path / "p.onnx", sparsity=0.5, epochs=1, n_traces=10)
    meta = metadata_of(out.read_bytes())
    assert meta["train.prune_channels"] == "16->8 32->16 32->16"
    convs = [n for n in onnx.load(str(out)).graph.node if n.op_type == "Conv"]
    assert len(convs) == 3
    shipped = onnx.load_from_string(Model.load("float").data)
    # Conv 3->8 on 16 x 25, 8->16 on 8 x 12, 16->16 on 4 x 6 (3 x 3 kernels), Linear 16->2.
    pruned = 3 * 9 * 8 * 400 + 8 * 9 * 16 * 96 + 16 * 9 * 16 * 24 + 16 * 2
    assert count_macs(onnx.load(str(out))) == pruned == 252_320
    assert pruned < 0.31 * count_macs(shipped)
    assert out.stat().st_size < 0.35 * len(Model.load("float").data)
    with pytest.raises(InvalidParameter, match="sparsity: 1 must be a fraction"):
        prune_model("float", tmp_path / "q.onnx", sparsity=1, epochs=0)


@pytest.mark.parametrize(("arch", "widths"), [("small", None), ("streaming", None)])
def test_int8_variant_at_most_35_percent(arch: str, widths: None, tmp_path: Path) -> None:
    """File sizes do not depend on training: a tiny training measures them."""
    f = train(seed=1, out=tmp_path / "f.onnx", arch=arch, **TINY)
    q = quantize(f, tmp_path / "q.onnx", n_calibration_traces=5, fmt="qoperator")
    assert q.stat().st_size <= 0.35 * f.stat().st_size
    assert metadata_of(q.read_bytes()) == metadata_of(f.read_bytes())
    assert count_macs(onnx.load(str(q))) == count_macs(onnx.load(str(f)))


@pytest.mark.slow
def test_the_loop_run_again_keeps_the_models_its_judging_campaign_used(tmp_path: Path) -> None:
    # Run again with other training settings, the script retrained and overwrote
    # retrained*.onnx, then stopped at the judging campaign ("changed since the run
    # started"), leaving the finished run unreadable by gate, replay and compare.
    import os
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "examples" / "model-loop" / "loop.sh"
    out = tmp_path / "loop"
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "TRAIN_TRACES": "20",
        "TRAIN_EPOCHS": "1",
        "CALIBRATION": "2",
        "BEFORE_SEED": "21",  # unseen by the shipped models: some of 512 cases fail
        "AFTER_SEED": "22",
    }
    first = subprocess.run(
        ["bash", str(script), "512", str(out)], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr[-2000:]
    model = (out / "retrained.onnx").read_bytes()
    again = subprocess.run(
        ["bash", str(script), "512", str(out)],
        env={**env, "TRAIN_EPOCHS": "2"},
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "keeping" in again.stderr and (out / "retrained.onnx").read_bytes() == model
    assert main(["replay", str(out / "after"), "0"]) == 0
    # Stopped between training and quantizing: the float model is kept and quantized
    # (deterministically: the same int8 file, so the judging run stays readable).
    int8 = (out / "retrained-int8.onnx").read_bytes()
    (out / "retrained-int8.onnx").unlink()
    third = subprocess.run(
        ["bash", str(script), "512", str(out)], env=env, capture_output=True, text=True
    )
    assert third.returncode == 0, third.stderr[-2000:]
    assert (out / "retrained-int8.onnx").read_bytes() == int8
    assert main(["replay", str(out / "after"), "0"]) == 0


def test_a_failing_case_two_runs_share_is_added_once(
    corpus_run: Path, tmp_path: Path, small_campaign: Callable[..., Path]
) -> None:
    # A copy of a run (or a campaign of the same seed and space) gave its failing
    # traces twice: "18 failing traces" for 9 cases, each oversampled twice over.
    copy = _copy_run(corpus_run, tmp_path / "copy")
    with pytest.raises(InvalidParameter, match=r"adds no failing trace: its \d+ are already"):
        load_corpora([corpus_run, copy])
    # random sampling: case i of a seed is the same whatever the campaign's size
    runs = [
        small_campaign(tmp_path, f"r{n}", 21, n, {"float": "float"}, sampler="random")
        for n in (512, 1024)
    ]
    (alone,) = load_corpora(runs[1:])
    a, b = load_corpora(runs)  # the first 512 cases are the same
    assert set(a.case_ids).isdisjoint(b.case_ids)
    assert sorted(a.case_ids + b.case_ids) == sorted(alone.case_ids)
