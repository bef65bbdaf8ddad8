"""Named, typed dimensions and the parameter space they span.

A :class:`ParameterSpace` maps points of the unit hypercube ``[0, 1)^d`` to parameter
rows, so any sampler (random, Sobol, Halton, Latin hypercube) drives it. Each
:class:`Dimension` is continuous (uniform, log-uniform or truncated normal), integer,
or categorical (optionally weighted), with a unit, a nominal value and a description.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from scipy.special import log_ndtr, ndtr, ndtri, ndtri_exp

from ._errors import ConfigError, InvalidParameter
from ._numbers import is_number, number_from_text
from ._show import show
from ._toml import parse_toml, read_toml

__all__ = ["Dimension", "ParameterSpace"]

Kind = Literal["continuous", "integer", "categorical"]
Distribution = Literal["uniform", "log-uniform", "normal"]
Scalar = float | int | str

_KINDS = ("continuous", "integer", "categorical")
# A truncated normal whose range starts more than this many sd above the mean maps
# through the survival function: the CDF there is 1 - tiny, and the difference of two
# such values keeps too few digits (9 to 10 sd above the mean collapsed to one value).
# A range that ends more than this many sd below the mean maps through the logarithm of
# the CDF (:func:`_lower_tail`), since the CDF underflows about 38 sd below the mean
# (and so does the survival function as far above: there the upper tail maps through
# the logarithm too). Elsewhere the CDF form is kept, so every existing space draws the
# same bits.
_UPPER_TAIL = 2.33
_TINY = float(np.finfo(np.float64).tiny)
_DISTRIBUTIONS = ("uniform", "log-uniform", "normal")


@dataclass(frozen=True)
class Dimension:
    """One axis of the parameter space.

    Parameters
    ----------
    name : str
        Identifier (snake_case); the column name in result tables.
    kind : {"continuous", "integer", "categorical"}
    low, high : float, optional
        Inclusive range of a continuous or integer dimension (``low == high`` fixes it).
    choices : tuple, optional
        Allowed values of a categorical dimension (strings or numbers).
    weights : tuple of float, optional
        Relative sampling weights of ``choices`` (default: equal).
    unit : str
        Physical unit, ``""`` if dimensionless.
    nominal : scalar
        The typical value: the point towards which ``shrink`` moves failing cases (a
        whole number for an integer dimension; default the first choice, or the middle
        of the range, rounded down for an integer dimension).
    distribution : {"uniform", "log-uniform", "normal"}
        How unit-interval coordinates map to a continuous dimension (integer and
        categorical ones take only ``"uniform"``). ``"normal"`` is a normal distribution
        of mean ``mean`` (default ``nominal``) and standard deviation ``sd``, truncated
        to ``[low, high]``.
    sd : float, optional
        Standard deviation of a ``"normal"`` dimension (finite, > 0; no other takes one).
    mean : float, optional
        Mean of a ``"normal"`` dimension when it is not ``nominal``: a restriction that
        leaves the nominal value out moves ``nominal`` (the shrink target) into the range
        but keeps the mean, so the restricted dimension draws the unrestricted
        distribution truncated to its range. ``None`` (dropped from :meth:`to_dict`)
        means ``nominal``.
    description : str
        One line: what the dimension is.
    source : str
        Where the range comes from (datasheet, literature) or ``"assumption"``.

    A field that does not apply to the kind (``weights`` or ``choices`` of a numeric
    dimension; ``low``, ``high``, ``sd`` or ``mean`` of a categorical one) is refused.
    """

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    choices: tuple[Scalar, ...] | None = None
    weights: tuple[float, ...] | None = None
    unit: str = ""
    nominal: Scalar | None = None
    distribution: Distribution = "uniform"
    sd: float | None = None
    description: str = ""
    source: str = "assumption"
    mean: float | None = None

    def __post_init__(self) -> None:
        n = self.name
        if not isinstance(n, str) or not n.isidentifier():
            raise InvalidParameter(f"dimension name {show(n)} must be a Python identifier")
        self._check_types()
        if self.kind not in _KINDS:
            raise InvalidParameter(f"{n}.kind: {self.kind!r} is not one of {_KINDS}")
        self._check_applies()
        if self.kind == "categorical":
            self._check_categorical()
        else:
            self._check_numeric()

    def _check_types(self) -> None:
        """Each field has its type (a TOML or JSON file can give any): no ``low = true``."""
        n = self.name
        for key in ("kind", "distribution", "unit", "description", "source"):
            value = getattr(self, key)
            if not isinstance(value, str):
                raise InvalidParameter(f"{n}.{key}: {show(value)} must be a string")
        for key in ("low", "high", "sd", "mean"):
            value = getattr(self, key)
            if value is not None and not is_number(value):
                raise InvalidParameter(f"{n}.{key}: {show(value)} must be a number")
        for key in ("choices", "weights"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, list | tuple):
                raise InvalidParameter(f"{n}.{key}: {show(value)} must be a list")
        for c in self.choices or ():
            if not (isinstance(c, str) or is_number(c)):
                raise InvalidParameter(f"{n}.choices: {show(c)} must be a string or a number")
        for w in self.weights or ():
            if not is_number(w):
                raise InvalidParameter(f"{n}.weights: {show(w)} must be a number")
        nom = self.nominal
        if nom is not None and not (isinstance(nom, str) or is_number(nom)):
            raise InvalidParameter(f"{n}.nominal: {show(nom)} must be a string or a number")

    def _check_applies(self) -> None:
        """Every field given applies to the kind: ``weights = [1, 2]`` on a continuous
        dimension, or ``sd`` on a uniform one, would be ignored without a word."""
        n = self.name
        if self.kind == "categorical":
            given = [k for k in ("low", "high", "sd", "mean") if getattr(self, k) is not None]
            if self.distribution != "uniform":
                given.append("distribution")
            if given:
                raise InvalidParameter(
                    f"{n}.{given[0]}: {show(getattr(self, given[0]))} does not apply to a "
                    "categorical dimension (it has choices and optional weights)"
                )
            return
        for key in ("choices", "weights"):
            if getattr(self, key) is not None:
                raise InvalidParameter(
                    f"{n}.{key}: {show(getattr(self, key))} goes only with a categorical "
                    f"dimension ({n} is {self.kind})"
                )
        if self.kind == "integer" and self.distribution != "uniform":
            raise InvalidParameter(
                f"{n}.distribution: {self.distribution!r} goes only with a continuous "
                "dimension (an integer dimension draws its values equally often)"
            )
        if self.sd is not None and self.distribution != "normal":
            raise InvalidParameter(f"{n}.sd: {show(self.sd)} goes only with a normal distribution")

    def _check_categorical(self) -> None:
        n = self.name
        if not self.choices:
            raise InvalidParameter(f"{n}.choices: a categorical dimension needs choices")
        object.__setattr__(self, "choices", tuple(self.choices))
        if len(set(self.choices)) != len(self.choices):
            raise InvalidParameter(f"{n}.choices: duplicate values in {list(self.choices)}")
        if self.weights is not None:
            w = tuple(float(x) for x in self.weights)
            if len(w) != len(self.choices) or not all(math.isfinite(x) and x > 0 for x in w):
                raise InvalidParameter(
                    f"{n}.weights: {list(w)} must be {len(self.choices)} positive numbers"
                )
            object.__setattr__(self, "weights", w)
        if self.nominal is None:
            object.__setattr__(self, "nominal", self.choices[0])
        if self.nominal not in self.choices:
            raise InvalidParameter(
                f"{n}.nominal: {self.nominal!r} is not one of {list(self.choices)}"
            )

    def _check_numeric(self) -> None:
        n = self.name
        lo, hi = self.low, self.high
        if lo is None or hi is None:
            raise InvalidParameter(f"{n}: a {self.kind} dimension needs low and high")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise InvalidParameter(f"{n}: range [{lo!r}, {hi!r}] must be finite")
        if lo > hi:
            raise InvalidParameter(f"{n}: inverted range, low={lo!r} > high={hi!r}")
        if self.kind == "integer" and (lo != int(lo) or hi != int(hi)):
            raise InvalidParameter(f"{n}: integer range [{lo!r}, {hi!r}] must be whole numbers")
        if self.distribution not in _DISTRIBUTIONS:
            raise InvalidParameter(
                f"{n}.distribution: {self.distribution!r} is not one of {_DISTRIBUTIONS}"
            )
        if self.distribution == "log-uniform" and lo <= 0:
            raise InvalidParameter(f"{n}: a log-uniform range needs low > 0, got {lo!r}")
        if self.distribution == "normal" and not (
            self.sd is not None and math.isfinite(self.sd) and self.sd > 0
        ):
            raise InvalidParameter(
                f"{n}.sd: a normal dimension needs sd > 0, a finite number; got {show(self.sd)}"
            )
        if self.mean is not None:
            m = self.mean
            if self.distribution != "normal":
                raise InvalidParameter(f"{n}.mean: {m!r} goes only with a normal distribution")
            if isinstance(m, bool) or not isinstance(m, int | float) or not math.isfinite(m):
                raise InvalidParameter(f"{n}.mean: {m!r} must be a finite number")
            object.__setattr__(self, "mean", float(m))
        if self.nominal is None:
            mid = lo if lo == hi else 0.5 * (lo + hi)
            object.__setattr__(self, "nominal", math.floor(mid) if self.kind == "integer" else mid)
        nom = self.nominal
        if isinstance(nom, str) or nom is None or not (lo <= float(nom) <= hi):
            raise InvalidParameter(f"{n}.nominal: {nom!r} is outside [{lo!r}, {hi!r}]")
        if self.kind == "integer" and nom != int(nom):
            raise InvalidParameter(
                f"{n}.nominal: {show(nom)} must be a whole number in [{lo!r}, {hi!r}]"
            )

    # -- mapping ------------------------------------------------------------------
    @property
    def is_fixed(self) -> bool:
        if self.kind == "categorical":
            assert self.choices is not None
            return len(self.choices) == 1
        return self.low == self.high

    @property
    def _mu(self) -> float:
        """The mean of a normal dimension."""
        return float(self.nominal if self.mean is None else self.mean)  # type: ignore[arg-type]

    def from_unit(self, u: npt.ArrayLike) -> np.ndarray:
        """Map coordinates in [0, 1) to values of this dimension.

        Parameters
        ----------
        u : array_like, shape (n,)

        Returns
        -------
        np.ndarray, shape (n,)
            float64 for continuous, int64 for integer, object or numeric for categorical.
            Values always lie in ``[low, high]``; a fixed dimension gives exactly its value.
        """
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, np.nextafter(1.0, 0.0))
        if self.kind == "categorical":
            assert self.choices is not None
            w = np.asarray(self.weights or [1.0] * len(self.choices))
            edges = np.cumsum(w) / w.sum()
            idx = np.minimum(np.searchsorted(edges, u, side="right"), len(self.choices) - 1)
            return np.asarray(self.choices)[idx]
        lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
        if self.kind == "integer":
            return np.minimum(np.floor(lo + u * (hi - lo + 1.0)), hi).astype(np.int64)
        if lo == hi:
            # A fixed dimension is its value (exp(log(3.0)) is 3.0000000000000004).
            return np.full(u.shape, lo)
        if self.distribution == "log-uniform":
            x = np.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        elif self.distribution == "normal":
            mu, sd = self._mu, float(self.sd)  # type: ignore[arg-type]
            za, zb = (lo - mu) / sd, (hi - mu) / sd
            if za > _UPPER_TAIL and ndtr(-za) < _TINY:  # beyond the survival function
                x = mu - sd * _lower_tail(-zb, -za, 1.0 - u)
            elif za > _UPPER_TAIL:  # mirrored: survival function, precise in the upper tail
                sa, sb = ndtr(-za), ndtr(-zb)
                x = mu - sd * ndtri(sa - u * (sa - sb))
            elif zb < -_UPPER_TAIL:  # the lower tail, where the CDF underflows
                x = mu + sd * _lower_tail(za, zb, u)
            else:
                a, b = ndtr(za), ndtr(zb)
                x = mu + sd * ndtri(a + u * (b - a))
        else:
            x = lo + u * (hi - lo)
        # Rounding in the transform can land an ulp outside the range at its ends.
        return np.clip(x, lo, hi)

    def unit_edges(self) -> np.ndarray | None:
        """The unit-interval edges between the values of a discrete dimension (value
        ``k`` is drawn from ``[edges[k], edges[k + 1])``); None for a continuous one."""
        if self.kind == "continuous":
            return None
        if self.kind == "categorical":
            w = np.asarray(self.weights or [1.0] * len(self.choices or ()), dtype=np.float64)
            return np.concatenate([[0.0], np.cumsum(w) / w.sum()])
        n = int(self.high) - int(self.low) + 1  # type: ignore[arg-type]
        return np.arange(n + 1) / float(n)

    def splits_a_value(self, u: float, tol: float = 1e-9) -> bool:
        """Whether unit coordinate ``u`` falls inside one value of a discrete dimension
        (more than ``tol`` from every edge of :meth:`unit_edges`): a box edge there
        samples part of a value, whose density the weights cannot know."""
        edges = self.unit_edges()
        return edges is not None and bool(np.min(np.abs(edges - u)) > tol)

    def to_unit(self, values: npt.ArrayLike) -> np.ndarray:
        """Map values back to the unit interval: the inverse of :meth:`from_unit`.

        Continuous values go to their exact coordinate; an integer or a categorical
        value goes to the lower end of the interval that maps to it (``from_unit`` of
        any coordinate in ``[to_unit(v), to_unit(v) + width)`` gives ``v`` back).
        """
        if self.kind == "categorical":
            assert self.choices is not None
            w = np.asarray(self.weights or [1.0] * len(self.choices))
            lower = np.concatenate([[0.0], np.cumsum(w)[:-1]]) / w.sum()
            index = {c: i for i, c in enumerate(self.choices)}
            return lower[[index[self.check(v)] for v in np.atleast_1d(values).tolist()]]
        x = np.asarray(values, dtype=np.float64)
        lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
        if lo == hi:
            return np.zeros_like(x)
        if self.kind == "integer":
            return (np.round(x) - lo) / (hi - lo + 1.0)
        if self.distribution == "log-uniform":
            return (np.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
        if self.distribution == "normal":
            mu, sd = self._mu, float(self.sd)  # type: ignore[arg-type]
            za, zb = (lo - mu) / sd, (hi - mu) / sd
            if za > _UPPER_TAIL and ndtr(-za) < _TINY:  # as in from_unit
                return 1.0 - _lower_tail_cdf(-zb, -za, (mu - x) / sd)
            if za > _UPPER_TAIL:
                sa, sb = ndtr(-za), ndtr(-zb)
                return (sa - ndtr((mu - x) / sd)) / (sa - sb)
            if zb < -_UPPER_TAIL:
                return _lower_tail_cdf(za, zb, (x - mu) / sd)
            a, b = ndtr(za), ndtr(zb)
            return (ndtr((x - mu) / sd) - a) / (b - a)
        return (x - lo) / (hi - lo)

    def check(self, value: Any) -> Scalar:
        """Validate one value; return it normalised (int for integer, float for continuous).

        A 0-d NumPy array is its one value; an array of several values, a list, a tuple
        or a set is refused (a parameter has one value).
        """
        n = self.name
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, np.ndarray | list | tuple | set | frozenset):
            raise InvalidParameter(
                f"{n}: {show(value)} is {_several(value)}; a single value is needed "
                + (
                    f"(one of {list(self.choices or ())})"
                    if self.kind == "categorical"
                    else self._range()
                )
            )
        if self.kind == "categorical":
            assert self.choices is not None
            for c in self.choices:
                if value == c or (not isinstance(c, str) and _as_number(value) == c):
                    return c
            raise InvalidParameter(
                f"{n}: {show(value)} is not allowed; choose one of {list(self.choices)}"
            )
        x = _as_number(value)
        # A whole number beyond a float's range (10**400) is a number, out of range.
        if x is None or math.isnan(x) or (math.isinf(x) and not isinstance(value, int)):
            raise InvalidParameter(f"{n}: {show(value)} is not a finite number {self._range()}")
        if self.kind == "integer" and math.isfinite(x) and x != int(x):
            raise InvalidParameter(f"{n}: {show(value)} is not a whole number {self._range()}")
        if not (float(self.low) <= x <= float(self.high)):  # type: ignore[arg-type]
            raise InvalidParameter(f"{n}: {show(value)} is out of range {self._range()}")
        return int(x) if self.kind == "integer" else float(x)

    def _range(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"(allowed: {self.low:g} to {self.high:g}{unit})"

    def restrict(self, value: Any) -> Dimension:
        """A copy fixed to a value, narrowed to a ``(low, high)`` range, or to a subset
        (a list or tuple: a set has no order, and the order of the choices is that in
        which they are drawn)."""
        n = self.name
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, np.ndarray | set | frozenset):
            what = "of choices" if self.kind == "categorical" else "[low, high]"
            raise InvalidParameter(
                f"{n}: {show(value)} is {_several(value)}; give one value, or a list or "
                f"tuple {what}"
            )
        if self.kind == "categorical":
            vals = list(value) if isinstance(value, list | tuple) else [value]
            assert self.choices is not None
            if not vals:
                raise InvalidParameter(
                    f"{n}: an empty subset leaves nothing to sample; give one or more of "
                    f"{list(self.choices)}"
                )
            chosen = tuple(self.check(v) for v in vals)
            if len(set(chosen)) != len(chosen):
                raise InvalidParameter(f"{n}: {list(vals)} names a choice twice")
            w = None
            if self.weights is not None:
                w = tuple(self.weights[self.choices.index(c)] for c in chosen)
            nom = self.nominal if self.nominal in chosen else chosen[0]
            return replace(self, choices=chosen, weights=w, nominal=nom)
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise InvalidParameter(f"{n}: a range must be [low, high], got {list(value)!r}")
            lo, hi = (self.check(v) for v in value)
            if float(lo) > float(hi):
                raise InvalidParameter(f"{n}: inverted range, low={lo!r} > high={hi!r}")
        else:
            lo = hi = self.check(value)
        nom = min(max(float(self.nominal), float(lo)), float(hi))  # type: ignore[arg-type]
        if self.kind == "integer":
            nom = round(nom)
        if self.distribution == "normal" and lo != hi:
            # The distribution stays the unrestricted one, truncated to the range; only
            # the shrink target moves (the mean is kept apart when they differ).
            mean = None if self._mu == nom else self._mu
            return replace(self, low=float(lo), high=float(hi), nominal=nom, mean=mean)
        return replace(self, low=float(lo), high=float(hi), nominal=nom)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (for TOML, JSON and Arrow metadata); ``None`` fields dropped."""
        d = {k: v for k, v in asdict(self).items() if v is not None}
        for k in ("choices", "weights"):
            if k in d:
                d[k] = list(d[k])
        return d

    @property
    def arrow_type(self) -> pa.DataType:
        if self.kind == "continuous":
            return pa.float64()
        if self.kind == "integer":
            return pa.int64()
        assert self.choices is not None
        if all(isinstance(c, str) for c in self.choices):
            return pa.string()
        if all(isinstance(c, int) for c in self.choices):
            return pa.int64()
        return pa.float64()


