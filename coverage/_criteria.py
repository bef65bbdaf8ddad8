"""Gate criteria: one class per kind, in one registry.

A kind is a subclass of :class:`CriterionKind` that names itself (``kind``), lists its
options (``options``: each an :class:`Option` with its default and check), says how
its threshold reads (:meth:`~CriterionKind.threshold`) and evaluates itself on a run
(:meth:`~CriterionKind.evaluate`); :func:`register_criterion` adds it to
:data:`CRITERIA`. Adding a criterion is writing one such class::

    @register_criterion
    class MaxFailures(CriterionKind):
        kind = "max_failures"
        options = {"max": whole(0, "must be a whole number of cases >= 0")}

        def threshold(self, o):
            return f"<= {o['max']} failing cases"

        def evaluate(self, c, model, run):
            f = run.frame()
            k = int(((f["model"] == model) & (f["verdict"] != "pass")).sum())
            return f"{k} failing", k <= c.options["max"], f"{k:,} failing cases"

A gate file's ``[[criteria]]`` table is read by :func:`parse_criterion` into a
:class:`Criterion` (kind, name, models, validated options with defaults filled in).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from highfive.generators import ConfigError, show, show_text
from highfive.generators import is_number as _is_real

if TYPE_CHECKING:
    from ._gaterun import GateRun

__all__ = [
    "CRITERIA",
    "P_MAX",
    "REQUIRED",
    "Criterion",
    "CriterionKind",
    "Option",
    "Outcome",
    "flag",
    "number",
    "parse_criterion",
    "register_criterion",
    "ways",
    "whole",
]

Outcome = tuple[str, bool, str]
"""What an evaluation returns: value, passed, detail."""

REQUIRED: Final = object()
"""The default of an option that a gate file must give (a threshold)."""
MAX_WHOLE: Final = 2**63 - 1
"""The largest whole number an option takes (counts are 64-bit integers)."""
_COMMON = ("kind", "name", "model")


# -- options ----------------------------------------------------------------------------
def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Option:
    """One option of a criterion kind.

    Parameters
    ----------
    must : str
        What a value must be, as the error says it: ``"must be a whole number >= 1"``.
    accept : callable
        Whether a value (as TOML parsed it) is allowed.
    convert : callable
        The value as the criterion keeps it (e.g. ``float``).
    default : any
        :data:`REQUIRED` when the gate file must give it.
    slip : callable, optional
        For a refused value, what the user probably meant, in place of ``must`` (None:
        ``must``): ``"is a fraction; ...: did you mean 95?"``.
    """

    must: str
    accept: Callable[[Any], bool]
    convert: Callable[[Any], Any] = _same
    default: Any = REQUIRED
    slip: Callable[[Any], str | None] | None = None

    def read(self, where: str, value: Any) -> Any:
        """The checked, converted value; :class:`ConfigError` naming ``where`` if bad."""
        if not self.accept(value):
            big = isinstance(value, int) and not isinstance(value, bool) and value > MAX_WHOLE
            # A whole-number option (it takes MAX_WHOLE, not one more), past its end.
            if big and self.accept(MAX_WHOLE) and not self.accept(MAX_WHOLE + 1):
                raise ConfigError(f"{where}: {show(value)} is too large (at most {MAX_WHOLE:,})")
            said = self.slip(value) if self.slip is not None else None
            raise ConfigError(f"{where}: {show(value)} {said or self.must}")
        return self.convert(value)

    def fallback(self) -> Any:
        """The default (a fresh copy of a list)."""
        return list(self.default) if isinstance(self.default, list) else self.default


def is_number(x: Any) -> bool:
    """A finite number (not a bool); a whole number too large for a float is not."""
    if not _is_real(x):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an int beyond 1e308
        return False


def is_whole(x: Any, low: int) -> bool:
    """An int (not a bool) from ``low`` to :data:`MAX_WHOLE`."""
    return isinstance(x, int) and not isinstance(x, bool) and low <= x <= MAX_WHOLE


def number(
    must: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    open_low: bool = False,
    open_high: bool = False,
    default: Any = REQUIRED,
    slip: Callable[[Any], str | None] | None = None,
) -> Option:
    """A finite number in ``[low, high]`` (each end open if asked), kept as float;
    ``slip`` as for :class:`Option`."""

    def accept(v: Any) -> bool:
        if not is_number(v):
            return False
        above = v > low if open_low else v >= low
        below = v < high if open_high else v <= high
        return above and below

    return Option(must, accept, float, default, slip)


def whole(low: int, must: str | None = None, default: Any = REQUIRED) -> Option:
    """A whole number from ``low`` to :data:`MAX_WHOLE`."""
    must = must or f"must be a whole number >= {low}"
    return Option(must, lambda v: is_whole(v, low), int, default)


def flag(default: bool) -> Option:
    """``true`` or ``false``."""
    return Option("must be true or false", lambda v: isinstance(v, bool), default=default)


def ways(default: list[int]) -> Option:
    """A list of t-way crosses, kept sorted and without repeats."""
    return Option(
        "must be a list of whole numbers >= 1, e.g. [1, 2]",
        lambda v: isinstance(v, list) and bool(v) and all(is_whole(t, 1) for t in v),
        lambda v: sorted(set(v)),
        default,
    )


P_MAX = number("must be a failure rate in (0, 1], e.g. 0.001", low=0, high=1, open_low=True)
"""A failure rate to stay below: ``p_max`` of the rate criteria."""


# -- kinds and the registry -----------------------------------------------------------
class CriterionKind:
    """Base class of a criterion kind; subclass it and decorate with :func:`register_criterion`.

    Attributes
    ----------
    kind : str
        The name gate files use (``kind = "..."``).
    options : mapping of str to Option
        Every option besides ``kind``, ``name`` and ``model``, in the order documented.
    per_model : bool
        One result per model, and a ``model`` key to choose them (default). False: one
        result for the gate, and no ``model`` key (``agreement``).
    onnx_only : bool
        Only ONNX counters have what it measures (size, latency of the model file).
    file_options : tuple of str
        Options that may name a file (a value ending in ``.toml``): a relative one is
        resolved against the gate file's folder, as ``[gate] bins`` is.
    """

    kind: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Option]] = {}
    per_model: ClassVar[bool] = True
    onnx_only: ClassVar[bool] = False
    file_options: ClassVar[tuple[str, ...]] = ()

    def threshold(self, o: Mapping[str, Any]) -> str:
        """The threshold as people read it, e.g. ``"upper bound < 0.001"``."""
        raise NotImplementedError

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        """Value, passed and detail of ``c`` for ``model`` (None if not per model)."""
        raise NotImplementedError

    def models_named(self, c: Criterion) -> tuple[tuple[str, ...], str]:
        """Model ids the criterion names, and the key that names them."""
        return c.models or (), "model"

    def targets(self, c: Criterion, run: GateRun) -> list[str | None]:
        """What to evaluate ``c`` for: checked against the run before anything is computed.

        Raises :class:`ConfigError` when ``c`` names a model the run does not have, or
        (``onnx_only``) applies to a counter that is not an ONNX model.
        """
        kinds = {m: run.kind(m) for m in run.models}
        return self.check_models(c, kinds, f"run {os.fspath(run.path)!r}")

    def check_models(self, c: Criterion, kinds: Mapping[str, str], owner: str) -> list[str | None]:
        """The models ``c`` applies to, of those ``kinds`` gives (id: counter kind).

        ``owner`` names where the models are (``"run 'runs/x'"``, ``"the campaign"``).
        Raises :class:`ConfigError` when ``c`` names a model not among them, or
        (``onnx_only``) applies to a counter that is not an ONNX model.
        """
        known = list(kinds)
        named, key = self.models_named(c)
        for m in named:
            if m not in kinds:
                raise ConfigError(
                    f"criterion {c.name!r}: {key} {m!r} is not a model of {owner}; "
                    f"its models: {', '.join(known)}"
                )
        if not self.per_model:
            return [None]
        models = list(c.models or known)
        if self.onnx_only:
            onnx = [m for m in known if kinds[m] == "onnx"]
            for m in models:
                if kinds[m] != "onnx":
                    hint = "" if c.models else f"; name the ONNX ones with model = {onnx}"
                    raise ConfigError(
                        f"criterion {c.name!r}: {self.kind} applies to ONNX counters; "
                        f"{m!r} is a {kinds[m]} counter{hint}"
                    )
        return list(models)

    def label(self, c: Criterion, model: str | None) -> str | None:
        """The ``model`` of the result: the model, or what a gate-wide criterion compares."""
        return model


CRITERIA: dict[str, CriterionKind] = {}
"""Every registered criterion kind, by name, in registration order."""


def register_criterion(cls: type[CriterionKind]) -> type[CriterionKind]:
    """Class decorator: add a kind to :data:`CRITERIA` (its ``kind`` must be new)."""
    if not cls.kind or cls.kind in CRITERIA:
        raise ValueError(f"criterion kind {cls.kind!r}: empty or registered twice")
    CRITERIA[cls.kind] = cls()
    return cls


# -- parsed criteria ----------------------------------------------------------------------
@dataclass(frozen=True)
class Criterion:
    """One checked criterion of a gate.

    Parameters
    ----------
    kind : str
        One of :data:`CRITERIA` (``highfive.coverage.KINDS``).
    name : str
        Unique within the gate.
    models : tuple of str or None
        Model ids it applies to (one result each); None: every model of the run.
        Unused by ``agreement``, which compares ``options["models"]``.
    options : mapping
        The kind's thresholds and options, validated, defaults filled in.
    """

    kind: str
    name: str
    models: tuple[str, ...] | None
    options: Mapping[str, Any]

    @property
    def spec(self) -> CriterionKind:
        """The registered kind: its options, threshold and evaluation."""
        return CRITERIA[self.kind]

    def threshold(self) -> str:
        """The threshold as people read it, e.g. ``"upper bound < 0.001"``."""
        return self.spec.threshold(self.options)


def parse_criterion(i: int, spec: Any, base: str | os.PathLike[str] | None = None) -> Criterion:
    """The ``i``-th ``[[criteria]]`` table of a gate file; :class:`ConfigError` if bad.

    ``base`` is the gate file's folder: a relative file named by one of the kind's
    ``file_options`` is read from there, wherever the command runs.
    """
    where = f"criteria[{i}]"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: {show(spec)} must be a table [[criteria]]")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in CRITERIA:  # a list or table: unhashable
        raise ConfigError(
            f"{where}.kind: {show(kind)} is not a criterion kind; use one of {', '.join(CRITERIA)}"
        )
    k = CRITERIA[kind]
    where = f"{where} ({kind})"
    allowed = [key for key in _COMMON if k.per_model or key != "model"]
    allowed += list(k.options)
    bad = sorted(set(spec) - set(allowed))
    if bad:
        raise ConfigError(f"{where}: unknown key {show(bad[0])}; allowed: {', '.join(allowed)}")
    name = spec.get("name", kind)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: {show(name)} must be a non-empty string")
    if show_text(name) != name:
        raise ConfigError(
            f"{where}.name: {show(name)} must not hold control characters or others a "
            "terminal does not print (they would reach junit.xml and the terminal)"
        )
    models = spec.get("model")
    if isinstance(models, str):
        models = [models]
    if models is not None and (
        not isinstance(models, list)
        or not models
        or not all(isinstance(m, str) and m for m in models)
        or len(set(models)) != len(models)
    ):
        raise ConfigError(
            f"{where}.model: {show(spec['model'])} must be a model id or a list of ids"
        )
    opts: dict[str, Any] = {}
    for key, option in k.options.items():
        if key in spec:
            opts[key] = option.read(f"{where}.{key}", spec[key])
        elif option.default is REQUIRED:
            raise ConfigError(f"{where}: missing key {key!r} (the threshold)")
        else:
            opts[key] = option.fallback()
    for key in k.file_options:
        value = opts.get(key)
        if (
            base is not None
            and isinstance(value, str)
            and value.endswith(".toml")
            and not os.path.isabs(value)
        ):
            opts[key] = os.path.join(os.fspath(base), value)
    return Criterion(kind, name, None if models is None else tuple(models), opts)
