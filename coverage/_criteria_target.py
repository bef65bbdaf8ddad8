"""``fits_target``: does each ONNX model of a run fit a watch microcontroller?

The estimate (flash, RAM, duty cycle on a target profile) is made by
``highfive.models.estimate_target``, which this package cannot import (models sits
above coverage): the command line injects it with :func:`register_target_estimator`
(``highfive.models.register_gate_estimator`` does it for library use). The estimator
loads each model from the source campaign.json recorded and refuses it if its SHA-256
is not the one the campaign ran, so a run and gate file give the same verdict as long
as the model files are the run's (the estimate is arithmetic on the file, no timing).

Options: ``target`` (a shipped profile name or a profile ``.toml`` file, required), and
optional limits tighter than the profile's: ``max_flash_bytes`` (weights + code
allowance), ``max_ram_bytes`` (activations + buffers + RAM allowance),
``max_duty_cycle`` (a fraction of the core's time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from highfive.generators import ConfigError, HighfiveError, show_number

from ._criteria import (
    Criterion,
    CriterionKind,
    Option,
    Outcome,
    number,
    register_criterion,
    whole,
)

if TYPE_CHECKING:
    from ._gaterun import GateRun

__all__ = [
    "FitsTarget",
    "TargetCheck",
    "TargetEstimator",
    "check_targets",
    "register_target_estimator",
]

TargetEstimator = Callable[[str, str, str], Mapping[str, Any]]
"""(model source, SHA-256 the run recorded, target) -> the estimate as
``highfive.models.TargetEstimate.to_dict`` gives it; raises ConfigError or
ModelError (unknown target, changed model)."""

TargetCheck = Callable[[str], object]
"""target -> anything; raises ConfigError for an unknown target or a bad profile."""

_ESTIMATORS: dict[str, TargetEstimator] = {}
_CHECKS: dict[str, TargetCheck] = {}


def register_target_estimator(estimator: TargetEstimator, check: TargetCheck | None = None) -> None:
    """Give ``fits_target`` the function that estimates a model on a target, and the
    one that checks a target when a gate file is read (so that a bad target is a bad
    gate file, refused before any run is judged)."""
    _ESTIMATORS["target"] = estimator
    if check is not None:
        _CHECKS["target"] = check


def check_targets(criteria: Sequence[Criterion]) -> None:
    """Check the target of every ``fits_target`` criterion with the registered check
    (none registered: checked when the gate is evaluated).

    Raises
    ------
    ConfigError
        One line naming the criterion and the target.
    """
    check = _CHECKS.get("target")
    for c in criteria:
        if check is None or c.kind != FitsTarget.kind:
            continue
        target = c.options["target"]
        try:
            check(target)
        except HighfiveError as exc:  # as the estimate would say it
            raise ConfigError(
                f"criterion {c.name!r} (fits_target, target {target!r}): {exc}"
            ) from None


def _estimator() -> TargetEstimator:
    try:
        return _ESTIMATORS["target"]
    except KeyError:
        raise ConfigError(
            "fits_target: no target estimator is registered; call "
            "highfive.models.register_gate_estimator() first (the highfive command does)"
        ) from None


def _target_name(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


_KIB = 1024


@register_criterion
class FitsTarget(CriterionKind):
    """The model fits the target's flash, RAM and duty cycle (and the optional limits).

    ``target`` is a shipped target's name or a profile ``.toml`` file; the optional
    ``max_flash_bytes``, ``max_ram_bytes`` and ``max_duty_cycle`` (a fraction in (0, 1])
    set tighter limits than the target's own.
    """

    kind = "fits_target"
    options: ClassVar[Mapping[str, Option]] = {
        "target": Option("must be a target name or a profile .toml file", _target_name),
        "max_flash_bytes": whole(0, "must be a whole number of bytes >= 0", default=None),
        "max_ram_bytes": whole(0, "must be a whole number of bytes >= 0", default=None),
        "max_duty_cycle": number(
            "must be a fraction in (0, 1], e.g. 0.1", low=0, high=1, open_low=True, default=None
        ),
    }
    onnx_only = True
    file_options = ("target",)

    def threshold(self, o: Mapping[str, Any]) -> str:
        extra = [
            f"{label} <= {fmt(o[key])}"
            for key, label, fmt in (
                ("max_flash_bytes", "flash", lambda v: f"{v:,} B"),
                ("max_ram_bytes", "RAM", lambda v: f"{v:,} B"),
                ("max_duty_cycle", "duty", lambda v: f"{show_number(100 * v)} %"),
            )
            if o[key] is not None
        ]
        return f"fits {o['target']}" + (f", {', '.join(extra)}" if extra else "")

    def _estimate(self, c: Criterion, model: str, run: GateRun) -> Mapping[str, Any]:
        entry = run.models[model]
        target = c.options["target"]
        source = run.dir.model_files(run.record)[model]  # where it is now, if moved
        try:
            return _estimator()(source, str(entry.get("sha256")), target)
        except HighfiveError as exc:  # name the criterion: a gate may hold several
            why = str(exc).removeprefix("fits_target: ")
            raise type(exc)(
                f"criterion {c.name!r} (fits_target, target {target!r}): {why}"
            ) from None

    def targets(self, c: Criterion, run: GateRun) -> list[str | None]:
        models = super().targets(c, run)
        for m in models:  # an unknown target or a changed model: refused up front
            self._estimate(c, str(m), run)
        return models

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        o = c.options
        est = self._estimate(c, str(model), run)
        fits = dict(est["fits"])
        limits = {
            "flash": (est["flash_need_bytes"], o["max_flash_bytes"]),
            "ram": (est["ram_need_bytes"], o["max_ram_bytes"]),
            "duty_cycle": (est["duty_cycle"], o["max_duty_cycle"]),
        }
        for key, (need, limit) in limits.items():
            if limit is not None and need > limit:
                fits[key] = False
        failed = [k for k in ("flash", "ram", "duty_cycle") if not fits[k]]
        value = "fits" if not failed else "does not fit: " + ", ".join(failed)
        detail = (
            f"on {est['target']['name']}: flash {est['flash_need_bytes'] / _KIB:,.1f} of "
            f"{est['flash_bytes'] / _KIB:,.1f} KiB, RAM {est['ram_need_bytes'] / _KIB:,.1f} of "
            f"{est['ram_bytes'] / _KIB:,.1f} KiB, duty cycle {100 * est['duty_cycle']:.2f} % of "
            f"{100 * est['target']['max_duty_cycle']:g} % ({est['macs_per_s']:,.0f} MACs/s); "
            "estimates from the profile's figures"
        )
        return value, not failed, detail