def _lower_tail(za: float, zb: float, u: np.ndarray) -> np.ndarray:
    """The standard normal truncated to ``[za, zb]`` (in its lower tail) at quantile
    ``u``, computed in logarithms: ``ndtri(a + u (b - a))`` with ``a = ndtr(za)``, ``b =
    ndtr(zb)``, which would be ``ndtri(0)`` once ``ndtr`` underflows (about -38)."""
    la, lb = log_ndtr(za), log_ndtr(zb)
    with np.errstate(divide="ignore"):  # u = 0 where a is 0 next to b: the low end
        return ndtri_exp(lb + np.log(np.exp(la - lb) + u * -np.expm1(la - lb)))


def _lower_tail_cdf(za: float, zb: float, z: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_lower_tail`: the quantile of ``z`` in ``[za, zb]``."""
    la, lb = log_ndtr(za), log_ndtr(zb)
    return (np.exp(log_ndtr(z) - lb) - np.exp(la - lb)) / -np.expm1(la - lb)


def _as_number(value: Any) -> float | None:
    """``value`` as a float if it is a number (not a bool) or a text that writes one
    (:func:`number_from_text`); a whole number beyond a float's range is infinite."""
    if isinstance(value, str):
        return number_from_text(value)
    if not is_number(value):
        return None
    try:
        return float(value)
    except OverflowError:  # 10**400
        return math.inf if value > 0 else -math.inf


def _several(value: Any) -> str:
    """What holds several values, as a message names it: ``a list``, ``an array``."""
    if isinstance(value, np.ndarray):
        return "an array"
    return "a set" if isinstance(value, frozenset) else f"a {type(value).__name__}"


@dataclass(frozen=True)
class ParameterSpace:
    """An ordered collection of dimensions.

    >>> space = ParameterSpace([Dimension("x", "continuous", 0.0, 2.0)])
    >>> space.from_unit([[0.25]])["x"].tolist()
    [0.5]
    """

    dimensions: tuple[Dimension, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __init__(self, dimensions: Sequence[Dimension]) -> None:
        dims = tuple(dimensions)
        names = [d.name for d in dims]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InvalidParameter(f"parameter space: duplicate dimension names {dup}")
        object.__setattr__(self, "dimensions", dims)
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})

    # -- access -------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    @property
    def d(self) -> int:
        """Number of dimensions."""
        return len(self.dimensions)

    def __len__(self) -> int:
        return len(self.dimensions)

    def __iter__(self) -> Iterator[Dimension]:
        return iter(self.dimensions)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> Dimension:
        try:
            return self.dimensions[self._index[name]]
        except KeyError:
            raise InvalidParameter(
                f"unknown parameter {name!r}; known: {', '.join(self.names)}"
            ) from None

    def nominal(self) -> dict[str, Scalar]:
        """The nominal parameter row."""
        return {d.name: d.nominal for d in self.dimensions}  # type: ignore[misc]

    # -- mapping ------------------------------------------------------------------
    def from_unit(self, points: npt.ArrayLike) -> pd.DataFrame:
        """Map points of the unit hypercube to a table of parameter rows.

        Parameters
        ----------
        points : array_like, shape (n, d)
            Coordinates in [0, 1), one column per dimension in order.

        Returns
        -------
        pandas.DataFrame
            One row per point, one column per dimension.
        """
        u = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if u.shape[1] != self.d:
            raise InvalidParameter(
                f"points: expected shape (n, {self.d}) for this space, got {u.shape}"
            )
        if not np.all(np.isfinite(u)):
            raise InvalidParameter("points: coordinates must be finite numbers in [0, 1)")
        return pd.DataFrame({d.name: d.from_unit(u[:, j]) for j, d in enumerate(self)})

    def rows(self, points: npt.ArrayLike) -> list[dict[str, Scalar]]:
        """Like :meth:`from_unit`, as a list of plain ``dict`` rows (Python scalars)."""
        table = self.from_unit(points)
        cols = {c: table[c].tolist() for c in table.columns}
        return [{c: cols[c][i] for c in cols} for i in range(len(table))]

    def validate(self, params: Mapping[str, Any], *, partial: bool = False) -> dict[str, Scalar]:
        """Check a parameter dict; return it normalised and in dimension order.

        Raises :class:`InvalidParameter` naming the first bad field. With
        ``partial=True`` missing dimensions are allowed (they are not filled in). A row
        of :meth:`from_unit`'s table (a pandas Series, which iterates over its values,
        not its names) is read by its ``items()``.
        """
        if hasattr(params, "columns") and hasattr(params, "iloc"):  # a table, not a row
            raise InvalidParameter(
                f"parameters: got a table of {len(params)} rows; give one row of it "
                "(table.iloc[i]) or a dict"
            )
        if not isinstance(params, Mapping) and callable(getattr(params, "items", None)):
            params = dict(params.items())
        if not isinstance(params, Mapping):
            raise InvalidParameter(
                f"parameters: got {type(params).__name__}; expected a mapping of dimension "
                "name to value (a dict, or a row of ParameterSpace.from_unit's table)"
            )
        unknown = [k for k in params if k not in self._index]
        if unknown:
            raise InvalidParameter(
                f"unknown parameter {unknown[0]!r}; known: {', '.join(self.names)}"
            )
        out: dict[str, Scalar] = {}
        for d in self.dimensions:
            if d.name in params:
                out[d.name] = d.check(params[d.name])
            elif not partial:
                raise InvalidParameter(f"{d.name}: missing from the parameter row")
        return out

    def complete(self, params: Mapping[str, Any]) -> dict[str, Scalar]:
        """Validate a partial row and fill the missing dimensions with nominal values."""
        given = self.validate(params, partial=True)
        return {d.name: given.get(d.name, d.nominal) for d in self.dimensions}  # type: ignore[misc]

    def restrict(self, **overrides: Any) -> ParameterSpace:
        """A narrower space: fix (scalar), narrow (``[low, high]``) or subset (list of choices).

        >>> from highfive.generators import default_space
        >>> default_space().restrict(motion="high_five", repetitions=[1, 2])["motion"].choices
        ('high_five',)
        """
        for k in overrides:
            self[k]  # raises for unknown names
        return ParameterSpace(
            [d.restrict(overrides[d.name]) if d.name in overrides else d for d in self]
        )

    # -- serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"dimensions": [d.to_dict() for d in self.dimensions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParameterSpace:
        """Read a space from plain data (:meth:`to_dict`'s form).

        Raises :class:`ConfigError` or :class:`InvalidParameter`, naming the field, for
        anything malformed: a missing or empty list of dimensions, an entry that is not a
        table, an unknown key, a value of the wrong type or out of its range.
        """
        dims = data.get("dimensions") if isinstance(data, Mapping) else None
        if not isinstance(dims, list) or not dims:
            raise ConfigError("parameter space: expected a non-empty list [[dimensions]]")
        allowed = set(Dimension.__dataclass_fields__)
        out = []
        for i, raw in enumerate(dims):
            if not isinstance(raw, Mapping):
                raise ConfigError(
                    f"dimensions[{i}]: {show(raw)} must be a table of name, kind, low, ..."
                )
            bad = sorted(set(raw) - allowed)
            if bad:
                raise ConfigError(
                    f"dimensions[{i}]: unknown key {bad[0]!r}; allowed: {sorted(allowed)}"
                )
            kw = dict(raw)
            for k in ("choices", "weights"):
                if isinstance(kw.get(k), list):
                    kw[k] = tuple(kw[k])
            try:
                out.append(Dimension(**kw))
            except TypeError as exc:
                raise ConfigError(f"dimensions[{i}]: {exc}") from None
        return cls(out)

    def to_toml(self) -> str:
        """TOML text that :meth:`from_toml` reads back to an equal space."""
        lines = []
        for d in self.dimensions:
            lines.append("[[dimensions]]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in d.to_dict().items())
            lines.append("")
        return "\n".join(lines)

    @classmethod
    def from_toml(cls, source: str | os.PathLike[str]) -> ParameterSpace:
        """Read a space from TOML text or a ``.toml`` file.

        A :class:`~pathlib.Path` (any path-like object) is a file. A string is a file
        too when it is one line ending in ``.toml`` (no TOML text is: a key needs
        ``=``), else TOML text. Errors name the file or the field.
        """
        if isinstance(source, str) and "\n" not in source and source.endswith(".toml"):
            source = Path(source)
        if isinstance(source, os.PathLike):
            return cls.from_dict(read_toml(source, "parameter space file"))
        if not isinstance(source, str):
            raise ConfigError(
                f"parameter space: {show(source)} is neither TOML text nor a .toml file path"
            )
        return cls.from_dict(parse_toml(source, "parameter space"))

    def to_arrow_schema(self) -> pa.Schema:
        """An Arrow schema with one field per dimension; the dimension rides in metadata."""
        return pa.schema(
            [
                pa.field(
                    d.name,
                    d.arrow_type,
                    nullable=False,
                    metadata={"highfive.dimension": json.dumps(d.to_dict())},
                )
                for d in self.dimensions
            ]
        )

    @classmethod
    def from_arrow_schema(cls, schema: pa.Schema) -> ParameterSpace:
        """Rebuild a space from the fields of ``schema`` that carry dimension metadata."""
        dims = []
        for f in schema:
            meta = f.metadata or {}
            raw = meta.get(b"highfive.dimension")
            if raw is not None:
                try:
                    dims.append(json.loads(raw))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise ConfigError(
                        f"schema field {f.name!r}: its highfive.dimension metadata is not "
                        f"JSON ({exc})"
                    ) from None
        if not dims:
            raise ConfigError("schema: no field carries highfive.dimension metadata")
        return cls.from_dict({"dimensions": dims})


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")
