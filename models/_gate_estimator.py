"""The target estimate of the ``fits_target`` gate criterion (injected into coverage).

:mod:`highfive.coverage` cannot import this package, so the command line (or a library
user) hands it :func:`gate_estimate` with :func:`register_gate_estimator`.
"""

from __future__ import annotations

from typing import Any

from highfive.generators import ConfigError

__all__ = ["gate_estimate", "register_gate_estimator"]


def gate_estimate(source: str, sha256: str, target: str) -> dict[str, Any]:
    """The estimate of the model a run recorded (``source``, ``sha256``) on ``target``.

    Raises
    ------
    ConfigError
        The target is unknown or bad, or the model file is no longer the run's.
    """
    from highfive.harness import Model

    from ._target import estimate_target
    from ._target_profile import TargetProfile

    profile = TargetProfile.load(target)  # an unknown target before the model
    model = Model.load(source)
    if model.sha256 != sha256:
        raise ConfigError(
            f"fits_target: model {source!r} has changed since the run (sha256 "
            f"{model.sha256[:12]}, the run used {sha256[:12]}); restore it"
        )
    return estimate_target(model, profile).to_dict()


def register_gate_estimator() -> None:
    """Let the ``fits_target`` gate criterion estimate models (see module docstring)."""
    from highfive.coverage import register_target_estimator

    from ._target_profile import TargetProfile

    register_target_estimator(gate_estimate, check=TargetProfile.load)
