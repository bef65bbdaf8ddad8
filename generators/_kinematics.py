"""Wrist kinematics: minimum-jerk keyframe plans, contact impulses, specific force.

A motion is described as a *plan*: keyframes of the wrist position (world frame,
metres; x forward, y to the left, z up) and of the watch orientation (yaw, forearm
elevation, wrist roll; radians), joined by minimum-jerk segments, plus short contact
impulses. :func:`specific_force` evaluates a plan at arbitrary instants and returns what
an ideal accelerometer strapped to the wrist reads: specific force (acceleration minus
gravity) in the sensor frame, in g.

Sensor frame of a watch on the dorsal side of the wrist: x along the forearm towards
the hand, y across the wrist, z out of the watch face. Orientation is
``R = Rz(yaw) @ Ry(-elevation) @ Rx(roll)`` (sensor to world), so with the forearm
horizontal and the face up the watch reads ``(0, 0, +1) g`` at rest.

Simplifications (documented assumptions): the sensor sits at the wrist point, so the
centripetal and tangential terms of the forearm's rotation about the wrist are ignored;
angles are interpolated independently with the same minimum-jerk profile as position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "FOREARM",
    "MINJERK_PEAK",
    "REST_POSE",
    "UPPER_ARM",
    "G",
    "Impulse",
    "Plan",
    "PlanBuilder",
    "Pose",
    "arm_raise",
    "gravity_reaction",
    "specific_force",
    "stroke_time",
]

G = 9.80665
"""Standard gravity in m/s^2."""

MINJERK_PEAK = 10.0 / math.sqrt(3.0)
"""Peak of the normalised minimum-jerk acceleration: ``max|a| = 5.7735 D / T**2``."""


def stroke_time(distance: float, peak_accel: float) -> float:
    """Duration of a minimum-jerk stroke over ``distance`` m peaking at ``peak_accel`` m/s^2."""
    return math.sqrt(MINJERK_PEAK * max(distance, 1e-6) / peak_accel)


@dataclass(frozen=True)
class Pose:
    """Wrist position (m, world frame) and watch orientation (rad)."""

    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw: float = 0.0
    elevation: float = 0.0
    roll: float = 0.0


REST_POSE = Pose(pos=(0.0, 0.0, 0.0), yaw=0.0, elevation=math.radians(-60.0), roll=0.0)
"""Arm relaxed at the side, forearm pointing down and slightly forward."""

UPPER_ARM = 0.186 / 0.332
"""Upper arm (shoulder to elbow) as a share of the shoulder-to-wrist length: segment
lengths 0.186 H and 0.146 H of body height H (Drillis and Contini 1966, as tabulated by
Winter, Biomechanics and Motor Control of Human Movement, 4th ed., 2009, Fig. 4.1)."""

FOREARM = 0.146 / 0.332
"""Forearm (elbow to wrist) as a share of the shoulder-to-wrist length (see UPPER_ARM)."""


def arm_raise(flexion_deg: float, forearm_deg: float) -> tuple[float, float]:
    """Forward and upward travel of the wrist from the rest pose, in arm lengths.

    The arm is raised in the sagittal plane: the upper arm from hanging (0 deg) to
    ``flexion_deg`` of shoulder flexion (90 deg: pointing forward), the forearm from
    the rest pose's 60 deg below horizontal to ``forearm_deg`` above it.
    """

    def wrist(flexion: float, forearm: float) -> tuple[float, float]:
        f, e = math.radians(flexion), math.radians(forearm)
        return (
            UPPER_ARM * math.sin(f) + FOREARM * math.cos(e),
            -UPPER_ARM * math.cos(f) + FOREARM * math.sin(e),
        )

    x0, z0 = wrist(0.0, math.degrees(REST_POSE.elevation))
    x1, z1 = wrist(flexion_deg, forearm_deg)
    return x1 - x0, z1 - z0


@dataclass(frozen=True)
class Impulse:
    """A contact: a gamma-shaped acceleration pulse ``A (u/tau) exp(1 - u/tau)``.

    ``u = t - time``; the pulse peaks at ``peak`` m/s^2 one ``tau`` after ``time`` and is
    applied along the unit vector ``direction`` in the world frame.
    """

    time: float
    peak: float
    tau: float
    direction: tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class Plan:
    """Keyframes and impulses of a whole trace, ready for evaluation.

    ``times`` has shape (k,), strictly increasing; ``pos`` (k, 3); ``angles`` (k, 3) as
    (yaw, elevation, roll). Before the first and after the last keyframe the pose is held.
    """

    times: np.ndarray
    pos: np.ndarray
    angles: np.ndarray
    impulses: tuple[Impulse, ...] = ()

    @property
    def end(self) -> float:
        return float(self.times[-1])

    def shifted(self, dt: float) -> Plan:
        """The same plan, ``dt`` seconds later."""
        return Plan(
            self.times + dt,
            self.pos,
            self.angles,
            tuple(Impulse(i.time + dt, i.peak, i.tau, i.direction) for i in self.impulses),
        )


@dataclass
class PlanBuilder:
    """Builds a :class:`Plan` one segment at a time, starting from ``pose`` at ``time``.

    Motions call :meth:`move`, :meth:`hold` and :meth:`impulse`; the builder keeps the
    current time and pose so that motions chain without gaps or jumps.
    """

    pose: Pose = REST_POSE
    time: float = 0.0
    _times: list[float] = field(default_factory=list)
    _pos: list[tuple[float, float, float]] = field(default_factory=list)
    _ang: list[tuple[float, float, float]] = field(default_factory=list)
    _impulses: list[Impulse] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._push()

    def _push(self) -> None:
        p = self.pose
        self._times.append(self.time)
        self._pos.append(p.pos)
        self._ang.append((p.yaw, p.elevation, p.roll))

    def move(
        self,
        duration: float,
        *,
        pos: tuple[float, float, float] | None = None,
        dpos: tuple[float, float, float] | None = None,
        yaw: float | None = None,
        elevation: float | None = None,
        roll: float | None = None,
    ) -> PlanBuilder:
        """Minimum-jerk move to a new pose over ``duration`` s.

        Give the target position absolutely (``pos``) or as a displacement (``dpos``);
        angles left as ``None`` keep their current value.
        """
        if not duration > 0.0:
            raise ValueError(f"move duration must be > 0 s, got {duration!r}")
        p = self.pose
        if pos is None:
            d = dpos or (0.0, 0.0, 0.0)
            pos = (p.pos[0] + d[0], p.pos[1] + d[1], p.pos[2] + d[2])
        self.pose = Pose(
            pos=pos,
            yaw=p.yaw if yaw is None else yaw,
            elevation=p.elevation if elevation is None else elevation,
            roll=p.roll if roll is None else roll,
        )
        self.time += duration
        self._push()
        return self

    def hold(self, duration: float) -> PlanBuilder:
        """Keep the current pose for ``duration`` s (no keyframe for zero duration)."""
        if duration > 0.0:
            self.time += duration
            self._push()
        return self

    def impulse(
        self,
        peak: float,
        tau: float,
        direction: tuple[float, float, float],
        at: float | None = None,
    ) -> PlanBuilder:
        """Add a contact pulse of ``peak`` m/s^2 at time ``at`` (default: now)."""
        d = np.asarray(direction, dtype=float)
        d = d / np.linalg.norm(d)
        t = self.time if at is None else at
        self._impulses.append(Impulse(t, float(peak), float(tau), (d[0], d[1], d[2])))
        return self

    @property
    def quiet_at(self) -> float:
        """When the last contact impulse has died out (< 1e-4 of its peak), or 0."""
        return max((i.time + 13.0 * i.tau for i in self._impulses), default=0.0)

    def build(self) -> Plan:
        return Plan(
            np.asarray(self._times, dtype=np.float64),
            np.asarray(self._pos, dtype=np.float64),
            np.asarray(self._ang, dtype=np.float64),
            tuple(self._impulses),
        )


def _segments(plan: Plan, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment index, normalised time tau in [0, 1] and segment duration for each instant."""
    times = plan.times
    k = np.searchsorted(times, t, side="right") - 1
    k = np.minimum(np.maximum(k, 0), max(times.size - 2, 0))  # np.clip, less overhead
    if times.size < 2:
        return k, np.zeros_like(t), np.ones_like(t)
    dur = times[k + 1] - times[k]
    tau = np.minimum(np.maximum((t - times[k]) / dur, 0.0), 1.0)
    return k, tau, dur


