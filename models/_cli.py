"""``highfive model info|target|train|prune|quantize|compare``: the model subcommands of the CLI.

:func:`add_model_commands` adds them to the main parser's subparsers; each handler
returns an exit status and raises :class:`~highfive.generators.HighfiveError` subclasses
for anything the user can fix (the main CLI prints those as one ``error: ...`` line).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from highfive.generators import HighfiveError, InvalidParameter, number_from_text, show_text
from highfive.harness import int_at_least, int_between, json_text, path_arg

from ._defaults import MAX_EPOCHS, MAX_OVERSAMPLE, MAX_SEED, MAX_THREADS, MAX_TRACES

__all__ = ["add_model_commands"]


_positive_int = int_at_least(1)
_count = int_at_least(0)
_epochs = int_between(1, MAX_EPOCHS)
_fine_tuning = int_between(0, MAX_EPOCHS)
_seed = int_between(0, MAX_SEED)
_traces = int_between(1, MAX_TRACES)
_threads = int_between(1, MAX_THREADS)


def _fraction(text: str) -> float:
    value = number_from_text(text)  # ASCII digits, as every number argument
    if value is None or not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction in [0, 1)")
    return value


def _int8_line(prof: dict[str, Any]) -> str:
    """Whether the MACs run in int8: all, some (how many) or none (and why a model with
    quantize/dequantize nodes may still run every MAC in float)."""
    fmt, int8, macs = prof["int8_format"], prof["int8_macs"], prof["macs"]
    if fmt is None:
        return "no"
    if int8 == 0:
        return f"no ({fmt} nodes, but no multiply-accumulate runs in int8)"
    if int8 < macs:
        return f"partly ({fmt}: {int8:,} of the {macs:,} MACs per window run in int8)"
    return f"yes ({fmt})"


def format_profile(prof: dict[str, Any]) -> list[str]:
    """Lines ``highfive model info`` prints for one :func:`profile` result."""
    spec = prof["spec"]
    meta: dict[str, str] = prof["metadata"]
    freqs = spec.freqs_hz
    lines = [
        f"model       {prof['name']}",
        f"sha256      {prof['sha256']}",
        f"bytes       {prof['bytes']:,}",
        f"parameters  {prof['parameters']:,}",
        f"MACs        {prof['macs']:,} per window",
        f"int8        {_int8_line(prof)}",
        f"latency     {prof['latency_b1_ms']:.3f} ms at batch 1, "
        f"{prof['latency_b256_ms']:.2f} ms at batch 256 "
        f"({prof['per_window_b256_us']:.1f} us/window; 1 thread, median)",
        f"input       (batch, {', '.join(map(str, prof['input_shape']))}) float32",
        f"preprocess  {spec.sample_rate:g} Hz, window {spec.window_s:g} s, hop {spec.hop_s:g} s, "
        f"{spec.wavelet}, {len(freqs)} scales {min(freqs):.3g}-{max(freqs):.3g} Hz, "
        f"{_columns(spec.time_step)}, log1p(|W|/{spec.norm_scale:g})",
        f"normalise   mean {list(spec.norm_mean)} std {list(spec.norm_std)}",
        f"classes     {list(spec.class_names)} (positive {spec.positive_class!r})",
        f"counter     on {spec.on:g}, off {spec.off:g}, min_run {spec.min_run}, "
        f"refractory {spec.refractory_s:g} s",
    ]
    from ._arch import widths_text

    widths = widths_text(prof["conv_channels"])
    if widths is not None:
        line = f"widths      {widths} (output channels of the first three convolutions)"
        stated = meta.get("train.widths")
        if stated is not None and stated.split() != widths.split():
            line += f"; its metadata's train.widths={stated} is not this network's"
        lines.append(line)
    from ._failures import summarize_corpora

    # A corpus's compressed case ids (thousands of characters) as their SHA-256, as the
    # int8 twin keeps them: the line stays one a person reads.
    try:
        shown = summarize_corpora(meta)
    except HighfiveError:  # a damaged corpus record: shown as it is
        shown = dict(meta)
    train = {
        k.removeprefix("train."): v for k, v in sorted(shown.items()) if k.startswith("train.")
    }
    versions = train.pop("versions", None)
    if train:
        lines.append("trained     " + ", ".join(f"{k}={v}" for k, v in train.items()))
    if versions:
        lines.append(f"versions    {versions}")
    return lines


def _columns(time_step: int) -> str:
    return "every column" if time_step == 1 else f"one column in {time_step} (time_step)"


def _cmd_info(args: argparse.Namespace) -> int:
    from ._profile import profile

    for line in format_profile(profile(args.model)):
        print(show_text(line))  # a model's metadata is anyone's text: escapes, not codes
    return 0


def _cmd_target(args: argparse.Namespace) -> int:
    from ._target import estimate_target

    estimate = estimate_target(args.model, args.target)  # everything before any output
    if args.json:
        print(json_text(estimate.to_dict()), end="")
    else:
        print("\n".join(map(show_text, estimate.table())))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ._defaults import DEFAULT_OVERSAMPLE
    from ._failures import load_corpora
    from ._train import require_torch, train

    _check_out(args.out, args.force)  # the user's input first,
    if args.oversample is not None and not args.add_failures:
        raise InvalidParameter(
            f"--oversample: {args.oversample} repeats failing traces, and no --add-failures "
            "run gives any; add a run's failures, or drop --oversample"
        )
    if args.init is not None:
        _check_model_metadata(args.init, "--init: ")
    load_corpora(args.add_failures)  # every corpus checked before anything else
    require_torch()  # then what the machine lacks, before generating any data
    train(
        seed=args.seed,
        n_traces=args.traces,
        epochs=args.epochs,
        out=args.out,
        threads=args.threads,
        time_step=args.time_step,
        widths=None if args.widths is None else tuple(args.widths),
        arch=args.arch,
        init=args.init,
        add_failures=args.add_failures,
        oversample=DEFAULT_OVERSAMPLE if args.oversample is None else args.oversample,
        log=print,
    )
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from ._prune import fine_tuning_data, prune_model
    from ._train import require_torch

    _check_out(args.out, args.force)
    label, meta = _check_model_metadata(args.model)
    fine_tuning_data(meta, label, args.traces, args.seed)  # a default from the metadata too
    require_torch()
    prune_model(
        args.model,
        args.out,
        sparsity=args.sparsity,
        epochs=args.epochs,
        n_traces=args.traces,
        seed=args.seed,
        threads=args.threads,
        log=print,
    )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from ._compare import check_parquet, compare_runs, write_compare

    check_parquet(args.out)
    result = compare_runs(
        args.runs,
        reference=args.reference,
        target=args.target,
        traces=args.traces,
        seed=args.seed,
        ways=args.ways,
    )
    if args.json:
        print(json_text(result.to_dict()), end="")
    else:
        print("\n".join(map(show_text, result.lines())))
    for path in write_compare(result, out=args.out, plot=args.plot):
        print(show_text(f"wrote {path}"))
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from ._quantize import quantize

    _check_out(args.out, args.force)
    path = quantize(
        args.float_model,
        args.out,
        n_calibration_traces=args.calibration_traces,
        seed=args.seed,
        fmt=args.format,
    )
    print(show_text(f"wrote {path} ({path.stat().st_size:,} bytes)"))
    return 0


def _shipped_model_files() -> list[Path]:
    """The model files the installed package ships: the reference pair and the variants."""
    from importlib import resources

    from highfive.harness import SHIPPED

    root = Path(str(resources.files("highfive.models")))
    return [root / n for n in SHIPPED.values()] + sorted((root / "variants").glob("*.onnx"))


def _check_model_metadata(model: str, prefix: str = "") -> tuple[str, dict[str, str]]:
    """Load ``model`` and check the ``train.*`` metadata the command reads; return how
    messages name the model and its metadata."""
    from highfive.harness import Model

    from ._export import metadata_of
    from ._failures import check_train_metadata

    m = Model.load(model)
    label, meta = f"{prefix}model {m.label!r}", metadata_of(m.data)
    check_train_metadata(meta, label)
    return label, meta


def _check_out(out: Path, force: bool) -> None:
    if out.is_dir():
        raise InvalidParameter(f"--out: {os.fspath(out)!r} is a directory; give a file name")
    if out.suffix != ".onnx":
        raise InvalidParameter(
            f"--out: {os.fspath(out)!r} does not end in .onnx; name the model file *.onnx"
        )
    for shipped in _shipped_model_files():  # a symbolic or hard link is the file
        if out.exists() and shipped.exists() and os.path.samefile(out, shipped):
            raise InvalidParameter(
                f"--out: {os.fspath(out)!r} is the shipped model file {shipped.name} of the "
                "installed package (its .sha256 and every run that used it name it); "
                "write the model to another file"
            )
    if not force and (out.exists() or out.is_symlink()):
        raise InvalidParameter(
            f"--out: {os.fspath(out)!r} exists (a run that used that model could no longer "
            "be replayed); give another file name, or --force to replace it"
        )


def add_model_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``model`` with its ``info``, ``target``, ``train``, ``prune``, ``quantize`` and
    ``compare`` subcommands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The main parser's ``add_subparsers()`` result.

    Returns
    -------
    argparse.ArgumentParser
        The ``model`` parser. Each leaf sets ``handler`` (Namespace -> exit status).
    """
    from ._gate_estimator import register_gate_estimator

    register_gate_estimator()  # the fits_target gate criterion estimates through it
    from ._defaults import (
        ARCHS,
        CALIBRATION_SEED,
        CALIBRATION_TRACES,
        DEFAULT_OVERSAMPLE,
        DEFAULTS,
        FALLBACK_SEED,
        FALLBACK_TRACES,
        HELD_OUT_SEED,
        MAX_WIDTH,
    )
    from ._target_profile import DEFAULT_TARGET, shipped_targets

    model = subparsers.add_parser(
        "model",
        help="inspect, budget, train or quantize a window classifier",
        description="Inspect, budget for a microcontroller, train or quantize the ONNX "
        "window classifier.",
    )
    sub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    p = sub.add_parser(
        "info",
        help="size, parameters, MACs, latency and metadata of a model",
        description="Print a model's bytes, parameters, multiply-accumulates per window, "
        "ONNX Runtime latency at batch 1 and 256 (one thread), SHA-256 and metadata.",
    )
    p.add_argument("model", metavar="MODEL", help="'float', 'int8' or an ONNX file")
    p.set_defaults(handler=_cmd_info)

    p = sub.add_parser(
        "target",
        help="does a model fit a watch microcontroller (flash, RAM, CPU time)?",
        description="Estimate a model's weight bytes, peak activation memory (node by "
        "node, at batch 1), MACs per second at its hop, cycles per second and duty cycle "
        "on a target microcontroller, and whether flash, RAM and duty cycle fit the "
        "target profile. Estimates from the profile's stated figures, not measurements.",
    )
    p.add_argument("model", metavar="MODEL", help="'float', 'int8' or an ONNX file")
    p.add_argument(
        "--target",
        default=DEFAULT_TARGET,
        metavar="NAME|PATH.toml",
        help=f"a shipped profile ({', '.join(shipped_targets())}) or a profile file "
        f"(default {DEFAULT_TARGET})",
    )
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p.set_defaults(handler=_cmd_target)

    p = sub.add_parser(
        "train",
        help="train the float model on generated data (needs PyTorch)",
        description="Generate traces over the default space, train the window "
        "classifier and export it as a self-describing ONNX file. The same seed, "
        "arguments and library versions reproduce the same weights. Needs the "
        "'train' extra: pip install \".[train]\" in the highfive source folder.",
    )
    p.add_argument("--seed", type=_seed, default=DEFAULTS["seed"], help="root seed (default 0)")
    p.add_argument(
        "--traces",
        type=_traces,
        default=DEFAULTS["n_traces"],
        help=f"generated traces, 1 to {MAX_TRACES:,} (default {DEFAULTS['n_traces']})",
    )
    p.add_argument(
        "--epochs",
        type=_epochs,
        default=DEFAULTS["epochs"],
        help=f"training epochs, 1 to {MAX_EPOCHS:,} (default {DEFAULTS['epochs']})",
    )
    p.add_argument(
        "--threads",
        type=_threads,
        default=DEFAULTS["threads"],
        help=f"PyTorch threads, 1 to {MAX_THREADS}; part of reproducibility "
        f"(default {DEFAULTS['threads']})",
    )
    p.add_argument(
        "--arch",
        choices=ARCHS,
        default="reference",
        help="network: reference (the shipped design), small (widths 12 24 24) or "
        "streaming (causal over scalogram columns; time_step 2) (default reference)",
    )
    p.add_argument(
        "--time-step",
        type=_positive_int,
        default=None,
        metavar="K",
        help="keep every K-th scalogram column (ModelSpec.time_step; default: the "
        "architecture's, 3, or 2 for streaming)",
    )
    p.add_argument(
        "--widths",
        type=int_between(1, MAX_WIDTH),
        nargs=3,
        default=None,
        metavar=("C1", "C2", "C3"),
        help=f"channel counts of the architecture's three stages, 1 to {MAX_WIDTH} each "
        f"(default: reference {' '.join(map(str, DEFAULTS['widths']))}, small 12 24 24, "
        "streaming 32 32 32)",
    )
    p.add_argument(
        "--init",
        metavar="MODEL",
        help="fine-tune this float model ('float' or an ONNX file: its network, weights "
        "and preprocessing) instead of training from scratch (learning rate "
        f"{DEFAULTS['finetune_lr']:g})",
    )
    p.add_argument(
        "--add-failures",
        type=path_arg,
        nargs="+",
        default=[],
        metavar="RUN",
        help="add the failure corpora of these complete runs (same parameter space) to "
        "the training data; their seeds and case ids are recorded in the model",
    )
    p.add_argument(
        "--oversample",
        type=int_between(1, MAX_OVERSAMPLE),
        metavar="K",
        help=f"with --add-failures: repeat each failing trace's windows K times, 1 to "
        f"{MAX_OVERSAMPLE} (copies in memory; default {DEFAULT_OVERSAMPLE})",
    )
    p.add_argument("--out", type=path_arg, required=True, metavar="PATH", help="output .onnx file")
    p.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser(
        "prune",
        help="remove the weakest channels of a float model, then fine-tune (needs PyTorch)",
        description="Structured pruning: remove the fraction SPARSITY of every "
        "convolution's output channels (smallest L1 norm of their filters) and the "
        "matching inputs of the next layer, fine-tune on traces generated as the "
        "model's training did (its seed), and export with the same metadata.",
    )
    p.add_argument("model", metavar="MODEL", help="'float' or a float ONNX file")
    p.add_argument(
        "--sparsity",
        type=_fraction,
        default=0.5,
        help="fraction of each convolution's channels removed, in [0, 1) (default 0.5: "
        "half of them)",
    )
    p.add_argument(
        "--epochs",
        type=_fine_tuning,
        default=3,
        help=f"fine-tuning epochs, 0 for none, at most {MAX_EPOCHS:,} (default 3)",
    )
    p.add_argument(
        "--traces",
        type=_traces,
        default=None,
        help=f"fine-tuning traces, 1 to {MAX_TRACES:,} (default: the model's "
        f"train.n_traces, or {FALLBACK_TRACES} for a model that records none)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=None,
        help=f"fine-tuning seed (default: the model's train.seed, or {FALLBACK_SEED} for a "
        "model that records none)",
    )
    p.add_argument(
        "--threads",
        type=_threads,
        default=1,
        help=f"PyTorch threads, 1 to {MAX_THREADS} (default 1)",
    )
    p.add_argument("--out", type=path_arg, required=True, metavar="PATH", help="output .onnx file")
    p.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    p.set_defaults(handler=_cmd_prune)

    p = sub.add_parser(
        "compare",
        help="model variants side by side: size, cost, target fit, accuracy, failures",
        description="For every ONNX model of the runs: parameters, MACs, bytes, target "
        "fit, latency at batch 1 and 256, window accuracy on held-out generated traces, "
        "the campaign failure rate with its 95 % upper bound, the cells where it fails "
        "significantly more than the reference, and its agreement with its int8 (or "
        "float) twin in the same run. The runs must be complete and over one space.",
    )
    p.add_argument("runs", type=path_arg, nargs="+", metavar="RUN", help="run directories")
    p.add_argument(
        "--reference",
        metavar="ID",
        help="the model the others are compared with: its id, CAMPAIGN_NAME/ID or "
        "RUN_PATH/ID, naming one model only (default: the first run's first)",
    )
    p.add_argument(
        "--target",
        default=DEFAULT_TARGET,
        metavar="NAME|PATH.toml",
        help=f"target profile for the fit column (default {DEFAULT_TARGET})",
    )
    p.add_argument(
        "--traces",
        type=_traces,
        default=300,
        help=f"held-out traces for window accuracy, 1 to {MAX_TRACES:,} (default 300)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=HELD_OUT_SEED,
        help=f"seed of the held-out traces (default {HELD_OUT_SEED}); a seed a compared "
        "model was trained on (its train.seed, train.init_seed or train.prune_traces) is "
        "refused",
    )
    p.add_argument(
        "--ways",
        type=_positive_int,
        nargs="+",
        default=[1],
        metavar="T",
        help="t-way cells compared with the reference (default 1)",
    )
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument(
        "--out", type=path_arg, metavar="FILE.parquet", help="write the table as Parquet"
    )
    p.add_argument(
        "--plot", type=path_arg, metavar="FILE.png", help="plot failure rate against size"
    )
    p.set_defaults(handler=_cmd_compare, outputs={"out": "file", "plot": "image"})

    p = sub.add_parser(
        "quantize",
        help="make the static int8 twin of a float model (QDQ, or QOperator)",
        description="Quantize a float model to int8 with ONNX Runtime (per-channel "
        "weights; QDQ nodes, or integer operators with --format qoperator), calibrated "
        "on generated windows; the metadata is copied.",
    )
    p.add_argument("float_model", metavar="FLOAT_MODEL", help="'float' or an ONNX file")
    p.add_argument("--out", type=path_arg, required=True, metavar="PATH", help="output .onnx file")
    p.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    p.add_argument(
        "--calibration-traces",
        type=_traces,
        default=CALIBRATION_TRACES,
        metavar="N",
        help=f"generated traces for calibration, 1 to {MAX_TRACES:,} "
        f"(default {CALIBRATION_TRACES})",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=CALIBRATION_SEED,
        help=f"calibration seed (default {CALIBRATION_SEED})",
    )
    p.add_argument(
        "--format",
        choices=("qdq", "qoperator"),
        default="qdq",
        help="qdq: quantize/dequantize pairs around float operators (the shipped int8 "
        "model); qoperator: integer operators (QLinearConv...), fewer nodes and a smaller "
        "file for small networks (default qdq)",
    )
    p.set_defaults(handler=_cmd_quantize)
    return model
