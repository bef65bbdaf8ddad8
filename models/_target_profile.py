"""Target profiles: a microcontroller's figures (:class:`TargetProfile`), read from TOML
and checked, and the profiles shipped in ``targets/``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from highfive.generators import ConfigError, is_number, read_toml

__all__ = ["DEFAULT_TARGET", "PROFILE_KEYS", "TargetProfile", "shipped_targets"]

DEFAULT_TARGET = "nrf52832"
"""The profile ``highfive model target`` uses without ``--target``."""


@dataclass(frozen=True)
class TargetProfile:
    """A microcontroller the classifier must fit, with the figures the estimate uses.

    Attributes
    ----------
    name : str
        The profile's name (its file's stem).
    description, core : str
        One line about the part; its CPU core.
    clock_mhz : float
        Core clock, MHz (> 0).
    flash_kib, ram_kib : float
        Non-volatile memory and RAM, KiB (flash > 0, RAM >= 1).
    code_allowance_kib, ram_allowance_kib : float
        What the rest of the firmware keeps of each, KiB (0 to the memory's size).
    macs_per_cycle_int8, macs_per_cycle_float : float
        Multiply-accumulates per clock cycle the int8 and float kernels are taken to
        reach on this core (> 0): estimates, see the profile's comments.
    max_duty_cycle : float
        Largest share of the core's time the classifier may use, in (0, 1].
    source : str
        Where the profile was read from (errors name it).
    """

    name: str
    description: str
    core: str
    clock_mhz: float
    flash_kib: float
    ram_kib: float
    code_allowance_kib: float
    ram_allowance_kib: float
    macs_per_cycle_int8: float
    macs_per_cycle_float: float
    max_duty_cycle: float
    source: str = ""

    def __post_init__(self) -> None:
        where = f"target profile {(self.source or self.name)!r}"
        for key in ("name", "description", "core"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: {key} = {value!r} is not allowed; give a text")
        for key, low, closed, high, unit in _NUMBERS:
            value = getattr(self, key)
            ok = is_number(value) and math.isfinite(value)
            ok = ok and (value >= low if closed else value > low) and value <= high
            if not ok and key == "max_duty_cycle" and is_number(value) and value > 1:
                raise ConfigError(
                    f"{where}: max_duty_cycle = {value!r} is not allowed; must be in (0, 1] "
                    "(a share of the core's time)"
                )
            if not ok:
                rule = f">= {low:g}" if closed else f"> {low:g}"
                raise ConfigError(
                    f"{where}: {key} = {value!r} is not allowed; must be a finite number "
                    f"{rule} and at most {high:,.0f}{unit}"
                )
        for key, whole in (("code_allowance_kib", "flash_kib"), ("ram_allowance_kib", "ram_kib")):
            if getattr(self, key) > getattr(self, whole):
                raise ConfigError(
                    f"{where}: {key} = {getattr(self, key)!r} is not allowed; must be at "
                    f"most {whole} = {getattr(self, whole)!r}"
                )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, name: str, source: str) -> TargetProfile:
        """A profile from a TOML table; unknown or missing keys are a :class:`ConfigError`."""
        where = f"target profile {source!r}"
        allowed = PROFILE_KEYS
        for key in data:
            if key not in allowed:
                raise ConfigError(
                    f"{where}: unknown key {key!r}; allowed keys: {', '.join(allowed)}"
                )
        missing = [k for k in allowed if k not in data]
        if missing:
            raise ConfigError(f"{where}: missing key {missing[0]!r}; every key is required")
        return cls(name=name, source=source, **dict(data))

    @classmethod
    def load(cls, target: str | os.PathLike[str] = DEFAULT_TARGET) -> TargetProfile:
        """A shipped profile by name (see :func:`shipped_targets`) or a ``.toml`` file."""
        key = os.fspath(target)
        if key in shipped_targets():
            ref = resources.files("highfive.models").joinpath("targets", f"{key}.toml")
            with resources.as_file(ref) as path:
                data = read_toml(path, "target profile")
            return cls.from_mapping(data, name=key, source=key)
        if not key.endswith(".toml"):
            raise ConfigError(
                f"target: {key!r} is neither a shipped profile ({', '.join(shipped_targets())}) "
                "nor a .toml file"
            )
        path = Path(key)
        return cls.from_mapping(read_toml(path, "target profile"), name=path.stem, source=key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# (key, lower bound, bound included, unit) for the numeric keys.
_MOST_KIB = 2.0**40
"""Largest memory a profile may give, KiB (a pebibyte): a microcontroller has at most
megabytes, and 1e308 KiB overflowed to infinity in bytes."""
_NUMBERS = (
    ("clock_mhz", 0.0, False, 1e5, " (MHz)"),
    ("flash_kib", 0.0, False, _MOST_KIB, " (KiB)"),
    ("ram_kib", 1.0, True, _MOST_KIB, " (KiB)"),
    ("code_allowance_kib", 0.0, True, _MOST_KIB, " (KiB)"),
    ("ram_allowance_kib", 0.0, True, _MOST_KIB, " (KiB)"),
    # A thousandth of a MAC a cycle is far below any core; 1e-320 made the duty cycle inf.
    ("macs_per_cycle_int8", 1e-3, True, 1e6, ""),
    ("macs_per_cycle_float", 1e-3, True, 1e6, ""),
    ("max_duty_cycle", 0.0, False, 1.0, ""),
)
PROFILE_KEYS = tuple(f.name for f in fields(TargetProfile) if f.name not in ("name", "source"))
"""The keys a profile file must have, no more."""


def shipped_targets() -> tuple[str, ...]:
    """Names of the profiles shipped in ``highfive.models`` (``targets/*.toml``)."""
    folder = resources.files("highfive.models").joinpath("targets")
    if not folder.is_dir():
        return ()
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )
