"""Hypothesis's entry point: ``st.from_type(Trace)`` draws from :func:`strategies.traces`.

A module of its own, because Hypothesis imports it while it initialises. A user's
``from highfive.generators import strategies`` (before any import of Hypothesis) starts
that initialisation from inside ``strategies``, so a hook defined there would be looked
up on a half-imported module. This one imports ``strategies`` only when a ``Trace`` is
first asked for.
"""

from __future__ import annotations

from typing import Any


def _hypothesis_setup_hook() -> None:
    """Register :func:`strategies.traces` as the strategy of ``Trace``."""
    from hypothesis import strategies as st

    from ._types import Trace

    def traces_of(_: type) -> Any:
        from .strategies import traces

        return traces()

    st.register_type_strategy(Trace, traces_of)
