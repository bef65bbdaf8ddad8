"""The default parameter space: the solution space a wrist-worn counter meets.

Every dimension states its unit, nominal value, range and where the range comes from.
Ranges marked "assumption" are engineering judgement, not measurements: they are the
first thing to revisit when field recordings become available.
"""

from __future__ import annotations

from functools import cache

from ._body import GAITS, POSTURES, RACKET_PLAY
from ._space import Dimension, Kind, ParameterSpace
from .motions import MOTIONS

__all__ = ["BACKGROUNDS", "default_space"]

BACKGROUNDS = ("none", *GAITS)

_BMI270 = "Bosch BMI270 datasheet (BST-BMI270-DS000)"
_LSM6DSO = "ST LSM6DSO datasheet (DocID 030282)"


def _per_gait(field: str, unit: str, gaits: tuple[str, ...] = tuple(GAITS)) -> str:
    """'walking a-b unit, running c-d unit, ...' for one of the gaits' ranges."""
    ranges = []
    for name in gaits:
        lo, hi = getattr(GAITS[name], field)
        ranges.append(f"{name.replace('_', ' ')} {lo:g}-{hi:g} {unit}")
    return ", ".join(ranges)


def _dims() -> list[Dimension]:
    motions = tuple(MOTIONS)
    # Half of the cases are high-fives, so that counting is exercised as much as
    # rejection; the other motions share the rest equally.
    others = max(len(motions) - 1, 1)
    motion_w = tuple(float(others) if m == "high_five" else 1.0 for m in motions)
    distractors = ("none", *(m for m in motions if not MOTIONS[m].is_high_five and m != "rest"))
    distractor_w = tuple(
        float(max(len(distractors) - 1, 1)) if m == "none" else 1.0 for m in distractors
    )
    # Dimension kinds: real, whole number, choice.
    C: Kind = "continuous"
    Z: Kind = "integer"
    K: Kind = "categorical"
    return [
        # -- scenario --------------------------------------------------------------
        Dimension(
            "motion",
            K,
            choices=motions,
            weights=motion_w,
            nominal="high_five",
            description="the motion performed (repeated `repetitions` times)",
        ),
        Dimension(
            "repetitions",
            Z,
            1,
            4,
            nominal=1,
            unit="count",
            description="how many times the motion is performed in the trace",
        ),
        Dimension(
            "gap",
            C,
            0.3,
            6.0,
            nominal=2.0,
            unit="s",
            distribution="log-uniform",
            description="rest between the end of one motion and the start of the next",
            source="assumption; below 0.5 s tests double-counting",
        ),
        Dimension(
            "distractor",
            K,
            choices=distractors,
            weights=distractor_w,
            nominal="none",
            description=(
                "another motion inserted at a random place among the repetitions; none "
                "half the time, the others equally"
            ),
        ),
        Dimension(
            "duration",
            C,
            4.0,
            20.0,
            nominal=10.0,
            unit="s",
            description="minimum trace length; extended if the motions need more",
            source="assumption",
        ),
        # -- motion kinematics -------------------------------------------------------
        Dimension(
            "peak_accel",
            C,
            4.0,
            40.0,
            nominal=12.0,
            unit="m/s^2",
            distribution="log-uniform",
            description=(
                "peak wrist acceleration of the motion's main stroke (not arm_swing's; "
                "fixed-duration segments of some motions peak higher at low values)"
            ),
            source="assumption, after reported wrist peaks of 5-30 m/s^2 in reaching and gesturing",
        ),
        Dimension(
            "hold_time",
            C,
            0.0,
            0.4,
            nominal=0.1,
            unit="s",
            description="pause at the motion's extreme pose (e.g. palms together), / tempo",
            source="assumption",
        ),
        Dimension(
            "return_time",
            C,
            0.3,
            1.5,
            nominal=0.6,
            unit="s",
            description=(
                "duration of the return stroke to the rest pose, / tempo; longer when "
                "peak_accel needs more for the distance or a contact is still dying out"
            ),
            source="assumption",
        ),
        Dimension(
            "elevation_offset",
            C,
            -25.0,
            25.0,
            nominal=0.0,
            unit="deg",
            distribution="normal",
            sd=10.0,
            description="shift of the forearm elevation from the motion's canonical pose",
            source="assumption",
        ),
        Dimension(
            "wrist_roll",
            C,
            -60.0,
            60.0,
            nominal=0.0,
            unit="deg",
            distribution="normal",
            sd=25.0,
            description="pronation (+) or supination (-) from the canonical pose",
            source="forearm rotation range of motion about +-80 deg; assumption",
        ),
        Dimension(
            "impact_peak",
            C,
            0.5,
            8.0,
            nominal=3.0,
            unit="g",
            distribution="log-uniform",
            description="peak of the contact impulse at the wrist (palm, clap, knock)",
            source="assumption, after wrist-worn impact studies reporting 2-10 g",
        ),
        Dimension(
            "impact_decay",
            C,
            4.0,
            40.0,
            nominal=12.0,
            unit="ms",
            distribution="log-uniform",
            description="time constant of the contact impulse (soft to hard contact)",
            source="assumption",
        ),
        # -- person ----------------------------------------------------------------
        Dimension(
            "arm_length",
            C,
            0.55,
            0.80,
            nominal=0.66,
            unit="m",
            description="shoulder-to-wrist length; scales reach distances",
            source="anthropometric tables, 5th female to 95th male percentile",
        ),
        Dimension(
            "tempo",
            C,
            0.7,
            1.4,
            nominal=1.0,
            unit="x",
            description=(
                "speed factor of the person; divides hold_time, return_time and the "
                "motions' fixed segments, not the strokes peak_accel sets, nor gait"
            ),
            source="assumption",
        ),
        # -- sensor ------------------------------------------------------------------
        Dimension(
            "sensor_range",
            K,
            choices=(2, 4, 8, 16),
            nominal=8,
            unit="g",
            description="full-scale range; readings clip at +-range",
            source=f"{_BMI270}; {_LSM6DSO}",
        ),
        Dimension(
            "resolution_bits",
            Z,
            8,
            16,
            nominal=16,
            unit="bit",
            description="ADC resolution over the full range",
            source=f"{_BMI270} (16 bit); 8-12 bit for low-power parts, assumption",
        ),
        Dimension(
            "noise_density",
            C,
            70.0,
            1000.0,
            nominal=160.0,
            unit="ug/sqrt(Hz)",
            distribution="log-uniform",
            description="output noise spectral density",
            source=f"{_BMI270} (160); {_LSM6DSO} (70-130); low-power modes, assumption",
        ),
        *(
            Dimension(
                f"bias_{ax}",
                C,
                -80.0,
                80.0,
                nominal=0.0,
                unit="mg",
                distribution="normal",
                sd=25.0,
                description=f"zero-g offset of the {ax} axis",
                source=f"{_BMI270} (+-20 mg typ.); after soldering and ageing, assumption",
            )
            for ax in "xyz"
        ),
        *(
            Dimension(
                f"scale_{ax}",
                C,
                -3.0,
                3.0,
                nominal=0.0,
                unit="%",
                distribution="normal",
                sd=1.0,
                description=f"scale-factor (sensitivity) error of the {ax} axis",
                source=f"{_BMI270} (+-0.5 % typ.); temperature drift, assumption",
            )
            for ax in "xyz"
        ),
        Dimension(
            "cross_axis",
            C,
            0.0,
            3.0,
            nominal=0.5,
            unit="%",
            description="cross-axis sensitivity, coupling between axes",
            source=f"{_BMI270} (+-1 % typ.); assumption beyond",
        ),
        Dimension(
            "misalign_x",
            C,
            -10.0,
            10.0,
            nominal=0.0,
            unit="deg",
            distribution="normal",
            sd=4.0,
            description="mounting misalignment: rotation of the sensor about its x axis",
            source="assumption (watch position on the wrist)",
        ),
        Dimension(
            "misalign_y",
            C,
            -10.0,
            10.0,
            nominal=0.0,
            unit="deg",
            distribution="normal",
            sd=4.0,
            description="mounting misalignment: rotation of the sensor about its y axis",
            source="assumption (watch position on the wrist)",
        ),
        Dimension(
            "sample_rate",
            K,
            choices=(25, 50, 100, 200),
            nominal=50,
            unit="Hz",
            description="output data rate (the counter resamples to its own rate)",
            source=f"{_BMI270} ODR settings",
        ),
        Dimension(
            "clock_drift",
            C,
            -2.0,
            2.0,
            nominal=0.0,
            unit="%",
            description="deviation of the real sample rate from the nominal one",
            source=f"{_BMI270} (ODR accuracy); assumption",
        ),
        Dimension(
            "clock_jitter",
            C,
            0.0,
            5.0,
            nominal=0.5,
            unit="% of period",
            description="standard deviation of sample-instant jitter",
            source="assumption",
        ),
        Dimension(
            "drop_rate",
            C,
            0.0,
            0.05,
            nominal=0.0,
            unit="fraction",
            description="fraction of samples lost (FIFO overrun, bus errors)",
            source="assumption",
        ),
        # -- background -------------------------------------------------------------
        Dimension(
            "background",
            K,
            choices=BACKGROUNDS,
            weights=(3.0, 1.0, 1.0, 1.0),
            nominal="none",
            description=(
                "what the body does meanwhile: standing still (half the time), walking, "
                "running, racket play (footwork and a stroke every few seconds)"
            ),
        ),
        Dimension(
            "rest_posture",
            K,
            choices=tuple(POSTURES),
            nominal="relaxed",
            description=(
                "forearm posture between gestures when standing (hanging at the side, "
                "relaxed, on a table, raised), shifted by elevation_offset and wrist_roll; "
                "walking, running and racket play take their own posture"
            ),
            source="assumption",
        ),
        Dimension(
            "idle_motion",
            C,
            10.0,
            150.0,
            nominal=40.0,
            unit="mg",
            distribution="log-uniform",
            description=(
                "RMS linear acceleration of the wrist's idle jiggle at rest (0.7-1.6 Hz, "
                "arm turning at most 3 deg; the reading also swings with gravity), on top "
                "of postural sway (0.1-0.5 Hz, 0.3-1.5 deg) and 8-12 Hz physiological "
                "tremor (2-10 mg)"
            ),
            source=(
                "assumption: tens of mg of dynamic acceleration at a standing wrist, as "
                "smartwatch recordings of standing show; sway after Winter 1995 (Gait "
                "Posture 3:193), tremor after Elble 2003 (Clin Neurophysiol 114:624)"
            ),
        ),
        Dimension(
            "gait_pace",
            C,
            0.0,
            1.0,
            nominal=0.5,
            unit="fraction",
            description=(
                "cadence within the gait's range, 0 slowest to 1 fastest: "
                + _per_gait("cadence", "steps/min")
                + "; the arm swings at half the cadence (stride rate); in racket play "
                f"also a stroke every {RACKET_PLAY.interval[0]:g} s (0) to "
                f"{RACKET_PLAY.interval[1]:g} s (1) on average"
            ),
            source=(
                "Tudor-Locke et al. 2018 (Br J Sports Med 52:776), walking cadences from "
                "slow to brisk; Cavanagh and Kram 1989 (Med Sci Sports Exerc 21:467) and "
                "Heiderscheit et al. 2011 (Med Sci Sports Exerc 43:296), running from "
                "slow jogging to fast; racket play: about one shot a second in elite "
                "badminton singles, shared by the two players (Phomsoupha and Laffaye "
                "2015, Sports Med 45:473), slower in recreational play, and its footwork "
                "cadence: assumption"
            ),
        ),
        Dimension(
            "arm_swing",
            C,
            0.0,
            1.0,
            nominal=0.5,
            unit="fraction",
            description=(
                "amplitude (half the peak-to-peak excursion) of the arm's swing about the "
                "shoulder while walking or running, 0 smallest to 1 largest: "
                + _per_gait("swing", "deg", ("walking", "running"))
                + "; in racket play the arm's whole rotation through a stroke, "
                f"{RACKET_PLAY.swing[0]:g}-{RACKET_PLAY.swing[1]:g} deg"
            ),
            source=(
                "Collins et al. 2009 (Proc R Soc B 276:3679) and Meyns et al. 2013 (Gait "
                "Posture 38:555), shoulder excursions in walking, taken as amplitudes; "
                "not checked whether they report ranges (then the swing is twice theirs); "
                "running and racket-stroke ranges, assumption"
            ),
        ),
        Dimension(
            "heel_strike",
            C,
            0.0,
            1.0,
            nominal=0.5,
            unit="fraction",
            description=(
                "peak of the heel-strike pulse reaching the wrist (one per step, 8-20 ms), "
                "0 softest to 1 hardest: " + _per_gait("heel", "g")
            ),
            source=(
                "assumption, after shock attenuating from 2-10 g at the tibia to about "
                "0.5-2 g at the head (Lafortune et al. 1996, J Biomech 29:1531)"
            ),
        ),
    ]


@cache
def default_space() -> ParameterSpace:
    """The default parameter space of the counter (see the module docstring)."""
    return ParameterSpace(_dims())
