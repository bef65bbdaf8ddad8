"""The window classifier and its deterministic training.

Network (input (B, 3, 16, 75): axes x scales x samples at 50 Hz)::

    AvgPool (1, 3) over time          -> (3, 16, 25)
    Conv 3->16, 3x3, BN, ReLU         -> (16, 16, 25)
    MaxPool 2                         -> (16, 8, 12)
    Conv 16->32, 3x3, BN, ReLU        -> (32, 8, 12)
    MaxPool 2                         -> (32, 4, 6)
    Conv 32->32, 3x3, BN, ReLU        -> (32, 4, 6)
    global average pool, Linear 32->2 -> logits (softmax added at export)

about 14.4k parameters (batch norm folded) and 0.84M multiply-accumulates per window.
With a spec whose ``time_step`` already decimates the scalogram in time, the average
pool shrinks accordingly (``3 // time_step``, none from 3 on).

Determinism: weights are initialised from a ``torch.Generator`` seeded with ``seed``,
data come from :func:`highfive.models._dataset.window_set` with the same seed, and the
epoch shuffles from a numpy ``Generator`` on a child of ``SeedSequence(seed)``. Nothing
global is seeded (the global torch RNG is forked and restored around model
construction). Training runs with ``torch.use_deterministic_algorithms(True)`` and a
fixed number of intra-op threads; the same seed, arguments, thread count and library
versions (torch, numpy, scipy, PyWavelets) give bit-identical weights on the same CPU
type. Different CPUs or BLAS/oneDNN builds may round differently.

PyTorch is imported inside functions only, so ``import highfive.models`` works without it.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from highfive.generators import InvalidParameter, ModelError, ParameterSpace
from highfive.harness import Model, ModelSpec

from ._dataset import WindowSet, norm_stats, window_set
from ._defaults import (
    DEFAULT_OVERSAMPLE,
    DEFAULTS,
    MAX_OVERSAMPLE,
    MAX_SEED,
    MAX_THREADS,
    MAX_TRACES,
    MAX_WIDTH,
)
from ._export import export_onnx, metadata_of

__all__ = [
    "DEFAULTS",
    "TORCH_MISSING",
    "build_network",
    "fit",
    "require_torch",
    "train",
]

TORCH_MISSING = (
    'PyTorch is not installed; install the train extra: pip install ".[train]" in the '
    "highfive source folder (pip install 'highfive[train]' where highfive comes from a "
    "package index)"
)


_SHUFFLE_KEY = 2**32 + 3
Log = Callable[[str], None]


def require_torch() -> Any:
    """Import and return :mod:`torch`, or raise :class:`ModelError` saying how to get it."""
    try:
        import torch
    except ImportError:
        raise ModelError(TORCH_MISSING) from None
    return torch


def _time_pool(spec: ModelSpec) -> int:
    """Time pooling of the first layer; raises if the input is too small for the net."""
    # Scalograms are smooth in time: 50 Hz columns are pooled to 16.7 Hz, unless the
    # preprocessing already decimates them (time_step).
    pool = max(1, 3 // spec.time_step)
    n_cols = spec.input_shape[2] // pool
    if n_cols < 4 or spec.input_shape[1] < 4:
        raise InvalidParameter(
            f"spec: input {spec.input_shape} leaves {spec.input_shape[1]} x {n_cols} "
            "(scales x columns) after time pooling; the two 2x2 max pools need at least 4 x 4"
        )
    return pool


def build_network(
    spec: ModelSpec | None = None,
    *,
    generator: Any = None,
    widths: tuple[int, int, int] = DEFAULTS["widths"],
) -> Any:
    """The window classifier (logits, no softmax), in training mode.

    Parameters
    ----------
    spec : ModelSpec, optional
        Gives the input shape (3, S, T); default ``ModelSpec()``.
    generator : torch.Generator, optional
        Initialises the weights (Kaiming-uniform, as PyTorch's defaults); without one
        the weights are PyTorch's defaults from the global RNG.
    widths : tuple of 3 int
        Output channels of the three convolutions.

    Returns
    -------
    torch.nn.Sequential
        Maps (B, 3, S, T) float32 to (B, 2) logits.
    """
    torch = require_torch()
    nn = torch.nn
    spec = ModelSpec() if spec is None else spec
    n_classes = len(spec.class_names)

    pool = _time_pool(spec)

    def block(c_in: int, c_out: int) -> list[Any]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

    # Fork so building does not advance the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        net = nn.Sequential(
            *([nn.AvgPool2d((1, pool))] if pool > 1 else []),
            *block(3, widths[0]),
            nn.MaxPool2d(2),
            *block(widths[0], widths[1]),
            nn.MaxPool2d(2),
            *block(widths[1], widths[2]),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(widths[2], n_classes),
        )
    if generator is not None:
        init_weights(net, generator)
    return net


def init_weights(net: Any, generator: Any) -> None:
    """Re-initialise every Conv2d and Linear of ``net`` as PyTorch's
    ``reset_parameters`` does (Kaiming-uniform), drawing from ``generator``."""
    torch = require_torch()
    nn = torch.nn
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(m.weight[0].numel())
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)


@contextlib.contextmanager
def torch_settings(torch: Any, threads: int) -> Iterator[None]:
    """Deterministic algorithms and ``threads`` intra-op threads, restored afterwards."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def fit(
    net: Any,
    data: WindowSet,
    *,
    epochs: int,
    seed: int,
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    weight_decay: float = DEFAULTS["weight_decay"],
    log: Log | None = None,
) -> list[float]:
    """Train ``net`` in place with Adam on class-balanced cross-entropy.

    The learning rate follows a cosine from ``lr`` to 0 over all steps. Each class's
    loss weight is inversely proportional to its window count, so positives and
    negatives count equally whatever the negative subsampling.

    Parameters
    ----------
    net : torch.nn.Module
    data : WindowSet
        Inputs (N, 3, S, T) and labels (N,).
    epochs : int
    seed : int
        Seeds the epoch shuffles.
    batch_size : int
    lr, weight_decay : float
    log : callable, optional
        Receives one progress line per epoch.

    Returns
    -------
    list of float
        Mean training loss per epoch.
    """
    torch = require_torch()
    n = len(data)
    if n == 0:
        raise InvalidParameter("training data: no windows; use more traces")
    counts = np.bincount(data.y, minlength=2).astype(np.float64)
    if np.any(counts == 0):
        raise InvalidParameter(
            f"training data: class counts {counts.astype(int).tolist()}; both classes are "
            "needed, use more traces"
        )
    class_w = torch.tensor(n / (2.0 * counts), dtype=torch.float32)
    x_all = torch.from_numpy(data.x)
    y_all = torch.from_numpy(data.y.astype(np.int64))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SHUFFLE_KEY,)))
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    losses: list[float] = []
    step = 0
    net.train()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = torch.from_numpy(rng.permutation(n))
        running = 0.0
        for b0 in range(0, n, batch_size):
            idx = order[b0 : b0 + batch_size]
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(x_all[idx]), y_all[idx], weight=class_w)
            loss.backward()
            opt.step()
            running += loss.item() * idx.numel()
            step += 1
        losses.append(running / n)
        if log is not None:
            log(
                f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f} "
                f"({time.perf_counter() - t0:.1f} s)"
            )
    net.eval()
    return losses


