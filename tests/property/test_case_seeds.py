"""Case seeds: a seed is a value; using it twice gives the same streams.

A case's three streams (layout, motion, sensor) are the children ``spawn_key + (0,)``,
``(1,)`` and ``(2,)`` of its seed, as a fresh SeedSequence's ``spawn(3)`` gives them,
and deriving them must not change the seed (``spawn`` counts its children, so calling
it on the caller's object would move the next call on to children 3, 4 and 5).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from highfive.generators import case_streams

seed_sequences = st.builds(
    lambda entropy, key, pool: np.random.SeedSequence(entropy, spawn_key=key, pool_size=pool),
    st.integers(0, 2**128),
    st.lists(st.integers(0, 2**64), max_size=3).map(tuple),
    st.integers(4, 8),
)


def _state(ss: np.random.SeedSequence) -> tuple:
    return (ss.entropy, ss.spawn_key, ss.pool_size, ss.n_children_spawned)


@given(seed_sequences)
def test_streams_are_the_first_three_children_and_repeat(ss: np.random.SeedSequence) -> None:
    before = _state(ss)
    first = [g.integers(0, 2**63, 3).tolist() for g in case_streams(ss)]
    second = [g.integers(0, 2**63, 3).tolist() for g in case_streams(ss)]
    fresh = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size)
    spawned = [
        np.random.Generator(np.random.PCG64(c)).integers(0, 2**63, 3).tolist()
        for c in fresh.spawn(3)
    ]
    assert first == second == spawned
    assert _state(ss) == before


@given(st.integers(0, 2**64))
def test_an_integer_seed_gives_the_streams_of_its_seed_sequence(seed: int) -> None:
    a = [g.random(2).tolist() for g in case_streams(seed)]
    b = [g.random(2).tolist() for g in case_streams(np.random.SeedSequence(seed))]
    assert a == b
