"""The shipped window classifiers and the code that trains, quantizes and profiles them.

Shipped files (load them with ``highfive.harness._model.Model.load("float")`` or
``Model.load("int8")``, which use :mod:`importlib.resources`):

- ``highfive-cnn-float32.onnx``: the float model, trained by :func:`train`;
- ``highfive-cnn-int8.onnx``: its static int8 (QDQ) twin, made by :func:`quantize`;
- one ``*.sha256`` file per model (``sha256sum`` format) and ``MODEL_CARD.md``.

Importing this package does not import PyTorch: only :func:`train` needs it (the
``train`` extra).

>>> from highfive.models import profile
>>> profile("int8")["parameters"] <= 100_000  # doctest: +SKIP
True
"""

from ._cli import add_model_commands
from ._dataset import WindowSet, make_windows, norm_stats, window_metrics, window_set
from ._export import export_onnx, with_metadata
from ._profile import count_macs, count_parameters, profile
from ._quantize import quantize
from ._train import build_network, train

__all__ = [
    "WindowSet",
    "add_model_commands",
    "build_network",
    "count_macs",
    "count_parameters",
    "export_onnx",
    "make_windows",
    "norm_stats",
    "profile",
    "quantize",
    "train",
    "window_metrics",
    "window_set",
    "with_metadata",
]
