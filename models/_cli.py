"""``highfive model info|target|train|quantize``: the model subcommands of the CLI.

:func:`add_model_commands` adds them to the main parser's subparsers; each handler
returns an exit status and raises :class:`~highfive.generators.HighfiveError` subclasses
for anything the user can fix (the main CLI prints those as one ``error: ...`` line).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from highfive.generators import InvalidParameter
from highfive.harness import int_at_least

__all__ = ["add_model_commands"]


_positive_int = int_at_least(1)
_seed = int_at_least(0)


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
        f"int8 (QDQ)  {'yes' if prof['quantized'] else 'no'}",
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
    train = {k.removeprefix("train."): v for k, v in sorted(meta.items()) if k.startswith("train.")}
    versions = train.pop("versions", None)
    if train:
        lines.append("trained     " + ", ".join(f"{k}={v}" for k, v in train.items()))
    if versions:
        lines.append(f"versions    {versions}")
    return lines


def _columns(time_step: int) -> str:
    return "every column" if time_step == 1 else f"every {time_step}th column (time_step)"


def _cmd_info(args: argparse.Namespace) -> int:
    from ._profile import profile

    for line in format_profile(profile(args.model)):
        print(line)
    return 0


def _cmd_target(args: argparse.Namespace) -> int:
    from ._target import estimate_target

    estimate = estimate_target(args.model, args.target)  # everything before any output
    if args.json:
        print(json.dumps(estimate.to_dict(), indent=2))
    else:
        print("\n".join(estimate.table()))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ._train import require_torch, train

    _check_out(args.out)  # the user's input first,
    require_torch()  # then what the machine lacks, before generating any data
    train(
        seed=args.seed,
        n_traces=args.traces,
        epochs=args.epochs,
        out=args.out,
        threads=args.threads,
        time_step=args.time_step,
        widths=tuple(args.widths),
        log=print,
    )
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from ._quantize import quantize

    _check_out(args.out)
    path = quantize(
        args.float_model, args.out, n_calibration_traces=args.calibration_traces, seed=args.seed
    )
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise InvalidParameter(f"--out: {os.fspath(out)!r} is a directory; give a file name")
    if out.suffix != ".onnx":
        raise InvalidParameter(
            f"--out: {os.fspath(out)!r} does not end in .onnx; name the model file *.onnx"
        )


def add_model_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``model`` with its ``info``, ``target``, ``train`` and ``quantize`` subcommands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The main parser's ``add_subparsers()`` result.

    Returns
    -------
    argparse.ArgumentParser
        The ``model`` parser. Each leaf sets ``handler`` (Namespace -> exit status).
    """
    from ._defaults import CALIBRATION_SEED, CALIBRATION_TRACES, DEFAULTS
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
        "'train' extra: pip install 'highfive[train]'.",
    )
    p.add_argument("--seed", type=_seed, default=DEFAULTS["seed"], help="root seed (default 0)")
    p.add_argument(
        "--traces",
        type=_positive_int,
        default=DEFAULTS["n_traces"],
        help=f"generated traces (default {DEFAULTS['n_traces']})",
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=DEFAULTS["epochs"],
        help=f"training epochs (default {DEFAULTS['epochs']})",
    )
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=DEFAULTS["threads"],
        help=f"PyTorch threads; part of reproducibility (default {DEFAULTS['threads']})",
    )
    p.add_argument(
        "--time-step",
        type=_positive_int,
        default=DEFAULTS["time_step"],
        metavar="K",
        help="keep every K-th scalogram column (ModelSpec.time_step; "
        f"default {DEFAULTS['time_step']})",
    )
    p.add_argument(
        "--widths",
        type=_positive_int,
        nargs=3,
        default=list(DEFAULTS["widths"]),
        metavar=("C1", "C2", "C3"),
        help="output channels of the three convolutions (default "
        f"{' '.join(map(str, DEFAULTS['widths']))})",
    )
    p.add_argument("--out", type=Path, required=True, metavar="PATH", help="output .onnx file")
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser(
        "quantize",
        help="make the static int8 (QDQ) twin of a float model",
        description="Quantize a float model to int8 (QDQ, per-channel weights) with "
        "ONNX Runtime, calibrated on generated windows; the metadata is copied.",
    )
    p.add_argument("float_model", metavar="FLOAT_MODEL", help="'float' or an ONNX file")
    p.add_argument("--out", type=Path, required=True, metavar="PATH", help="output .onnx file")
    p.add_argument(
        "--calibration-traces",
        type=_positive_int,
        default=CALIBRATION_TRACES,
        metavar="N",
        help=f"generated traces for calibration (default {CALIBRATION_TRACES})",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=CALIBRATION_SEED,
        help=f"calibration seed (default {CALIBRATION_SEED})",
    )
    p.set_defaults(handler=_cmd_quantize)
    return model
