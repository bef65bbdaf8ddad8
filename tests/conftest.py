"""Shared test settings (Hypothesis profiles) and fixtures: a toy ONNX model, and small
counters of the other kinds (an external program speaking the counter protocol that can
be told to misbehave, and a module of Python counters, good and bad)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


# -- counters of the other kinds ------------------------------------------------------

_PROGRAM = r"""#!{python}
import struct, sys, time
MODE, NTH = {mode!r}, {nth}
out, inp = sys.stdout.buffer, sys.stdin.buffer
if MODE == "exit_at_start":
    sys.stderr.write("cannot open the sensor config\n")
    sys.exit(3)
if MODE == "garbage_at_start":
    out.write(b"Welcome to the counter!\n"); out.flush(); time.sleep(30); sys.exit(0)
if MODE == "hang_at_start":
    time.sleep(60)
out.write(b"highfive-counter 1\n"); out.flush()
trace, best, best_t, t_last, samples = 0, 0.0, 0.0, 0.0, 0

def answer(dets):
    out.write(b"DETS" + struct.pack("<I", 16 * len(dets)))
    for t, s in dets:
        out.write(struct.pack("<dd", t, s))
    out.flush()

while True:
    head = inp.read(8)
    if len(head) < 8:
        break
    tag, n = struct.unpack("<4sI", head)
    payload = inp.read(n)
    if tag == b"BEGN":
        if MODE == "crash_on_begin":
            sys.stderr.write("crash\n"); sys.stderr.flush(); sys.exit(3)
        if MODE == "names_itself":
            sys.stderr.write(f"{{sys.argv[0]}}: no such rate\n"); sys.stderr.flush(); sys.exit(3)
        if MODE == "killed":
            import os, signal
            os.kill(os.getpid(), signal.SIGSEGV)
        trace += 1
        best, best_t, t_last, samples = 0.0, 0.0, 0.0, 0
        continue
    if trace == NTH and MODE == "crash_on_nth":
        sys.stderr.write("segmentation fault (simulated)\n")
        sys.exit(139)
    if trace == NTH and MODE == "hang_on_nth":
        time.sleep(60)
    if trace == NTH and MODE == "garbage_on_nth":
        out.write(b"oops, debug print\n"); out.flush()
        continue
    if tag == b"DATA":
        samples += n // 20
        if MODE == "warns_then_exits" and samples < 500:
            sys.stderr.write(f"warning: only {{samples}} samples\n"); sys.stderr.flush()
        for i in range(0, n, 20):
            t, x, y, z = struct.unpack_from("<dfff", payload, i)
            m = (x * x + y * y + z * z) ** 0.5
            if m > best:
                best, best_t = m, t
            t_last = t
        answer([])
    elif tag == b"DONE":
        if MODE.endswith("_on_long") and t_last > 12.0:
            if MODE == "crash_on_long":
                sys.stderr.write("segmentation fault (simulated)\n")
                sys.exit(139)
            if MODE == "hang_on_long":
                time.sleep(60)
            if MODE == "garbage_on_long":
                out.write(b"oops, debug print\n"); out.flush()
                continue
        if MODE == "warns_then_exits" and samples >= 500:
            sys.exit(3)
        if MODE == "bad_score":
            answer([(t_last, 7.5)])
            continue
        answer([] if MODE == "silent" or best < 1.5 else [(best_t, min(1.0, best / 4.0))])
        if MODE == "junk_at_once":
            out.write(b"JUNKJUNK"); out.flush()
        if MODE == "junk_later":
            time.sleep(0.05); out.write(b"JUNKJUNK"); out.flush()
        if MODE == "exit_later":
            time.sleep(0.05); sys.exit(0)
        if MODE == "rebuild_after_nth" and trace == NTH:
            with open(sys.argv[0], "a") as f:
                f.write("# rebuilt\n")
            sys.exit(0)