def specific_force(
    plan: Plan,
    t: npt.ArrayLike,
    *,
    cell: float = 0.0,
    extra: np.ndarray | None = None,
    extra_angles: np.ndarray | None = None,
) -> np.ndarray:
    """Ideal accelerometer reading of ``plan`` at instants ``t``.

    Parameters
    ----------
    plan : Plan
        Keyframes and impulses.
    t : array_like, shape (n,)
        Instants in seconds.
    cell : float, optional
        If > 0, each contact impulse is averaged over ``[t - cell/2, t + cell/2]``
        (exactly, from its antiderivative) instead of being sampled at ``t``. On a grid
        of spacing ``cell`` this keeps the impulse's momentum exact however short the
        pulse, so a coarse grid does not alias it.
    extra : np.ndarray, shape (n, 3), optional
        Additional acceleration in the world frame, m/s^2 (background activity).
    extra_angles : np.ndarray, shape (3, n), optional
        Offsets added to the plan's (yaw, elevation, roll), rad (posture, arm swing).

    Returns
    -------
    np.ndarray, shape (n, 3), float64
        Specific force in the sensor frame, in g.
    """
    t = np.asarray(t, dtype=np.float64)
    k, tau, dur = _segments(plan, t)
    inside = (t >= plan.times[0]) & (t <= plan.times[-1])
    # Segment k runs from keyframe k to k + 1; its steps are taken once per segment
    # rather than once per instant (the same subtraction, so the same bits).
    if plan.times.size > 1:
        step_pos, step_ang = plan.pos[1:] - plan.pos[:-1], plan.angles[1:] - plan.angles[:-1]
    else:
        step_pos, step_ang = np.zeros_like(plan.pos), np.zeros_like(plan.angles)
    # One gather for all nine per-segment rows, axis first: every row below is then
    # contiguous, which is faster than columns of (n, 3) arrays and gives the same
    # values element by element.
    table = np.concatenate([step_pos.T, plan.angles[: step_ang.shape[0]].T, step_ang.T])
    rows = np.take(table, k, axis=1)

    # Minimum-jerk profile s(tau) = 10 tau^3 - 15 tau^4 + 6 tau^5 and its second
    # derivative (per unit displacement): s'' = (60 tau - 180 tau^2 + 120 tau^3) / T^2.
    tau2 = tau * tau
    s = tau2 * tau * (10.0 - 15.0 * tau + 6.0 * tau2)
    acc_gain = np.where(inside, (60.0 * tau - 180.0 * tau2 + 120.0 * tau2 * tau) / dur**2, 0.0)

    acc = rows[0:3] * acc_gain
    ang = rows[3:6] + rows[6:9] * s
    if extra_angles is not None:
        ang += extra_angles

    for imp in plan.impulses:
        u = t - imp.time
        on = (u > -cell) & (u < 12.0 * imp.tau + cell)
        if not on.any():
            continue
        acc[:, on] += np.asarray(imp.direction)[:, None] * _pulse(u[on], imp.peak, imp.tau, cell)
    if extra is not None:
        acc += extra.T

    acc[2] += G  # specific force: acceleration minus gravity (gravity points down)
    return _world_to_sensor(acc, ang) / G


