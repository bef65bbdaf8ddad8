"""The body around the planned motions: resting posture, idle sway, tremor and gait.

A motion plan (:mod:`._kinematics`) describes the gestures; between them the wrist is
not frozen at :data:`REST_POSE`. :class:`BodyMotion` adds, in closed form of time:

- **posture**: at rest the forearm takes one of :data:`POSTURES` (arm hanging at the
  side, relaxed, on a table, raised), shifted by the row's ``elevation_offset`` and
  ``wrist_roll``; while walking or running it takes the gait's own posture instead;
- **idle sway**: postural sway (0.1-0.5 Hz, 0.3-1.5 deg of the arm about its pivot)
  and the arm's pendular jiggle (0.7-1.6 Hz, at most 3 deg) with the row's ``idle_motion`` RMS
  acceleration, as rotations of the arm, so gravity in the watch frame sways too;
- **arm swing**: while walking or running, a rotation of the arm about the shoulder in
  a plane leaning 5-20 deg from the sagittal plane towards the body's midline (the
  hand crosses in front of the body; the watch's orientation follows the sagittal
  part only) at the stride rate (half the cadence), whose tangential and
  centripetal accelerations the wrist feels;
- **racket play**: footwork (the gait's steps) and, instead of a steady swing, rallies
  with a stroke every 1.5-4 s, between pauses: a backswing lifting the arm, a fast
  forward swing down through the ready position with the forearm pronating, and a
  return (see :class:`Play`);
- **trunk bounce and heel strikes**: the shoulder's vertical and fore-aft bounce at the
  step rate, and one short zero-mean pulse per step carried up the body to the wrist;
- **physiological tremor**: 8-12 Hz, a few mg, always.

Posture, sway, swing and strokes fade out (minimum-jerk ramps of :data:`RAMP` s) around every
gesture, whose own keyframes then hold the wrist alone; trunk bounce, heel strikes and
tremor go on. The posture is an orientation only: the wrist's translation between the
posture and the plan's rest pose during a ramp is not modelled (an assumption).

Orientation offsets add to the plan's (yaw, elevation, roll); the postures and swings
all have yaw 0, where adding to the elevation is a rotation about the world's lateral
axis, so the swing of the arm and the swing of gravity in the watch frame agree.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._kinematics import REST_POSE, G
from ._types import Event

__all__ = ["GAITS", "POSTURES", "RACKET_PLAY", "RAMP", "BodyMotion", "Gait", "Play"]

RAMP = 0.4
"""Seconds over which the posture and swing fade in and out around a gesture."""

_MAX_JIGGLE = math.radians(3.0)  # the idle jiggle never turns the arm further (assumption)

POSTURES: dict[str, tuple[float, float, float]] = {
    # name: (forearm elevation deg, wrist roll deg, pivot radius / arm length)
    "hanging": (-80.0, -90.0, 1.0),  # arm at the side, watch face outwards
    "relaxed": (-60.0, 0.0, 1.0),  # forearm down and forward, face up (the plan's rest)
    "table": (0.0, 0.0, 0.45),  # forearm resting on a table, face up
    "raised": (35.0, -60.0, 0.45),  # forearm raised in front of the chest
}
"""Resting postures before the row's elevation offset and wrist roll."""


@dataclass(frozen=True)
class Play:
    """Racket play's strokes: each pair is the value at the row's 0 and at its 1.

    One stroke is three minimum-jerk rotations of the arm about the shoulder: a
    backswing lifting it by half the stroke's ``swing`` (0.3-0.5 s), the forward swing
    down through the ready position to half the swing below it (0.12-0.25 s; the
    forearm pronates 30-70 deg meanwhile, an orientation only) and the return
    (0.3-0.6 s, the pronation undone). Strokes come in rallies of 3-12 s separated by
    pauses of 2-10 s (:data:`_RALLY`), during which the arm rests in the ready position
    and the footwork goes on: a rally starts with a stroke, and the next starts every
    ``interval`` x 0.6-1.4 seconds, never before the last one has ended. The shuttle's
    or ball's contact is left out (the ``racket_stroke`` motion carries one).
    """

    interval: tuple[float, float]  # mean time from one stroke to the next, s, `gait_pace`
    swing: tuple[float, float]  # rotation of the arm through a stroke, deg, `arm_swing`


