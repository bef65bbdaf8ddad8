"""Scenario composer: one parameter row and a case seed -> one labelled :class:`Trace`.

Layout of a trace: a lead-in at rest, ``repetitions`` instances of the row's motion
separated by ``gap`` seconds of rest (with the ``distractor`` motion, if any, inserted
at a random place in the sequence), then rest to the end. The trace lasts ``duration``
seconds, or longer if the motions need it, with at least :data:`MARGIN` seconds of rest
before the first and after the last motion. The lead-in beyond the margin is drawn at
random over the slack, or over :data:`PHASE` seconds when the slack is shorter (the
trace is then extended to fit), so gestures fall anywhere relative to a counter's
window grid whatever the row.

Randomness comes from three independent child streams of the case seed: layout (and
the body around the motions: posture sway, tremor, gait phases; see :mod:`._body`),
motion variability, and sensor (jitter, noise, drops). Changing a sensor dimension
therefore leaves the motions untouched, which keeps shrinking meaningful. Nothing
else is random, and no global state is read, so the same (row, seed) gives a
bit-identical trace whatever else the process has generated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._body import BodyMotion
from ._errors import InvalidParameter
from ._kinematics import PlanBuilder, gravity_reaction, specific_force
from ._sensor import OVERSAMPLE, SensorSpec, apply_sensor, linear_response
from ._show import show
from ._space import ParameterSpace
from ._types import Event, Trace
from .motions import get_motion

__all__ = ["GENERATOR_VERSION", "MARGIN", "PHASE", "SeedLike", "case_streams", "synthesize"]

GENERATOR_VERSION = 2
"""Version of what :func:`synthesize` makes of a (row, seed): raised whenever a trace
changes, so that a run is never resumed, replayed or paired with traces made another
way. 1: before it was recorded; 2: the lead-in drawn over at least :data:`PHASE`, sensor
noise of the row's density in band, ``gravity=False`` through the sensor's own path."""

MARGIN = 1.0
"""Minimum rest in seconds before the first and after the last motion."""

PHASE = 1.0
"""Least span in seconds over which the lead-in beyond :data:`MARGIN` is drawn: longer
than any counter's window hop, so the gestures' phase against the window grid is random."""

SeedLike = int | np.random.SeedSequence


def case_streams(seed: SeedLike) -> tuple[np.random.Generator, ...]:
    """The layout, motion and sensor streams of one case.

    ``seed`` is a whole number ``>= 0`` or a :class:`numpy.random.SeedSequence`; for
    campaign case ``i`` use ``SeedSequence(campaign_seed, spawn_key=(i,))``. The streams
    are the seed's children ``spawn_key + (0,)``, ``(1,)`` and ``(2,)`` (what a fresh
    sequence's ``spawn(3)`` gives), derived without spawning: the caller's sequence is
    left untouched, so the same seed gives the same streams every time.

    Raises
    ------
    InvalidParameter
        If ``seed`` is anything else (``None`` included: every case is reproducible).
    """
    ss = _seed_sequence(seed)
    return tuple(
        np.random.Generator(
            np.random.PCG64(
                np.random.SeedSequence(
                    ss.entropy, spawn_key=(*ss.spawn_key, k), pool_size=ss.pool_size
                )
            )
        )
        for k in range(3)
    )


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise InvalidParameter(
        f"seed: {show(seed)} must be a whole number >= 0 or a numpy SeedSequence"
    )


def synthesize(
    params: Mapping[str, Any],
    seed: SeedLike,
    *,
    space: ParameterSpace | None = None,
    validate: bool = True,
    gravity: bool = True,
) -> Trace:
    """Make the trace of one case.

    Parameters
    ----------
    params : Mapping
        A full parameter row of ``space`` (default: :func:`default_space`).
    seed : int or numpy.random.SeedSequence
        The case seed, a whole number ``>= 0`` or a SeedSequence (not ``None``); see
        :func:`case_streams`. The sequence is not changed, so passing the same one
        again gives the same trace.
    space : ParameterSpace, optional
        The space to validate against: the default space's dimensions (what the
        generator reads), with any ranges.
    validate : bool
        Validate ``params`` first (skip only for rows that came from the space).
    gravity : bool
        Keep gravity in the samples (an accelerometer's reading). With ``False`` the
        part of the readings that gravity makes is subtracted, as a phone's "linear
        acceleration" sensor reports: the reaction to gravity in the watch's exact
        orientation (plan and body), put through the sensor's own band limit and
        scale, cross-axis and misalignment matrix (without noise, bias or
        quantization). Every sensor imperfection and random draw stays the same, so
        the two traces of a case differ by the gravity term only (and the readings'
        clipping to the sensor's range and quantization, which applied to the sum: where
        the sum was clipped, the linear trace is the clipped reading minus gravity, and
        may exceed the range by up to about 1 g).

    Returns
    -------
    Trace
        Samples in g at the row's sample rate, with the truth events.

    Raises
    ------
    InvalidParameter
        A bad row (naming the first bad field), seed, space or ``gravity``.
    """
    from ._default_space import default_space

    if space is not None:
        _check_space(space, default_space())
    if not isinstance(gravity, bool | np.bool_):
        raise InvalidParameter(f"gravity: {show(gravity)} must be True or False")
    if validate:
        params = (space or default_space()).validate(params)
    rng_layout, rng_motion, rng_sensor = case_streams(seed)

    motion = get_motion(str(params["motion"]))
    sequence = [motion] * int(params["repetitions"])
    if params["distractor"] != "none":
        at = int(rng_layout.integers(0, len(sequence) + 1))
        sequence.insert(at, get_motion(str(params["distractor"])))

    builder = PlanBuilder()
    events: list[Event] = []
    for i, m in enumerate(sequence):
        if i:
            builder.hold(float(params["gap"]))
        events.append(m.perform(builder, params, rng_motion))
    busy = builder.time

    duration = float(params["duration"])
    slack = duration - busy - 2.0 * MARGIN
    # One draw whatever the slack, so every later draw of the stream is the same.
    lead = MARGIN + rng_layout.uniform(0.0, max(slack, PHASE))
    if slack < PHASE:  # extend the trace to fit the lead-in (else it fits already)
        duration = max(duration, lead + busy + MARGIN)
    plan = builder.build().shifted(lead)
    events = [
        Event(
            e.motion,
            e.start + lead,
            e.end + lead,
            None if e.impact is None else e.impact + lead,
            e.is_high_five,
        )
        for e in events
    ]

    spec = SensorSpec.from_params(params)
    # `duration` is true time: a fast clock (drift > 0) puts more samples into it.
    n = round(duration * spec.fs * (1.0 + spec.drift))
    dt = 1.0 / (OVERSAMPLE * spec.fs)
    # The grid covers every (jittered) instant plus two output periods of slack.
    n_grid = math.ceil(duration / dt) + 2 * OVERSAMPLE
    grid = np.arange(n_grid) * dt
    body = BodyMotion.from_params(params, events, rng_layout, until=duration)
    extra, extra_angles = body.on_grid(grid, dt)
    force = specific_force(plan, grid, cell=dt, extra=extra, extra_angles=extra_angles)
    t, samples = apply_sensor(force, dt, spec, n, rng_sensor)
    if not gravity:
        # Gravity's part of the readings: its reaction through the same filter and matrix.
        up = linear_response(gravity_reaction(plan, grid, extra_angles), dt, spec, t)
        samples = (samples - up).astype(np.float32)
    return Trace(t=t, samples=samples, fs=spec.fs, events=tuple(events), params=dict(params))


def _check_space(space: Any, default: ParameterSpace) -> None:
    """``space`` is a parameter space with every dimension the generator reads."""
    if not isinstance(space, ParameterSpace):
        raise InvalidParameter(
            f"space: {show(space)} must be a ParameterSpace (default: default_space())"
        )
    missing = [n for n in default.names if n not in space]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InvalidParameter(
            f"space: lacks the dimension {missing[0]!r}{more}, which the generator reads; "
            "give a space with every dimension of default_space() (restrict or widen them)"
        )
