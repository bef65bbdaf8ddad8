"""The whole counter pipeline against the plain approach, side by side, on one core.

Run: ``python benchmarks/bench_pipeline.py [--traces N] [--models float,int8]``

Both count the same generated traces (10 s at 50 Hz from the default space) with every
model:

- plain: for each trace, ``pywt.cwt`` per window and axis, the same normalisation,
  one ``session.run`` per window and model, then the same counting logic;
- ours: :class:`CounterPipeline` (batched filter bank, one ``session.run`` per trace
  and model).

Prints ms per case for each and the speed-up (target >= 20x), after checking that both
give the same counts. Single-threaded: BLAS limited to one thread, ONNX Runtime sessions
with one intra-op thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pywt
from threadpoolctl import threadpool_limits

from highfive.generators import Trace, default_space, synthesize
from highfive.harness import CounterPipeline, Model, detect, frame, to_uniform
from highfive.harness._model_session import session
from highfive.harness._preprocess import window_centres


def plain_count(trace: Trace, models: list[Model]) -> list[int]:
    """The straightforward implementation: per-window pywt.cwt and per-window inference."""
    spec = models[0].spec
    t, x = to_uniform(trace.t, trace.samples, trace.fs, spec.sample_rate)
    windows, _ = frame(x, spec.window, spec.hop)
    mean = np.asarray(spec.norm_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(spec.norm_std, dtype=np.float32)[:, None, None]
    feats = []
    cols = slice(spec.time_step // 2, None, spec.time_step)
    for w in windows:
        mag = np.stack(
            [
                np.abs(pywt.cwt(w[:, a], spec.scales, spec.wavelet, method="fft")[0][:, cols])
                for a in range(3)
            ]
        ).astype(np.float32)
        feats.append((np.log1p(mag / spec.norm_scale) - mean) / std)
    counts = []
    centres = window_centres(float(t[0]), len(feats), spec)
    for m in models:
        sess = session(m.data, m.sha256, 1)
        name = sess.get_inputs()[0].name
        probs = np.array(
            [sess.run(None, {name: f[None]})[0][0, spec.positive_index] for f in feats]
        )
        counts.append(len(detect(probs, centres, m.spec.counter_config())))
    return counts


def ours_count(trace: Trace, pipes: list[CounterPipeline]) -> list[int]:
    return [p.run(trace).count for p in pipes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=20)
    parser.add_argument("--models", default="float,int8")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    models = [Model.load(m) for m in args.models.split(",")]
    pipes = [CounterPipeline(m) for m in models]
    space = default_space().restrict(duration=10.0, sample_rate=50, repetitions=[1, 2])
    rows = space.rows(np.random.default_rng(0).random((args.traces, space.d)))
    traces = [synthesize(r, i, validate=False) for i, r in enumerate(rows)]

    with threadpool_limits(limits=1, user_api="blas"):
        same = [plain_count(tr, models) == ours_count(tr, pipes) for tr in traces]
        plain, ours = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for tr in traces:
                plain_count(tr, models)
            plain.append((time.perf_counter() - t0) / len(traces) * 1e3)
            t0 = time.perf_counter()
            for tr in traces:
                ours_count(tr, pipes)
            ours.append((time.perf_counter() - t0) / len(traces) * 1e3)
    p, o = statistics.median(plain), statistics.median(ours)
    names = "+".join(m.name for m in models)
    print(f"{args.traces} traces of 10 s at 50 Hz, models {names}, one core")
    print(f"{'plain (pywt.cwt per window, run per window)':<46} {p:9.2f} ms/case")
    print(f"{'CounterPipeline (filter bank, batched)':<46} {o:9.2f} ms/case")
    print(f"speed-up: {p / o:.1f}x (target >= 20x); same counts on {sum(same)}/{len(same)} traces")


if __name__ == "__main__":
    main()