"""


def write_protocol_program(
    folder: Path, mode: str = "ok", nth: int = 0, name: str = "prog"
) -> Path:
    """Write an executable protocol speaker; ``mode`` says how it misbehaves.

    Modes: ``ok`` (one detection at the largest |a| above 1.5 g per trace),
    ``silent`` (never detects), ``bad_score`` (one detection of score 7.5 per trace),
    ``exit_at_start``, ``garbage_at_start``, ``hang_at_start``; on trace ``nth``
    (1-based, counted per process):
    ``crash_on_nth``, ``hang_on_nth``, ``garbage_on_nth``, and ``rebuild_after_nth``
    (after answering it, append a line to its own file, as a new build would, and
    exit); instead of answering ``DONE`` of a trace longer than 12 s:
    ``crash_on_long``, ``hang_on_long``, ``garbage_on_long``; after answering each
    ``DONE``: ``junk_at_once`` (8 more bytes at once), ``junk_later`` (8
    bytes 50 ms later), ``exit_later`` (exit 50 ms later); ``warns_then_exits`` (a
    stderr line for each frame of a trace under 500 samples; at ``DONE`` of a longer
    one, exit 3 without answering); at each trace's ``BEGN``, before reading its
    samples: ``crash_on_begin`` (a stderr line and exit 3), ``names_itself`` (its own
    path on stderr, as ``perror(argv[0])`` writes it, and exit 3), ``killed`` (SIGSEGV).
    """
    path = folder / name
    path.write_text(_PROGRAM.format(python=sys.executable, mode=mode, nth=nth))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


PYTHON_COUNTERS = '''
"""Counters for tests."""
import math
import time

__version__ = "0.1"


def biggest(trace):
    """One detection at the largest |a| above 1.5 g."""
    import numpy as np
    m = np.linalg.norm(trace.samples, axis=1)
    i = int(np.argmax(m))
    return [(float(trace.t[i]), 0.9)] if m[i] > 1.5 else []


def raises_on_long(trace):
    if trace.duration > 12:
        raise ZeroDivisionError("division by zero in the peak finder")
    return biggest(trace)


def malformed(trace):
    return [("soon", 0.5)]


def bad_score(trace):
    return [(1.0, 7.5)]


def not_a_list(trace):
    return 3


def time_as_text(trace):
    return ["1.5"]


def time_as_bool(trace):
    return [True]


def before_the_trace(trace):
    return [-5.0]


def long_after_the_trace(trace):
    return [1e9]


def windows_as_lists(trace):
    from highfive.harness import CountResult
    return CountResult([], [1.0, 2.0], [0.25, 0.75])


def windows_unequal(trace):
    import numpy as np
    from highfive.harness import CountResult
    return CountResult([], np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.9]))


def windows_2d(trace):
    import numpy as np
    from highfive.harness import CountResult
    return CountResult([], np.ones((2, 2)), np.full((2, 2), 0.5))


def windows_nan(trace):
    import numpy as np
    from highfive.harness import CountResult
    return CountResult([], np.array([1.0, 2.0]), np.array([np.nan, 0.5]))


def windows_above_one(trace):
    import numpy as np
    from highfive.harness import CountResult
    return CountResult([], np.array([1.0, 2.0]), np.array([7.0, 0.5]))


def windows_infinite_time(trace):
    import numpy as np
    from highfive.harness import CountResult
    return CountResult([], np.array([np.inf, 2.0]), np.array([0.5, 0.5]))


def sleeps_on_long(trace):
    if trace.duration > 12:
        time.sleep(3)
    return biggest(trace)


class Streaming:
    """Emits one detection at the end of the chunk where |a| first exceeds 1.5 g."""

    def start(self, fs):
        self.done = False

    def feed(self, t, samples):
        import numpy as np
        m = np.linalg.norm(samples, axis=1)
        hit = np.flatnonzero(m > 1.5)
        if self.done or not hit.size:
            return []
        self.done = True
        return [(float(t[hit[0]]), 1.0)]

    def finish(self):
        return []

    def __call__(self, trace):
        self.start(trace.fs)
        return self.feed(trace.t, trace.samples) + self.finish()


def two_args(trace, other):
    return []


def factory():
    return biggest


def broken_factory():
    raise RuntimeError("no licence")


NOT_CALLABLE = 42
'''


def write_python_counters(folder: Path, name: str = "mycounters.py") -> Path:
    """Write the module of test counters; return its path."""
    path = folder / name
    path.write_text(PYTHON_COUNTERS)
    return path


@pytest.fixture
def protocol_program(tmp_path: Path) -> Callable[..., Path]:
    """``protocol_program(mode="ok", nth=0, name="prog")``: an exec counter on disk."""

    def make(mode: str = "ok", nth: int = 0, name: str = "prog") -> Path:
        return write_protocol_program(tmp_path, mode, nth, name)

    return make


@pytest.fixture
def python_counters(tmp_path: Path) -> Path:
    """A module of Python test counters on disk (use as ``f"{path}:attr"``)."""
    return write_python_counters(tmp_path)


@pytest.fixture(scope="session")
def small_campaign() -> Callable[..., Path]:
    """``small_campaign(root, name, seed, cases, models, **config)``: run a campaign in
    this process (no dask) and return its run directory. ``models`` maps ids to counter
    sources; ``config`` sets further CampaignConfig fields (space, keep_failures)."""
    from highfive.harness import CampaignConfig, ExecutionConfig, run_campaign

    def run(
        root: Path, name: str, seed: int, cases: int, models: dict[str, str], **config: Any
    ) -> Path:
        cfg = CampaignConfig(
            name=name,
            seed=seed,
            cases=cases,
            models=tuple({"counter": src, "id": mid} for mid, src in models.items()),
            out=str(root),
            batch_size=64,
            execution=ExecutionConfig(workers=0),
            **{"sampler": "lhs", **config},
        )
        summary = run_campaign(cfg, stream=None)
        assert summary.complete
        return Path(summary.run_dir)

    return run
