"""Model variants: the architectures ``highfive model train --arch`` builds.

- ``reference``: the shipped network (:func:`highfive.models.build_network`), widths
  16 32 32, scalogram columns every 3 samples (``time_step`` 3);
- ``small``: the same network with widths 12 24 24 (0.50M MACs per window instead of
  0.84M, 8.2k parameters). Narrower (8 16 16: 3.7k parameters) is possible with
  ``--widths``, but then the fixed costs of the int8 file (metadata, quantization
  parameters, ~3 kB) keep it above 35 % of the float file (measured 40 %);
- ``streaming``: a causal network over scalogram columns that a watch runs column by
  column. Input (3, S, T) with ``time_step`` 2 (T = 37 columns at 25 Hz per 1.5 s
  window, so the 0.2 s hop is exactly 5 columns), widths 32 32 32 by default::

      Conv 3->C1, kernel (S, 1): every column's 3 x S values -> C1 features, BN, ReLU
      Conv C1->C2, kernel (1, 3), dilation 1, no padding, BN, ReLU
      Conv C2->C3, kernel (1, 3), dilation 2, no padding, BN, ReLU
      Conv C3->C3, kernel (1, 3), dilation 4, no padding, BN, ReLU
      mean over the T - 14 output columns, Linear C3->2

  With widths 24 24 24: 6,336 MACs per column, 25 columns per second, 158,640 MACs per
  second of signal (the reference: 836,416 per window x 5 windows = 4.2M per second).

  Every layer is a valid (unpadded), stride-1 convolution in time, so an output
  column depends on the 15 most recent input columns only, and on nothing that
  depends on the window: when a new scalogram column arrives, the watch computes one
  new column per layer (keeping the last 1, 3, 5 and 9 columns of each layer's input)
  and updates a running sum of the top layer's columns; a window's logits are the
  sum's mean through the Linear layer. The MACs per second of signal are therefore
  the MACs of one column of every layer times columns per second, plus the Linear
  layer per window (:func:`highfive.models.streaming_macs` reads them off the graph).
  The exported ONNX graph computes whole windows, as the harness feeds them, and
  gives the same numbers as the column-by-column computation on the same columns.

Widths (``widths``) are the three channel counts of each design; defaults below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from highfive.generators import InvalidParameter, show
from highfive.harness import ModelSpec

from ._defaults import ARCHS

__all__ = [
    "ARCHS",
    "ARCH_DEFAULTS",
    "STREAM_DILATIONS",
    "build_arch",
    "check_arch",
    "network_arch",
    "network_widths",
]

ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "reference": {"widths": (16, 32, 32), "time_step": 3},
    "small": {"widths": (12, 24, 24), "time_step": 3},
    "streaming": {"widths": (32, 32, 32), "time_step": 2},
}
"""Default widths and ``time_step`` of each architecture."""
STREAM_DILATIONS = (1, 2, 4)
"""Dilations of the streaming network's three temporal convolutions (kernel 3)."""


def check_arch(arch: str, spec: ModelSpec | None = None) -> None:
    """Refuse an unknown architecture, or a spec it cannot run on (one line)."""
    if arch not in ARCHS:
        raise InvalidParameter(f"arch: {show(arch)} is not an architecture; use one of {ARCHS}")
    if arch != "streaming" or spec is None:
        return
    if spec.hop % spec.time_step:
        raise InvalidParameter(
            f"time_step: {spec.time_step} does not divide the hop of {spec.hop} samples, so "
            "consecutive windows share no scalogram column; the streaming network needs a "
            "time_step that divides it (e.g. 2 or 5)"
        )
    receptive = 1 + 2 * sum(STREAM_DILATIONS)
    if spec.input_shape[2] < receptive:
        raise InvalidParameter(
            f"time_step: {spec.time_step} leaves {spec.input_shape[2]} columns per window; the "
            f"streaming network sees {receptive} columns, so use a smaller time_step"
        )


def _streaming(torch: Any, spec: ModelSpec, widths: tuple[int, int, int]) -> Any:
    nn = torch.nn
    n_scales = spec.input_shape[1]

    def block(c_in: int, c_out: int, kernel: tuple[int, int], dilation: int) -> list[Any]:
        conv = nn.Conv2d(c_in, c_out, kernel, dilation=(1, dilation))
        return [conv, nn.BatchNorm2d(c_out), nn.ReLU()]

    c1, c2, c3 = widths
    d1, d2, d3 = STREAM_DILATIONS
    return nn.Sequential(
        *block(3, c1, (n_scales, 1), 1),
        *block(c1, c2, (1, 3), d1),
        *block(c2, c3, (1, 3), d2),
        *block(c3, c3, (1, 3), d3),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(c3, len(spec.class_names)),
    )


def build_arch(
    arch: str, spec: ModelSpec, *, widths: tuple[int, int, int], generator: Any = None
) -> Any:
    """The network of ``arch`` for ``spec`` (logits, training mode).

    Parameters
    ----------
    arch : {"reference", "small", "streaming"}
    spec : ModelSpec
    widths : tuple of 3 int
    generator : torch.Generator, optional
        Initialises the weights (as :func:`highfive.models.build_network` does).

    Returns
    -------
    torch.nn.Sequential
    """
    from ._train import build_network, init_weights, require_torch

    check_arch(arch, spec)
    if arch != "streaming":
        return build_network(spec, generator=generator, widths=widths)
    torch = require_torch()
    with torch.random.fork_rng(devices=[]):
        net = _streaming(torch, spec, widths)
    if generator is not None:
        init_weights(net, generator)
    return net


def widths_text(channels: Sequence[int]) -> str | None:
    """Widths as ``train.widths`` states them (``"16 32 32"``): the first three of the
    convolutions' output ``channels``; None with fewer than three."""
    return " ".join(map(str, channels[:3])) if len(channels) >= 3 else None


def network_widths(net: Any) -> str | None:
    """The widths of a network as ``train.widths`` states them (:func:`widths_text` of
    its convolutions' output channels)."""
    from ._train import require_torch

    nn = require_torch().nn
    return widths_text([m.out_channels for m in net if isinstance(m, nn.Conv2d)])


def network_arch(net: Any, stated: str, label: str) -> str:
    """The architecture of a network rebuilt from a model whose metadata states
    ``stated`` (``train.arch``, one of :data:`ARCHS`): ``streaming`` has no max pool,
    the reference design (``reference`` or its narrower ``small``, which differ in
    widths only) has them.

    Raises
    ------
    InvalidParameter
        ``stated`` is not the network's design (one line naming the model, ``label``,
        and the key).
    """
    from ._train import require_torch

    nn = require_torch().nn
    pools = any(isinstance(m, nn.MaxPool2d) for m in net)
    if pools == (stated == "streaming"):
        design = "max pools: the reference design" if pools else "no max pool: streaming"
        raise InvalidParameter(
            f"{label}: metadata train.arch = {show(stated)} is not its network's ({design})"
        )
    return stated