@dataclass(frozen=True)
class Gait:
    """One gait's ranges: each pair is the value at the row's 0 and at its 1."""

    cadence: tuple[float, float]  # steps/min, from `gait_pace`
    swing: tuple[float, float]  # arm swing amplitude, deg, from `arm_swing`
    heel: tuple[float, float]  # heel-strike peak at the wrist, g, from `heel_strike`
    trunk: tuple[float, float]  # vertical and fore-aft trunk bounce amplitude, g
    elevation: float  # forearm elevation, deg
    upper: float  # shoulder-to-elbow (straight down) as a fraction of the arm length
    play: Play | None = None  # strokes in place of the steady swing (racket play)


RACKET_PLAY = Play((4.0, 1.5), (60.0, 140.0))
"""Racket play's strokes; sources are in the default space's dimensions."""


GAITS = {
    # Walking: the arm hangs nearly straight (elbow slightly bent) and swings about the
    # shoulder; running: elbow bent about 90 deg, forearm forward, thumb up.
    "walking": Gait((80.0, 130.0), (8.0, 25.0), (0.1, 0.5), (0.25, 0.12), -80.0, 0.0),
    "running": Gait((140.0, 190.0), (20.0, 45.0), (0.5, 2.0), (0.9, 0.3), 10.0, 0.47),
    # Racket play (badminton, tennis, squash): footwork between strokes, the racket arm
    # in the ready position (elbow bent, forearm raised in front), no steady swing.
    "racket_play": Gait(
        (100.0, 180.0),
        (0.0, 0.0),
        (0.2, 1.0),
        (0.4, 0.15),
        20.0,
        0.47,
        play=RACKET_PLAY,
    ),
}
"""Walking, running and racket play; sources are in the default space's dimensions."""

_STROKE = ((0.3, 0.5), (0.12, 0.25), (0.3, 0.6), (30.0, 70.0))
"""Racket play: ranges of a stroke's backswing, forward swing and return durations (s)
and of its pronation (deg); assumptions (see :class:`Play`)."""

_RALLY = ((3.0, 12.0), (2.0, 10.0))
"""Racket play: ranges of a rally's and of the pause after it (s). Rallies after the
5-10 s means of badminton (Phomsoupha and Laffaye 2015, Sports Med 45:473); pauses
shorter than the 12-35 s rests reported there (assumption), so that a trace of 4-20 s
holds the start or the end of a rally more often."""


def _lerp(pair: tuple[float, float], u: float) -> float:
    return pair[0] + (pair[1] - pair[0]) * u


