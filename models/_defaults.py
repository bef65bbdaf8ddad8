"""Default settings of training and quantization, in a module the command line can
import while it builds its parser (the modules that use them import PyTorch, SciPy and
pyarrow)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ARCHS",
    "CALIBRATION_SEED",
    "CALIBRATION_TRACES",
    "DEFAULTS",
    "DEFAULT_OVERSAMPLE",
    "FALLBACK_SEED",
    "FALLBACK_TRACES",
    "HELD_OUT_SEED",
    "MAX_EPOCHS",
    "MAX_OVERSAMPLE",
    "MAX_SEED",
    "MAX_THREADS",
    "MAX_TRACES",
    "MAX_WIDTH",
]

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "n_traces": 6000,
    "epochs": 15,
    "batch_size": 256,
    "lr": 3e-3,
    "finetune_lr": 1e-3,
    "weight_decay": 1e-4,
    "threads": 1,
    "stats_traces": 500,
    "time_step": 3,
    "widths": (16, 32, 32),
}
"""Settings of the shipped float model (see MODEL_CARD.md)."""

CALIBRATION_TRACES = 300
"""Default number of generated calibration traces (about 12k windows)."""
CALIBRATION_SEED = 1234
"""Default calibration seed: distinct from the training seed 0 and the held-out seed."""
HELD_OUT_SEED = 1
"""Seed of held-out traces for window accuracy (benchmarks/eval_models.py, model compare)."""
DEFAULT_OVERSAMPLE = 5
"""Times each failing trace's windows are repeated in training (``--add-failures``)."""
MAX_OVERSAMPLE = 100
"""Most times a failing trace's windows may be repeated: the repeats are copies in
memory (4.8 kB a window), so the shipped corpus's 185,854 windows take 89 GB at 100;
a failing trace then weighs as much as 100 generated ones."""
MAX_SEED = 2**63 - 1
"""Largest seed of ``model train``, ``prune``, ``quantize`` and ``compare``: PyTorch's
generator takes a signed 64-bit seed."""
MAX_EPOCHS = 10_000
"""Most epochs of ``model train`` and of ``prune``'s fine-tuning: 667 times the shipped
model's 15. An epoch count of 20 digits started, and ran until stopped."""
MAX_TRACES = 1_000_000
"""Most generated traces of ``model train``, ``prune``, ``quantize`` (calibration) and
``compare`` (held out), and of a model's ``train.n_traces`` when ``prune`` takes it as
its default: 166 times the shipped model's 6,000. Their windows are held in memory,
about 87 kB a trace for training (negatives subsampled) and 300 kB for ``compare``
(every window): 87 GB and 300 GB at the bound."""
MAX_THREADS = 256
"""Most PyTorch threads of ``model train`` and ``prune`` (a fixed bound, not the
machine's cores: the thread count is part of what reproduces a model)."""
FALLBACK_TRACES = 1000
"""Fine-tuning traces of ``model prune`` for a model whose metadata has no
``train.n_traces`` (a model not trained by highfive)."""
FALLBACK_SEED = 0
"""Fine-tuning seed of ``model prune`` for a model whose metadata has no
``train.seed``: the default training seed."""
ARCHS = ("reference", "small", "streaming")
"""Architectures ``model train --arch`` builds (:mod:`highfive.models._arch`)."""
MAX_WIDTH = 256
"""Most channels of a stage (``model train --widths``): the bound a model's metadata
puts on its scales and classes (``highfive.harness.LIMITS``), 8 times the shipped 32.
The reference network 256 wide has 1.2M parameters and trains at batch 256 in about
1 GiB; far wider stages would exhaust memory before the first epoch ends."""
