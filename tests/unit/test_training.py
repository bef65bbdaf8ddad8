"""Training, export and reproducibility (needs PyTorch: the ``train`` extra).

Skipped cleanly when PyTorch is absent. A tiny run (20 traces, 1 epoch) takes a few
seconds; the shipped model is the same code with ``DEFAULTS`` (see MODEL_CARD.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from highfive.generators import InvalidParameter, ModelError  # noqa: E402
from highfive.harness import Model, ModelSpec  # noqa: E402
from highfive.models import build_network, export_onnx, profile, train  # noqa: E402
from highfive.models._train import TORCH_MISSING, require_torch  # noqa: E402

# torch.onnx.export(dynamo=False) is the only exporter usable offline (dynamo=True needs
# onnxscript); it warns about its own deprecation. Nothing else may warn.
pytestmark = [
    pytest.mark.train,
    pytest.mark.filterwarnings(
        "ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning"),
]

TINY = {"n_traces": 20, "epochs": 1, "stats_traces": 10}


def _weights(path: Path) -> dict[str, np.ndarray]:
    graph = onnx.load(str(path)).graph
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(seed=3, out=tmp_path_factory.mktemp("a") / "tiny.onnx", **TINY)


def test_trained_model_loads_and_predicts(tiny: Path) -> None:
    model = Model.from_bytes(tiny.read_bytes(), name="tiny")
    assert model.spec.input_shape == ModelSpec().input_shape
    assert model.spec.norm_std != (1.0, 1.0, 1.0)
    p = model.predict(np.zeros((4, *model.spec.input_shape), np.float32))
    assert p.shape == (4,) and np.all((p >= 0) & (p <= 1))
    props = {p.key: p.value for p in onnx.load(str(tiny)).metadata_props}
    assert props["train.seed"] == "3" and props["train.n_traces"] == "20"


def test_same_seed_same_weights(tiny: Path, tmp_path: Path) -> None:
    again = train(seed=3, out=tmp_path / "again.onnx", **TINY)
    a, b = _weights(tiny), _weights(again)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert again.read_bytes() == tiny.read_bytes()


def test_other_seed_other_weights(tiny: Path, tmp_path: Path) -> None:
    other = train(seed=4, out=tmp_path / "other.onnx", **TINY)
    a, b = _weights(tiny), _weights(other)
    assert any(not np.array_equal(a[n], b[n]) for n in a)


def test_training_leaves_global_torch_state_alone(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    before = torch.random.get_rng_state()
    train(seed=5, out=tmp_path / "m.onnx", **TINY)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_architecture_budget_and_softmax(tmp_path: Path) -> None:
    net = build_network(generator=torch.Generator().manual_seed(0))
    out = export_onnx(net, Model.load("float").spec, tmp_path / "untrained.onnx")
    prof = profile(out, repeats=2)
    assert prof["parameters"] <= 100_000 and prof["macs"] <= 1_000_000
    assert onnx.load(str(out)).graph.node[-1].op_type == "Softmax"
    x = np.random.default_rng(1).standard_normal((5, *ModelSpec().input_shape))
    x = x.astype(np.float32)
    with torch.no_grad():
        expected = torch.softmax(net.eval()(torch.from_numpy(x)), dim=1)[:, 1].numpy()
    np.testing.assert_allclose(Model.load(out).predict(x), expected, atol=1e-5)


def test_time_step_replaces_the_time_pool(tmp_path: Path) -> None:
    out = train(seed=0, out=tmp_path / "step3.onnx", time_step=3, **TINY)
    model = Model.load(out)
    assert model.spec.time_step == 3 and model.spec.input_shape == (3, 16, 25)
    assert "AveragePool" not in {n.op_type for n in onnx.load(str(out)).graph.node}
    assert profile(out, repeats=2)["macs"] == profile("float", repeats=2)["macs"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"n_traces": 0}, r"n_traces: got 0", id="no-traces"),
        pytest.param({"epochs": 0}, r"epochs: got 0", id="no-epochs"),
        pytest.param({"seed": -2}, r"seed: got -2", id="negative-seed"),
        pytest.param({"time_step": 80}, r"time_step: .*\[1, 75\]", id="time-step>window"),
        pytest.param({"time_step": 25}, r"at least 4 x 4", id="too-few-columns"),
        pytest.param(
            {"widths": (16, 32, 0)},
            r"widths\[2\]: got 0; must be an integer from 1 to 256",
            id="no-channels",
        ),
        pytest.param(
            {"widths": (100_000, 32, 32)},
            r"widths\[0\]: got 100000; must be an integer from 1 to 256",
            id="too-wide",
        ),
    ],
)
def test_train_bad_input(kwargs: dict[str, object], match: str, tmp_path: Path) -> None:
    args = {**TINY, "seed": 0, **kwargs}
    with pytest.raises(InvalidParameter, match=match):
        train(out=tmp_path / "m.onnx", **args)
    assert not (tmp_path / "m.onnx").exists()


def test_require_torch_message(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require_torch() is torch
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"^PyTorch is not installed") as info:
        require_torch()
    assert str(info.value) == TORCH_MISSING