def versions(torch: Any) -> str:
    """Library versions the weights depend on (data, features, training, export)."""
    import onnx
    import pywt
    import scipy

    return (
        f"torch {torch.__version__}; numpy {np.__version__}; scipy {scipy.__version__}; "
        f"PyWavelets {pywt.__version__}; onnx {onnx.__version__}; "
        f"python {platform.python_version()}"
    )


def _check_int(name: str, v: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < minimum:
        raise InvalidParameter(f"{name}: got {v!r}; must be an integer >= {minimum}")
    if maximum is not None and v > maximum:
        raise InvalidParameter(f"{name}: got {v!r}; must be an integer <= {maximum:,}")
    return int(v)


def train(
    seed: int = DEFAULTS["seed"],
    n_traces: int = DEFAULTS["n_traces"],
    epochs: int = DEFAULTS["epochs"],
    out: str | os.PathLike[str] = "highfive-cnn-float32.onnx",
    *,
    space: ParameterSpace | None = None,
    batch_size: int = DEFAULTS["batch_size"],
    lr: float | None = None,
    threads: int = DEFAULTS["threads"],
    stats_traces: int = DEFAULTS["stats_traces"],
    time_step: int | None = None,
    widths: tuple[int, int, int] | None = None,
    arch: str = "reference",
    init: str | os.PathLike[str] | None = None,
    add_failures: Sequence[str | os.PathLike[str]] = (),
    oversample: int = DEFAULT_OVERSAMPLE,
    log: Log | None = None,
) -> Path:
    """Generate data, train the classifier and export it as a self-describing ONNX file.

    Parameters
    ----------
    seed : int
        Root of every random stream (data, initial weights, shuffles).
    n_traces : int
        Generated traces (the first ``stats_traces`` of them also give the
        normalisation statistics).
    epochs : int
    out : path
        Destination ONNX file.
    space : ParameterSpace, optional
        Parameter space of the traces (default: the whole default space).
    batch_size : int
    lr : float, optional
        Peak Adam learning rate (default ``DEFAULTS["lr"]`` from scratch,
        ``DEFAULTS["finetune_lr"]`` with ``init``).
    threads : int
        PyTorch intra-op threads (part of what makes the result reproducible).
    stats_traces : int
        Traces used for ``norm_mean`` / ``norm_std``.
    time_step : int, optional
        ``ModelSpec.time_step``: keep every ``time_step``-th scalogram column (default:
        the architecture's, :data:`~highfive.models._arch.ARCH_DEFAULTS`).
    widths : tuple of 3 int, optional
        Channel counts (default: the architecture's).
    arch : {"reference", "small", "streaming"}
        The network (:mod:`highfive.models._arch`).
    init : path, optional
        Fine-tune this float model (its network, weights and ModelSpec, normalisation
        included) instead of training from scratch; ``arch``, ``time_step`` and
        ``widths`` then come from it and may not be given.
    add_failures : sequence of path
        Complete run directories whose failure corpora join the training data
        (:mod:`highfive.models._failures`), each failing trace ``oversample`` times.
    oversample : int
    log : callable, optional
        Receives progress lines.

    Returns
    -------
    Path
        ``out``.
    """
    from ._arch import ARCH_DEFAULTS, build_arch, check_arch, network_arch, network_widths
    from ._failures import (
        check_train_metadata,
        concat_windows,
        corpus_metadata,
        failure_windows,
        load_corpora,
    )
    from ._prune import network_from_onnx

    seed = _check_int("seed", seed, 0, MAX_SEED)
    n_traces = _check_int("n_traces", n_traces, 1, MAX_TRACES)
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    threads = _check_int("threads", threads, 1, MAX_THREADS)
    oversample = _check_int("oversample", oversample, 1, MAX_OVERSAMPLE)
    start: Model | None = None
    if init is not None:
        given = {"time_step": time_step, "widths": widths}
        fixed = [k for k, v in given.items() if v is not None] + (
            ["arch"] if arch != "reference" else []
        )
        if fixed:
            raise InvalidParameter(
                f"{fixed[0]}: comes from the --init model; leave it out when fine-tuning"
            )
        start = Model.load(init)
        check_train_metadata(metadata_of(start.data), f"--init: model {start.label!r}")
        base = start.spec
    else:
        check_arch(arch)
        time_step = _check_int(
            "time_step", ARCH_DEFAULTS[arch]["time_step"] if time_step is None else time_step, 1
        )
        widths = _check_widths(ARCH_DEFAULTS[arch]["widths"] if widths is None else widths)
        try:
            base = replace(ModelSpec(), time_step=time_step)
        except ModelError as exc:
            raise InvalidParameter(f"time_step: {exc}") from None
        check_arch(arch, base)
        if arch != "streaming":
            _time_pool(base)  # before generating any data
    corpora = load_corpora(add_failures, space)  # every run checked before any work
    torch = require_torch()
    say: Log = log if log is not None else (lambda _msg: None)
    net = None
    if start is not None:  # a quantized or unreproducible model refused before any data
        with torch_settings(torch, threads):
            net = network_from_onnx(start.data, start.name)
        stated = metadata_of(start.data).get("train.arch", "reference")
        arch = network_arch(net, stated, f"--init: model {start.label!r}")
    t0 = time.perf_counter()

    spec = (
        base
        if start is not None
        else norm_stats(min(stats_traces, n_traces), seed, space, spec=base)
    )
    data = window_set(n_traces, seed, space, spec=spec)
    n_pos = int(data.y.sum())
    say(
        f"data: {n_traces} traces -> {len(data)} windows ({n_pos} high-five) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    extra = {
        "train.seed": str(seed),
        "train.n_traces": str(n_traces),
        "train.epochs": str(epochs),
        "train.threads": str(threads),
        "train.space": "default" if space is None else "custom",
        "train.arch": arch,
    }
    if corpora:
        failing = failure_windows(corpora, spec, oversample)
        say(
            f"failures: {failing.n_traces} failing traces of {len(corpora)} run(s) -> "
            f"{len(failing) // oversample} windows ({int(failing.y.sum()) // oversample} "
            f"high-five), x{oversample}"
        )
        data = concat_windows(data, failing)
        extra.update(corpus_metadata(corpora, oversample))
    extra["train.n_windows"] = str(len(data))
    with torch_settings(torch, threads):
        if start is not None:
            assert net is not None
            extra.update(_init_metadata(start, network_widths(net)))
        else:
            assert widths is not None
            gen = torch.Generator().manual_seed(seed)
            net = build_arch(arch, spec, generator=gen, widths=widths)
            extra["train.widths"] = " ".join(map(str, widths))
        rate = lr if lr is not None else DEFAULTS["finetune_lr" if start else "lr"]
        fit(net, data, epochs=epochs, seed=seed, batch_size=batch_size, lr=rate, log=say)
        extra["train.lr"] = f"{rate:g}"
        extra["train.versions"] = versions(torch)
        path = export_onnx(net, spec, out, extra=extra)
    say(f"wrote {path} ({path.stat().st_size} bytes) in {time.perf_counter() - t0:.1f} s")
    return path


def _check_widths(widths: Sequence[int]) -> tuple[int, int, int]:
    if len(widths) != 3:
        raise InvalidParameter(f"widths: {widths!r} must be three channel counts")
    for i, v in enumerate(widths):
        whole = not isinstance(v, bool) and isinstance(v, int | np.integer)
        if not (whole and 1 <= v <= MAX_WIDTH):
            raise InvalidParameter(
                f"widths[{i}]: got {v!r}; must be an integer from 1 to {MAX_WIDTH}"
            )
    return (int(widths[0]), int(widths[1]), int(widths[2]))


def _init_metadata(start: Model, widths: str | None) -> dict[str, str]:
    """What a fine-tuned model records of the model it started from, whose network has
    ``widths`` (:func:`~highfive.models._arch.network_widths`: the network's, not what
    the metadata says)."""
    meta = metadata_of(start.data)
    out = {"train.init": f"{start.name} (sha256 {start.sha256})"}
    for key in ("seed", "n_traces", "failures"):
        if f"train.{key}" in meta:
            out[f"train.init_{key}"] = meta[f"train.{key}"]
    if widths is not None:
        out["train.widths"] = out["train.init_widths"] = widths
    # How the starting network was pruned stays true of the fine-tuned one.
    out.update({k: v for k, v in meta.items() if k.startswith("train.prune_")})
    return out