def _minjerk(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-jerk profile on [0, 1] and its first two derivatives in ``x``."""
    x = np.minimum(np.maximum(x, 0.0), 1.0)  # np.clip's values, without its overhead
    x2 = x * x
    s = x2 * x * (10.0 - 15.0 * x + 6.0 * x2)
    ds = 30.0 * x2 * (1.0 - x) ** 2
    dds = 60.0 * x * (1.0 - x) * (1.0 - 2.0 * x)
    return s, ds, dds


def _sin_cos(x: np.ndarray, bound: float) -> tuple[np.ndarray, np.ndarray]:
    """``sin(x)`` and ``cos(x)`` in float64 by their Taylor series, for the arm's angles.

    numpy's float64 sine and cosine are not vectorised here and cost ten times a
    multiplication; the series, cut where its next term falls below 2**-54 of the
    leading one at ``bound`` (at least the largest ``|x|``), agrees with them to within
    one unit in the last place (1e-16) for ``|x| <= 1.3`` rad. The body's angles stay
    below 1.3 rad (swing at most 45 deg, a racket stroke 70 deg each way, sway 4.5 deg).
    """
    n = max(bisect.bisect_left(_TAYLOR_REACH, bound) + 1, 2)
    sin_c, cos_c = _SIN_TAYLOR[n - 1 :: -1], _COS_TAYLOR[n - 1 :: -1]
    x2 = x * x
    sin, cos = x2 * sin_c[0], x2 * cos_c[0]
    sin += sin_c[1]
    cos += cos_c[1]
    for a, b in zip(sin_c[2:], cos_c[2:], strict=True):  # Horner in x^2
        sin *= x2
        sin += a
        cos *= x2
        cos += b
    sin *= x
    return sin, cos


# Coefficients of x^(2k+1) (sine) and x^(2k) (cosine), and the largest |x| for which
# the terms k < n suffice: the n-th cosine term (the larger) is below 2**-54 there.
_SIN_TAYLOR = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(16))
_COS_TAYLOR = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(16))
_TAYLOR_REACH = tuple((2.0**-54 * math.factorial(2 * n)) ** (0.5 / n) for n in range(1, 16))


def _heel_antiderivative(x: np.ndarray) -> np.ndarray:
    """Antiderivative of the unit heel pulse ``(x - x^2/2) e^-x / 0.2306`` (zero area)."""
    x = np.maximum(x, 0.0)
    out: np.ndarray = 0.5 * x * x * np.exp(-x) / _HEEL_PEAK
    return out


# Peak of (x - x^2/2) e^-x, at x = 2 - sqrt(2).
_HEEL_PEAK = (2.0 - math.sqrt(2.0) - 0.5 * (2.0 - math.sqrt(2.0)) ** 2) * math.exp(
    math.sqrt(2.0) - 2.0
)


_NO_STROKES = np.zeros((0, 6))
_NO_STROKES.flags.writeable = False


def _draw_rallies(rng: np.random.Generator, until: float) -> np.ndarray:
    """Racket play's rallies over [0, until], rows (start, end) in s, separated by pauses
    (see :data:`_RALLY`); the first may have started before 0."""
    rally_range, pause_range = _RALLY
    rows = []
    u = rng.uniform(0.0, 1.0, size=3)
    rally, pause = _lerp(rally_range, u[0]), _lerp(pause_range, u[1])
    start = -(rally + pause) * u[2]
    while start < until:
        rows.append((start, start + rally))
        start += rally + pause
        u = rng.uniform(0.0, 1.0, size=2)
        rally, pause = _lerp(rally_range, u[0]), _lerp(pause_range, u[1])
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def _draw_strokes(
    rng: np.random.Generator, interval: float, swing: float, rallies: np.ndarray
) -> np.ndarray:
    """Racket play's strokes in ``rallies`` (see :class:`Play`), as rows of
    :attr:`BodyMotion.strokes`: the first at a rally's start, the last before its end."""
    rows = []
    for start, end in rallies.tolist():
        while start < end:
            u = rng.uniform(0.0, 1.0, size=5)
            back, fwd, ret, pron = (_lerp(pair, x) for pair, x in zip(_STROKE, u[:4], strict=True))
            rows.append((start, back, fwd, ret, swing, math.radians(pron)))
            start = max(start + interval * (0.6 + 0.8 * u[4]), start + back + fwd + ret)
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


def _stroke_terms(
    strokes: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The strokes' arm rotation, its two time derivatives and the pronation at ``t``.

    Each stroke is three minimum-jerk moves of the arm's angle: 0 -> +swing/2 (the
    backswing), -> -swing/2 (the forward swing, pronating) and -> 0 (the return).
    """
    q, dq, ddq, roll = (np.zeros(t.size) for _ in range(4))
    start, back, fwd, ret, swing, pron = strokes.T
    half, zero = 0.5 * swing, np.zeros(len(strokes))
    # The moves in time order (three a stroke; none overlaps another), as columns of
    # (start, duration, angle from, angle to, pronation from, pronation to).
    t0 = np.stack([start, start + back, start + back + fwd], axis=1).ravel()
    d = np.stack([back, fwd, ret], axis=1).ravel()
    a0 = np.stack([zero, half, -half], axis=1).ravel()
    a1 = np.stack([half, -half, zero], axis=1).ravel()
    r0 = np.stack([zero, zero, pron], axis=1).ravel()
    r1 = np.stack([zero, pron, zero], axis=1).ravel()
    lo, hi = np.searchsorted(t, t0), np.searchsorted(t, t0 + d)
    count = hi - lo
    move = np.repeat(np.arange(t0.size), count)
    # Every instant inside a move: lo, lo + 1, ..., hi - 1 of each, all at once.
    at = np.arange(int(count.sum())) + np.repeat(lo - (np.cumsum(count) - count), count)
    s, ds, dds = _minjerk((t[at] - t0[move]) / d[move])
    q[at] = a0[move] + (a1 - a0)[move] * s
    dq[at] = ((a1 - a0) / d)[move] * ds
    ddq[at] = ((a1 - a0) / (d * d))[move] * dds
    roll[at] = r0[move] + (r1 - r0)[move] * s
    return q, dq, ddq, roll


@dataclass(frozen=True, eq=False)
class BodyMotion:
    """Everything the body adds to one trace's plan (see the module docstring).

    Build with :meth:`from_params`; evaluate with :meth:`on_grid` and :meth:`angles`.
    """

    windows: tuple[tuple[float, float], ...]  # gestures (start, end), s
    d_elev: float  # posture elevation minus the plan's rest elevation, rad
    d_roll: float  # posture roll minus the plan's rest roll, rad
    radius: tuple[float, float]  # pivot-to-wrist vector (forward, up) at the posture, m
    sway: np.ndarray  # (3, 4): rows angle amplitude (rad), omega (rad/s), phase; elev x2, roll x2
    swing: tuple[float, float, float]  # amplitude (rad), stride omega (rad/s), phase
    step: tuple[float, float, float, float]  # step omega, vertical, fore-aft (m/s^2), phase
    heel: tuple[float, float, float]  # peak (m/s^2), tau (s), forward share of direction
    tremor: tuple[float, float, float]  # amplitude (m/s^2), omega (rad/s), phase
    lean: float  # tan of the swing plane's lean towards the body's midline
    # Racket play's strokes, (n, 6): start (s), backswing, forward swing and return
    # durations (s), rotation through the stroke (rad), pronation (rad).
    strokes: np.ndarray = field(default_factory=lambda: _NO_STROKES)

    @classmethod
    def from_params(
        cls,
        p: Mapping[str, Any],
        events: Sequence[Event],
        rng: np.random.Generator,
        until: float = 0.0,
    ) -> BodyMotion:
        """The body of row ``p`` around ``events``.

        Draws a fixed number of values, and for racket play, then, its rallies and
        strokes up to ``until`` seconds.
        """
        u = rng.uniform(0.0, 1.0, size=16)
        ph = rng.uniform(0.0, 2.0 * math.pi, size=8)
        arm = float(p["arm_length"])
        gait = GAITS.get(str(p["background"]))
        if gait is None:
            elev, roll, frac = POSTURES[str(p["rest_posture"])]
            upper, forearm = 0.0, frac * arm
        else:
            elev, roll = gait.elevation, POSTURES["hanging"][1]
            upper, forearm = gait.upper * arm, (1.0 - gait.upper) * arm
        elev_rad = math.radians(elev + float(p["elevation_offset"]))
        roll_rad = math.radians(roll + float(p["wrist_roll"]))
        # Pivot (shoulder, or elbow for a forearm posture) to wrist: the upper arm hangs
        # straight down, the forearm points along its elevation.
        radius = (forearm * math.cos(elev_rad), forearm * math.sin(elev_rad) - upper)

        # Idle sway: two slow postural components in elevation and roll, and the arm's
        # pendular jiggle (two components) carrying the row's RMS acceleration.
        slow_amp = np.radians(0.3 + 1.2 * u[0:2])
        slow_w = 2.0 * math.pi * (0.1 + 0.4 * u[2:4])
        jig_w = 2.0 * math.pi * (0.7 + 0.9 * u[4:6])
        a_rms = float(p["idle_motion"]) * 1e-3 * G
        # The elevation jiggle (a sinusoid: peak sqrt(2) x RMS) carries the acceleration;
        # the roll jiggle turns the forearm by the same angle about its own axis.
        jig = math.sqrt(2.0) * a_rms / (math.hypot(*radius) * jig_w[0] ** 2)
        jig_amp = np.full(2, min(jig, _MAX_JIGGLE))
        sway = np.array(
            [
                [slow_amp[0], jig_amp[0], slow_amp[1], jig_amp[1]],
                [slow_w[0], jig_w[0], slow_w[1], jig_w[1]],
                ph[0:4],
            ]
        )

        swing = (0.0, 0.0, 0.0)
        step = (0.0, 0.0, 0.0, 0.0)
        heel = (0.0, 0.01, 0.0)
        if gait is not None:
            f_step = _lerp(gait.cadence, float(p["gait_pace"])) / 60.0
            w_step = 2.0 * math.pi * f_step
            swing = (math.radians(_lerp(gait.swing, float(p["arm_swing"]))), 0.5 * w_step, ph[4])
            vert, fore = gait.trunk
            step = (w_step, vert * G * (0.6 + 0.4 * u[6]), fore * G * (0.6 + 0.4 * u[7]), ph[5])
            heel_peak = _lerp(gait.heel, float(p["heel_strike"])) * G
            heel = (heel_peak, 0.008 + 0.012 * u[8], 0.3 * u[9])
        tremor = ((0.002 + 0.008 * u[10]) * G, 2.0 * math.pi * (8.0 + 4.0 * u[11]), ph[6])
        windows = tuple((e.start, e.end) for e in events if e.motion != "rest")
        strokes = _NO_STROKES
        if gait is not None and gait.play is not None:
            pace = float(p["gait_pace"])
            strokes = _draw_strokes(
                rng,
                _lerp(gait.play.interval, pace),
                math.radians(_lerp(gait.play.swing, float(p["arm_swing"]))),
                _draw_rallies(rng, until),
            )
        return cls(
            windows=windows,
            d_elev=elev_rad - REST_POSE.elevation,
            d_roll=roll_rad - REST_POSE.roll,
            radius=radius,
            sway=sway,
            swing=swing,
            step=step,
            heel=heel,
            tremor=tremor,
            lean=math.tan(math.radians(5.0 + 15.0 * u[12])),
            strokes=strokes,
        )

    def gate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The gate and its first two time derivatives at sorted instants ``t``.

        1 at rest, 0 during a gesture, minimum-jerk ramps of :data:`RAMP` s between;
        where ramps meet, the lower gate wins (windows taken in order).
        """
        g, dg, ddg = np.ones(t.size), np.zeros(t.size), np.zeros(t.size)
        if not self.windows:
            return g, dg, ddg
        times = [(s - RAMP, s, e, e + RAMP) for s, e in self.windows]
        index = np.searchsorted(t, times)  # (windows, 4)
        ramps = []  # (lo, hi, sign, origin): x = sign (t - origin) / RAMP runs 0 -> 1
        for (i0, i1, i2, i3), (before, _, _, after) in zip(index.tolist(), times, strict=True):
            g[i1:i2] = 0.0
            dg[i1:i2] = 0.0
            ddg[i1:i2] = 0.0
            ramps += [(i0, i1, 1.0, before), (i2, i3, -1.0, after)]
        edges = index.ravel().tolist()
        if all(a <= b for a, b in itertools.pairwise(edges)):
            # No two ramps or gestures share an instant: every ramp meets g = 1, and all
            # of them are evaluated at once.
            at = np.concatenate([np.arange(lo, hi) for lo, hi, _, _ in ramps])
            count = [hi - lo for lo, hi, _, _ in ramps]
            sign = np.repeat([r[2] for r in ramps], count)
            x = sign * (t[at] - np.repeat([r[3] for r in ramps], count)) / RAMP
            s, ds, dds = _minjerk(x)
            keep = 1.0 - s < 1.0
            g[at] = np.where(keep, 1.0 - s, 1.0)
            dg[at] = np.where(keep, -sign * ds / RAMP, 0.0)
            ddg[at] = np.where(keep, -dds / RAMP**2, 0.0)
            return g, dg, ddg
        for lo, hi, sign_k, origin in ramps:
            x = sign_k * (t[lo:hi] - origin) / RAMP
            s, ds, dds = _minjerk(x)
            keep = 1.0 - s < g[lo:hi]
            g[lo:hi] = np.where(keep, 1.0 - s, g[lo:hi])
            dg[lo:hi] = np.where(keep, -sign_k * ds / RAMP, dg[lo:hi])
            ddg[lo:hi] = np.where(keep, -dds / RAMP**2, ddg[lo:hi])
        return g, dg, ddg

    def _waves(self, t32: np.ndarray, steps: bool) -> tuple[np.ndarray, np.ndarray]:
        """Sines of the body's sinusoids at ``t32`` (float32), one row each, in one call.

        Rows: elevation sway (slow, jiggle), the arm swing if any (these first ones, the
        pitch terms, also get cosines: the second array), roll sway (slow, jiggle),
        tremor, and with ``steps`` the four step terms of the trunk bounce. Each
        argument is ``float32(omega) * t + float32(phase)`` in float32 (SIMD-fast
        trigonometry), row by row the same operations as one sinusoid at a time.
        """
        _, w, ph = self.sway
        omega = [w[0], w[1]] + ([self.swing[1]] if self.swing[0] > 0.0 else [])
        phase = [ph[0], ph[1]] + ([self.swing[2]] if self.swing[0] > 0.0 else [])
        pitch = len(omega)
        omega += [w[2], w[3], self.tremor[1]]
        phase += [ph[2], ph[3], self.tremor[2]]
        n = len(omega)
        arg = np.empty((n + 4 * steps, t32.size), dtype=np.float32)
        np.multiply.outer(np.array(omega, dtype=np.float32), t32, out=arg[:n])
        arg[:n] += np.array(phase, dtype=np.float32)[:, None]
        if steps:
            w_step, _, _, step_phase = self.step
            wt = arg[n]
            np.multiply(np.float32(w_step), t32, out=wt)
            wt += np.float32(step_phase)
            np.multiply(wt, 2.0, out=arg[n + 1])
            arg[n + 1] += np.float32(1.0)
            np.add(wt, np.float32(0.5), out=arg[n + 2])
            np.multiply(wt, 0.5, out=arg[n + 3])
            arg[n + 3] += np.float32(0.25)
        return np.sin(arg), np.cos(arg[:pitch])

    @property
    def _first_roll(self) -> int:
        """Row of the slow roll sway in :meth:`_waves` (after the pitch terms)."""
        return 3 if self.swing[0] > 0.0 else 2

    def _pitch(self, sin: np.ndarray) -> np.ndarray:
        """Swing and sway of the arm in elevation (rad) from the rows of :meth:`_waves`.

        The sway's amplitudes are float64 numbers, so their products are taken in
        float64; the swing's are Python floats, which numpy applies in float32.
        """
        amp = self.sway[0]
        sin64 = sin[:2].astype(np.float64)
        p = amp[0] * sin64[0]
        p += amp[1] * sin64[1]
        if self.swing[0] > 0.0:
            p += np.float32(self.swing[0]) * sin[2]
        return p

    def _pitch_rates(self, sin: np.ndarray, cos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and second time derivatives of :meth:`_pitch` (rad/s, rad/s^2)."""
        amp, w, _ = self.sway
        sin64, cos64 = sin[:2].astype(np.float64), cos[:2].astype(np.float64)
        dp = (amp[0] * w[0]) * cos64[0]
        dp += (amp[1] * w[1]) * cos64[1]
        ddp = -((amp[0] * w[0] * w[0]) * sin64[0])
        ddp -= (amp[1] * w[1] * w[1]) * sin64[1]
        a, ws, _ = self.swing
        if a > 0.0:
            dp += np.float32(a * ws) * cos[2]
            ddp -= np.float32(a * ws * ws) * sin[2]
        return dp, ddp

    def _angles(
        self, g: np.ndarray, pitch: np.ndarray, roll_sin: np.ndarray, pronation: np.ndarray | None
    ) -> np.ndarray:
        amp = self.sway[0]
        roll_sin = roll_sin.astype(np.float64)
        roll = amp[2] * roll_sin[0]
        roll += amp[3] * roll_sin[1]
        if pronation is not None:
            roll += pronation
        out = np.zeros((3, g.size))
        out[1] = g * (self.d_elev + pitch)
        out[2] = g * (self.d_roll + roll)
        return out

    def angles(self, t: np.ndarray) -> np.ndarray:
        """Offsets to the plan's (yaw, elevation, roll) at sorted instants ``t``, (3, n)."""
        t = np.asarray(t, dtype=np.float64)
        sin, _ = self._waves(t.astype(np.float32), steps=False)
        k = self._first_roll
        pitch, pronation = self._pitch(sin), None
        if self.strokes.size:
            q, _, _, pronation = _stroke_terms(self.strokes, t)
            pitch += q
        return self._angles(self.gate(t)[0], pitch, sin[k : k + 2], pronation)

    def on_grid(self, t: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Acceleration of the wrist and orientation offsets on a uniform grid.

        ``t`` is a uniform grid of spacing ``dt``. Returns the acceleration in the
        world frame (m/s^2, shape (n, 3), a transposed view of a (3, n) array) and the
        offsets of :meth:`angles` (shape (3, n)). The arm's rotation theta = gate x
        pitch gives the tangential (theta'') and centripetal (theta'^2) terms
        analytically; heel strikes are averaged over each grid cell so that a coarse
        grid keeps them.
        """
        g, dg, ddg = self.gate(t)
        w_step = self.step[0]
        sin, cos = self._waves(t.astype(np.float32), steps=w_step > 0.0)
        p = self._pitch(sin)
        dp, ddp = self._pitch_rates(sin, cos)
        pronation, stroke_amp = None, 0.0
        if self.strokes.size:
            q, dq, ddq, pronation = _stroke_terms(self.strokes, t)
            p += q
            dp += dq
            ddp += ddq
            stroke_amp = 0.5 * float(self.strokes[:, 4].max())
        k = self._first_roll
        ang = self._angles(g, p, sin[k : k + 2], pronation)
        theta = g * p
        d1 = dg * p + g * dp
        d2 = ddg * p + 2.0 * dg * dp + g * ddp
        # |theta| <= |pitch| <= the sum of its amplitudes (the gate is within [0, 1]).
        bound = float(self.sway[0][0] + self.sway[0][1]) + self.swing[0] + stroke_amp
        s, c = _sin_cos(theta, bound)
        fwd, up = self.radius
        # The pivot-to-wrist vector (fwd, up) turned by theta in the sagittal plane:
        # position P = (fwd c - up s, fwd s + up c), dP/dtheta = (-fwd s - up c, fwd c - up s).
        px, pz = fwd * c - up * s, fwd * s + up * c
        out = np.empty((3, t.size))
        out[0] = d2 * -pz - d1 * d1 * px
        out[2] = d2 * px - d1 * d1 * pz
        # The swing plane leans from the sagittal plane: the hand crosses the body.
        out[1] = out[0] * self.lean

        if w_step > 0.0:
            _, vert, fore, phase = self.step
            bounce = sin[k + 3] + 0.3 * sin[k + 4]  # summed in float32
            out[2] += vert * bounce
            out[0] += fore * sin[k + 5].astype(np.float64)
            out[1] += (0.3 * fore) * sin[k + 6].astype(np.float64)
            # One heel strike per step, at the same phase of each step: the cell
            # averages are differences of the pulse's antiderivative at the cell edges.
            peak, tau, share = self.heel
            period = 2.0 * math.pi / w_step
            edges = np.append(t - 0.5 * dt, t[-1] + 0.5 * dt)
            since = np.mod(edges - (period - phase / w_step), period)
            big = _heel_antiderivative(since / tau)
            pulse = np.diff(big) * (peak * tau / dt)
            # Where a cell straddles a new step the left edge belongs to the previous
            # pulse, whose antiderivative has returned to (nearly) zero.
            wrap = since[1:] < since[:-1]
            pulse[wrap] = big[1:][wrap] * (peak * tau / dt)
            out[2] += pulse
            out[0] += share * pulse

        out[1] += self.tremor[0] * sin[k + 2].astype(np.float64)
        return out.T, ang