def gravity_reaction(
    plan: Plan, t: npt.ArrayLike, extra_angles: np.ndarray | None = None
) -> np.ndarray:
    """The reaction to gravity in the sensor frame at instants ``t``, in g.

    This is the part of :func:`specific_force` that gravity contributes: the world's
    ``(0, 0, 1)`` g seen in the watch's orientation at each instant. Subtracting it
    from a reading leaves the linear acceleration that a phone's "linear
    acceleration" sensor reports.

    Parameters
    ----------
    plan : Plan
        Keyframes (impulses do not rotate the watch and are ignored).
    t : array_like, shape (n,)
        Instants in seconds.
    extra_angles : np.ndarray, shape (3, n), optional
        Offsets added to the plan's (yaw, elevation, roll), as in :func:`specific_force`.

    Returns
    -------
    np.ndarray, shape (n, 3), float64
        Unit vectors (|v| = 1 g) in the sensor frame.
    """
    t = np.asarray(t, dtype=np.float64)
    k, tau, _ = _segments(plan, t)
    tau2 = tau * tau
    s = tau2 * tau * (10.0 - 15.0 * tau + 6.0 * tau2)
    if plan.times.size > 1:
        step_ang = np.diff(plan.angles, axis=0)
        ang = plan.angles[k].T + step_ang[k].T * s
    else:
        ang = np.repeat(plan.angles[:1].T, t.size, axis=1)
    if extra_angles is not None:
        ang = ang + extra_angles
    up = np.zeros((3, t.size))
    up[2] = 1.0
    return _world_to_sensor(up, ang)


def _pulse(u: np.ndarray, peak: float, tau: float, cell: float) -> np.ndarray:
    """Gamma pulse ``peak (u/tau) e^(1-u/tau)`` for u > 0, point value or cell average."""
    if cell <= 0.0:
        x = np.maximum(u, 0.0) / tau
        return peak * x * np.exp(1.0 - x)

    # Antiderivative of the pulse: F(u) = -peak tau e (1 + u/tau) e^(-u/tau), F = F(0) for u <= 0.
    def antiderivative(v: np.ndarray) -> np.ndarray:
        x = np.maximum(v, 0.0) / tau
        return -peak * tau * np.e * (1.0 + x) * np.exp(-x)

    half = 0.5 * cell
    return (antiderivative(u + half) - antiderivative(u - half)) / cell


def _world_to_sensor(v: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """Apply ``R^T = Rx(-roll) Ry(elevation) Rz(-yaw)`` to each column of ``v``.

    ``v`` and ``ang`` (yaw, elevation, roll) have shape (3, n); returns shape (n, 3).
    """
    # float32 trigonometry is SIMD-vectorised and ~10x faster than float64; 1e-7 rad
    # is far below any orientation effect the sensor can resolve.
    a32 = ang.astype(np.float32)
    cos, sin = np.cos(a32).astype(np.float64), np.sin(a32).astype(np.float64)
    # Renormalise each pair in float64 so the rotation preserves length to 1e-15.
    norm = np.sqrt(cos * cos + sin * sin)
    cos /= norm
    sin /= norm
    x, y, z = v
    c, s = cos[0], sin[0]
    x, y = c * x + s * y, -s * x + c * y  # Rz(-yaw)
    c, s = cos[1], sin[1]
    x, z = c * x + s * z, -s * x + c * z  # Ry(elevation) undoes Ry(-elevation)
    c, s = cos[2], sin[2]
    y, z = c * y + s * z, -s * y + c * z  # Rx(-roll)
    out = np.empty((3, x.size))
    out[0], out[1], out[2] = x, y, z
    return out.T  # (n, 3), laid out axis by axis: cheaper than stacking rows
