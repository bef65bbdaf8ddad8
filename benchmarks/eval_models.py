"""Window-level accuracy of the shipped models on held-out generated data.

Run: ``python benchmarks/eval_models.py [--traces 1000] [--seed 1]``

Draws traces from the whole default space with a seed the training never used (the
shipped model trained on seed 0; calibration used 1234), keeps every unambiguous
window, and prints accuracy, balanced accuracy, TPR and FPR of every model side by
side, then the false-positive window rate per motion. These are the window figures of
models/MODEL_CARD.md; counting figures come from campaigns (see the README).
"""

from __future__ import annotations

import argparse

from highfive.harness._model import Model
from highfive.models import window_metrics, window_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", default="float,int8")
    args = parser.parse_args()
    models = [Model.load(m) for m in args.models.split(",")]
    # The same traces for every model, cut and transformed by each model's own spec
    # (variants differ in time_step).
    sets: dict[object, object] = {}
    results = []
    for m in models:
        if m.spec not in sets:
            sets[m.spec] = window_set(args.traces, args.seed, spec=m.spec, negative_fraction=1.0)
        held_out = sets[m.spec]
        results.append(window_metrics(m.predict(held_out.x), held_out))
    print(
        f"{args.traces} held-out traces (seed {args.seed}): {results[0]['n_windows']:,} "
        f"windows, {results[0]['n_positive']:,} high-five"
    )
    print(f"{'':<20}" + "".join(f"{m.name[:22]:>24}" for m in models))
    for key in ("accuracy", "balanced_accuracy", "tpr", "fpr"):
        print(f"{key:<20}" + "".join(f"{100 * r[key]:>23.3f}%" for r in results))
    print("false-positive window rate by motion (negative windows):")
    for motion, (_, n) in results[0]["fpr_by_motion"].items():
        rates = "".join(
            f"{100 * r['fpr_by_motion'].get(motion, (float('nan'),))[0]:>23.3f}%" for r in results
        )
        print(f"  {motion:<18}{rates}   ({n:,})")


if __name__ == "__main__":
    main()
