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
- **trunk bounce and heel strikes**: the shoulder's vertical and fore-aft bounce at the
  step rate, and one short zero-mean pulse per step carried up the body to the wrist;
- **physiological tremor**: 8-12 Hz, a few mg, always.

Posture, sway and swing fade out (minimum-jerk ramps of :data:`RAMP` s) around every
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
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._kinematics import REST_POSE, G
from ._types import Event

__all__ = ["GAITS", "POSTURES", "RAMP", "BodyMotion", "Gait"]

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
class Gait:
    """One gait's ranges: each pair is the value at the row's 0 and at its 1."""

    cadence: tuple[float, float]  # steps/min, from `gait_pace`
    swing: tuple[float, float]  # arm swing amplitude, deg, from `arm_swing`
    heel: tuple[float, float]  # heel-strike peak at the wrist, g, from `heel_strike`
    trunk: tuple[float, float]  # vertical and fore-aft trunk bounce amplitude, g
    elevation: float  # forearm elevation, deg
    upper: float  # shoulder-to-elbow (straight down) as a fraction of the arm length


GAITS = {
    # Walking: the arm hangs nearly straight (elbow slightly bent) and swings about the
    # shoulder; running: elbow bent about 90 deg, forearm forward, thumb up.
    "walking": Gait((80.0, 130.0), (8.0, 25.0), (0.1, 0.5), (0.25, 0.12), -80.0, 0.0),
    "running": Gait((140.0, 190.0), (20.0, 45.0), (0.5, 2.0), (0.9, 0.3), 10.0, 0.47),
}
"""Walking and running; sources are in the default space's dimensions."""


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
    one unit in the last place (1e-16) for ``|x| <= 1`` rad. The body's angles stay
    below 0.9 rad (swing at most 45 deg, sway 4.5 deg).
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

    @classmethod
    def from_params(
        cls, p: Mapping[str, Any], events: Sequence[Event], rng: np.random.Generator
    ) -> BodyMotion:
        """The body of row ``p`` around ``events``; draws a fixed number of values."""
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

    def _angles(self, g: np.ndarray, pitch: np.ndarray, roll_sin: np.ndarray) -> np.ndarray:
        amp = self.sway[0]
        roll_sin = roll_sin.astype(np.float64)
        roll = amp[2] * roll_sin[0]
        roll += amp[3] * roll_sin[1]
        out = np.zeros((3, g.size))
        out[1] = g * (self.d_elev + pitch)
        out[2] = g * (self.d_roll + roll)
        return out

    def angles(self, t: np.ndarray) -> np.ndarray:
        """Offsets to the plan's (yaw, elevation, roll) at sorted instants ``t``, (3, n)."""
        t = np.asarray(t, dtype=np.float64)
        sin, _ = self._waves(t.astype(np.float32), steps=False)
        k = self._first_roll
        return self._angles(self.gate(t)[0], self._pitch(sin), sin[k : k + 2])

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
        k = self._first_roll
        ang = self._angles(g, p, sin[k : k + 2])
        theta = g * p
        d1 = dg * p + g * dp
        d2 = ddg * p + 2.0 * dg * dp + g * ddp
        # |theta| <= |pitch| <= the sum of its amplitudes (the gate is within [0, 1]).
        s, c = _sin_cos(theta, float(self.sway[0][0] + self.sway[0][1]) + self.swing[0])
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
