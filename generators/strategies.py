"""Hypothesis strategies for parameter rows and traces, for users' own property tests.

>>> from hypothesis import given
>>> from highfive.generators import strategies as hst
>>> @given(hst.traces(hst.motion_rows("clap")))
... def test_claps_are_not_counted(trace): ...

Every strategy shrinks towards the space's nominal values, so a failing example is
reported as close to the typical case as Hypothesis can make it. ``st.from_type(Trace)``
draws from :func:`traces` (registered through Hypothesis's entry point).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ._default_space import default_space
from ._scenario import synthesize
from ._space import Dimension, ParameterSpace
from ._types import Trace

__all__ = ["dimension_values", "motion_rows", "parameter_rows", "seeds", "traces"]


def dimension_values(dim: Dimension) -> st.SearchStrategy[Any]:
    """Values of one dimension, shrinking towards its nominal value."""
    if dim.is_fixed:
        return st.just(dim.nominal)
    if dim.kind == "categorical":
        assert dim.choices is not None
        ordered = [dim.nominal, *(c for c in dim.choices if c != dim.nominal)]
        return st.sampled_from(ordered)
    lo, hi = float(dim.low), float(dim.high)  # type: ignore[arg-type]
    if dim.kind == "integer":
        return st.just(int(dim.nominal)) | st.integers(int(lo), int(hi))  # type: ignore[arg-type]
    return st.just(float(dim.nominal)) | st.floats(lo, hi, allow_nan=False)  # type: ignore[arg-type]


def parameter_rows(
    space: ParameterSpace | None = None, **restrict: Any
) -> st.SearchStrategy[dict[str, Any]]:
    """Full parameter rows of ``space`` (default space), optionally restricted first.

    Keyword arguments are passed to :meth:`ParameterSpace.restrict`, e.g.
    ``parameter_rows(motion="high_five", background="none")``.
    """
    space = space or default_space()
    if restrict:
        space = space.restrict(**restrict)
    return st.fixed_dictionaries({d.name: dimension_values(d) for d in space})


def motion_rows(
    motion: str, space: ParameterSpace | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Rows of one motion, with no distractor."""
    return parameter_rows(space, motion=motion, distractor="none")


def seeds() -> st.SearchStrategy[int]:
    """Case seeds."""
    return st.integers(min_value=0, max_value=2**63 - 1)


def traces(
    rows: st.SearchStrategy[dict[str, Any]] | None = None,
    seed: st.SearchStrategy[int] | None = None,
    *,
    space: ParameterSpace | None = None,
) -> st.SearchStrategy[Trace]:
    """Traces synthesized from ``rows`` (default: :func:`parameter_rows` of ``space``)
    and ``seed``.

    Rows of your own strategy are validated against ``space`` (default:
    :func:`default_space`; give the space a wider row comes from), so an invalid one
    fails with the :class:`InvalidParameter` that names its field, not with an
    out-of-range trace or an error deep in the generator. Rows this strategy draws
    itself come from the space and skip validation.
    """
    own = rows is None
    if rows is None:
        rows = parameter_rows(space)
    return st.builds(
        lambda p, s: synthesize(p, s, space=space, validate=not own),
        rows,
        seed if seed is not None else seeds(),
    )
