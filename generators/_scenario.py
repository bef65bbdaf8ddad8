"""Scenario composer: one parameter row and a case seed -> one labelled :class:`Trace`.

Layout of a trace: a lead-in at rest, ``repetitions`` instances of the row's motion
separated by ``gap`` seconds of rest (with the ``distractor`` motion, if any, inserted
at a random place in the sequence), then rest to the end. The trace lasts ``duration``
seconds, or longer if the motions need it, with at least :data:`MARGIN` seconds of rest
before the first and after the last motion; the lead-in is drawn at random within the
slack so gestures fall anywhere relative to the counter's window grid.

Randomness comes from three independent child streams of the case seed: layout,
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

from ._kinematics import G, PlanBuilder, gravity_reaction, specific_force
from ._sensor import OVERSAMPLE, SensorSpec, apply_sensor
from ._space import ParameterSpace
from ._types import Event, Trace
from .motions import get_motion

__all__ = ["MARGIN", "SeedLike", "background_accel", "case_streams", "synthesize"]

MARGIN = 1.0
"""Minimum rest in seconds before the first and after the last motion."""

SeedLike = int | np.random.SeedSequence

# Step frequency (Hz at tempo 1), vertical and fore-aft amplitude (g) of the trunk
# during walking and running, after published trunk-accelerometry ranges (assumption).
_GAIT = {"walking": (1.9, 0.25, 0.12), "running": (2.7, 0.9, 0.3)}


def case_streams(seed: SeedLike) -> tuple[np.random.Generator, ...]:
    """The layout, motion and sensor streams of one case.

    ``seed`` is an ``int`` or a :class:`numpy.random.SeedSequence`; for campaign case
    ``i`` use ``SeedSequence(campaign_seed, spawn_key=(i,))``.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return tuple(np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(3))


def background_accel(
    kind: str, t: np.ndarray, tempo: float, rng: np.random.Generator
) -> np.ndarray:
    """Body acceleration in the world frame (m/s^2) from background activity.

    Always includes physiological tremor (8-12 Hz, a few mg); walking and running add
    the periodic trunk bounce at the step rate with its second harmonic, and a lateral
    sway at half the step rate. Draws a fixed number of values from ``rng``.
    """
    ph = rng.uniform(0.0, 2.0 * math.pi, size=5)
    f_tremor = rng.uniform(8.0, 12.0)
    a_tremor = rng.uniform(0.002, 0.01) * G
    t32 = t.astype(np.float32)  # float32 sines are SIMD-fast; phase error < 1e-4 rad
    out = np.zeros((t.size, 3))
    out[:, 1] = a_tremor * np.sin(np.float32(2.0 * math.pi * f_tremor) * t32 + np.float32(ph[0]))
    if kind in _GAIT:
        f, vert, fore = _GAIT[kind]
        w = np.float32(2.0 * math.pi * f * tempo) * t32
        sines = np.sin(np.stack([w + ph[1], 2.0 * w + ph[2], w + ph[3], 0.5 * w + ph[4]]))
        out[:, 2] += vert * G * (sines[0] + 0.3 * sines[1])
        out[:, 0] += fore * G * sines[2]
        out[:, 1] += 0.3 * fore * G * sines[3]
    return out


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
        The case seed; see :func:`case_streams`.
    space : ParameterSpace, optional
        The space to validate against.
    validate : bool
        Validate ``params`` first (skip only for rows that came from the space).
    gravity : bool
        Keep gravity in the samples (an accelerometer's reading). With ``False`` the
        reaction to gravity in the sensor frame at each sample instant (the exact
        orientation of the plan) is subtracted from the readings, as a phone's "linear
        acceleration" sensor reports; every sensor imperfection and random draw stays
        the same, so the two traces of a case differ by the gravity term only.

    Returns
    -------
    Trace
        Samples in g at the row's sample rate, with the truth events.
    """
    if validate:
        from ._default_space import default_space

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

    duration = max(float(params["duration"]), busy + 2.0 * MARGIN)
    lead = MARGIN + rng_layout.uniform(0.0, max(duration - busy - 2.0 * MARGIN, 0.0))
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
    extra = background_accel(str(params["background"]), grid, float(params["tempo"]), rng_layout)
    force = specific_force(plan, grid, cell=dt, extra=extra)
    t, samples = apply_sensor(force, dt, spec, n, rng_sensor)
    if not gravity:
        samples = samples - gravity_reaction(plan, t).astype(np.float32)
    return Trace(t=t, samples=samples, fs=spec.fs, events=tuple(events), params=dict(params))
