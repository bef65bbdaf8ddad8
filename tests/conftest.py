"""Shared test settings (Hypothesis profiles) and fixtures (a toy ONNX model)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from highfive.harness import Model

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def toy_model_bytes(
    weight: float = 4.0,
    bias: float = -2.0,
    n_scales: int = 16,
    metadata: dict[str, str] | None = None,
) -> bytes:
    """A tiny hand-built ONNX window classifier: p = sigmoid(weight * mean(x) + bias).

    It stands in for a trained network where a test needs the pipeline's mechanics,
    not its accuracy. Metadata defaults to a default :class:`ModelSpec`.
    """
    import onnx
    from onnx import TensorProto, helper

    from highfive.harness import ModelSpec

    spec = ModelSpec()
    x = helper.make_tensor_value_info(
        "scalogram", TensorProto.FLOAT, ["N", 3, n_scales, spec.input_shape[2]]
    )
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])
    inits = [
        helper.make_tensor("w", TensorProto.FLOAT, [1], [weight]),
        helper.make_tensor("b", TensorProto.FLOAT, [1], [bias]),
        helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["scalogram"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "one"], ["m1"]),
        helper.make_node("Mul", ["m1", "w"], ["z0"]),
        helper.make_node("Add", ["z0", "b"], ["z"]),
        helper.make_node("Mul", ["m1", "zero"], ["o"]),
        helper.make_node("Concat", ["o", "z"], ["logits"], axis=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits.append(helper.make_tensor("one", TensorProto.INT64, [1], [1]))
    graph = helper.make_graph(nodes, "toy", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in (spec.to_metadata() if metadata is None else metadata).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture(scope="session")
def make_toy_model() -> Callable[..., bytes]:
    """The toy model builder itself, for tests that need variants (weight, bias)."""
    return toy_model_bytes


@pytest.fixture(scope="session")
def toy_model() -> Model:
    from highfive.harness import Model

    return Model.from_bytes(toy_model_bytes(), name="toy")


@pytest.fixture(scope="session")
def toy_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy model written to an ONNX file."""
    path = tmp_path_factory.mktemp("model") / "toy.onnx"
    path.write_bytes(toy_model_bytes())
    return path
