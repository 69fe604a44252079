"""Keyframed actions for the webcam classes: a few keyframes of joint angles per style.

A style is an intro, a cycle (repeated `reps` times) and an outro of keyframes. A keyframe is
(seconds to reach it, {joint: angles}); joints it does not name stay at the base posture
(standing, or seated at a desk). Angles are degrees: arm/leg/trunk joints (flex, abd, twist)
with flex forward and abd away from the body; elbows and knees one flexion angle. `r_`/`l_`
joints are swapped for a left-handed performance; `lift` raises the body (jumps), `travel` moves
it forward (m/s). Styles whose name is in `TEST_STYLES` are used only by the held-out test.
"""

from __future__ import annotations

from dataclasses import dataclass

Key = tuple[float, dict]


@dataclass(frozen=True)
class Style:
    name: str
    cycle: tuple[Key, ...]
    intro: tuple[Key, ...] = ()
    outro: tuple[Key, ...] = ()
    bases: tuple[str, ...] = ("standing", "seated")
    reps: tuple[int, int] = (1, 1)
    travel: float = 0.0  # m/s forward


def _arm(side: str, flex: float, abd: float, elbow: float, twist: float = 0.0) -> dict:
    return {f"{side}_shoulder": (flex, abd, twist), f"{side}_elbow": elbow}


def _both(flex: float, abd: float, elbow: float, twist: float = 0.0) -> dict:
    return {**_arm("r", flex, abd, elbow, twist), **_arm("l", flex, abd, elbow, twist)}


REST = {**_both(0, 8, 10)}  # arms hanging (standing)
DESK = {**_both(25, 10, 75)}  # forearms on a desk (seated)
_DOWN = ((0.5, {}),)  # back to the base posture


def _wave(flex, abd, elbow, swing, period, name, twist=0.0, turn=20.0, bend=25.0):
    """A wave swings the hand side to side a few times a second: the upper arm by ±`swing`
    (abduction), the forearm by ±`bend` at the elbow and ±`turn` (rotation of the upper arm)."""
    a = _arm("r", flex, abd - swing, max(elbow - bend, 0.0), twist - turn)
    b = _arm("r", flex, abd + swing, elbow + bend, twist + turn)
    return Style(
        name, ((period / 2, a), (period / 2, b)), intro=((0.35, b),), outro=_DOWN, reps=(3, 6)
    )


def _legs(hip_r, hip_l, knee_r, knee_l) -> dict:
    return {"r_hip": (hip_r, 0, 0), "l_hip": (hip_l, 0, 0), "r_knee": knee_r, "l_knee": knee_l}


def _gait(hip, knee_swing, knee_stance, arm, elbow, step, name, travel, lean=0.0, lift=0.0):
    def phase(sign, lifted):
        return {
            **_legs(sign * hip, -sign * hip * 0.6, knee_stance, knee_swing * 0.4),
            **_arm("r", -sign * arm, 8, elbow),
            **_arm("l", sign * arm, 8, elbow),
            "chest": (lean, 0, sign * 4),
            "lift": lifted,
        }

    def passing(sign):
        return {
            **_legs(sign * hip * 0.1, -sign * hip * 0.1, knee_stance, knee_swing),
            **_both(0, 8, elbow),
            "chest": (lean, 0, 0),
            "lift": lift,
        }

    keys = ((step / 2, phase(1, 0.0)), (step / 2, passing(1)))
    keys += ((step / 2, phase(-1, 0.0)), (step / 2, passing(-1)))
    return Style(name, keys, bases=("standing",), reps=(2, 4), travel=travel)


def _hold(pose: dict, name: str, up: float = 0.6, hold=(0.9,), bases=("standing", "seated")):
    return Style(name, ((hold[0], pose),), intro=((up, pose),), outro=((up, {}),), bases=bases)


SQUAT = {**_legs(95, 95, 110, 110), "chest": (35, 0, 0)}
SEATED_LEGS = {**_legs(90, 90, 90, 90), "chest": (5, 0, 0)}
STANDING = {**_legs(0, 0, 0, 0), "chest": (0, 0, 0), **REST}

STYLES: dict[str, tuple[Style, ...]] = {
    "wave": (
        _wave(20, 120, 90, 22, 0.55, "forearm_wave"),
        # Training waves swing the wrist well across (body15 has no hand: a small swing of a
        # raised arm is a raised hand, the largest validation confusion of the 0.79 model).
        _wave(10, 150, 45, 32, 0.7, "overhead_wave", bend=35, turn=30),
        _wave(60, 60, 100, 26, 0.45, "low_wave", bend=35),
        _wave(15, 95, 95, 28, 0.5, "side_wave", turn=30),
        _wave(30, 140, 60, 22, 0.6, "held_out_wave", twist=20),
    ),
    "clap": tuple(
        Style(
            n,
            ((p / 2, _both(f, a + o, e, t)), (p / 2, _both(f, a - 10, e, t))),
            intro=((0.4, _both(f, a + o, e, t)),),
            outro=_DOWN,
            reps=(3, 7),
        )
        # o: how far the hands open between claps (a low clap opens wider: its wrists are close).
        for n, f, a, e, t, p, o in (
            ("chest_clap", 70, 10, 70, -30, 0.42, 22),
            ("overhead_clap", 160, 20, 30, -20, 0.5, 22),
            ("low_clap", 45, 5, 50, -35, 0.38, 34),
            ("held_out_clap", 90, 15, 90, -25, 0.46, 22),
        )
    ),
    "raise_hand": (
        _hold(_arm("r", 170, 10, 5), "straight_up"),
        _hold(_arm("r", 150, 30, 70), "school_raise"),
        _hold(_arm("r", 20, 150, 15), "side_raise"),
        _hold(_arm("r", 160, 20, 40, 20), "held_out_raise"),
    ),
    "arms_up": (
        _hold(_both(170, 10, 5), "both_straight"),
        _hold(_both(20, 145, 10), "v_up"),
        _hold({**_both(165, 0, 40), "chest": (-8, 0, 0)}, "stretch_up"),
        _hold(_both(150, 40, 25), "held_out_arms_up"),
    ),
    "arms_out": (
        _hold(_both(0, 88, 5), "t_pose"),
        _hold(_both(88, 5, 5), "arms_forward"),
        _hold(_both(10, 65, 40), "half_out"),
        _hold(_both(40, 80, 15), "held_out_arms_out"),
    ),
    "punch": tuple(
        Style(
            n,
            ((d, _arm("r", f, a, 5)), (d * 1.4, guard)),
            intro=((0.4, guard),),
            outro=((0.5, {}),),
            reps=(2, 5),
        )
        for n, f, a, d, guard in (
            ("jab", 85, 10, 0.16, {**_both(45, 20, 130)}),
            ("cross", 80, -15, 0.2, {**_both(50, 15, 140), "chest": (0, 0, -15)}),
            ("uppercut", 120, 5, 0.18, {**_both(35, 25, 120)}),
            ("held_out_punch", 90, 0, 0.18, {**_both(60, 10, 120)}),
        )
    ),
    "walk": (
        _gait(22, 60, 8, 18, 15, 1.05, "stroll", 1.1),
        _gait(28, 65, 10, 28, 35, 0.95, "brisk", 1.4, lean=4),
        _gait(16, 45, 5, 8, 10, 1.2, "slow_walk", 0.8),
        _gait(24, 58, 10, 22, 25, 1.0, "held_out_walk", 1.2, lean=2),
    ),
    "run": (
        _gait(40, 105, 25, 40, 90, 0.68, "jog", 2.5, lean=8, lift=0.06),
        _gait(50, 120, 30, 50, 95, 0.6, "sprint", 3.5, lean=14, lift=0.1),
        _gait(32, 90, 20, 30, 85, 0.7, "run_in_place", 0.2, lean=5, lift=0.05),
        _gait(44, 110, 28, 45, 90, 0.64, "held_out_run", 3.0, lean=10, lift=0.08),
    ),
    "jump": tuple(
        Style(
            n,
            (
                (0.35, {**_legs(60, 60, 80, 80), **_both(-30, 10, 10), "chest": (25, 0, 0)}),
                (0.18, {**_both(a, 20, 10), "lift": h}),
                (0.18, {**_legs(15, 15, 20, 20), **_both(a * 0.7, 20, 10), "lift": h * 0.4}),
                (0.3, {**_legs(35, 35, 50, 50), "chest": (12, 0, 0)}),
            ),
            outro=_DOWN,
            bases=("standing",),
            reps=(1, 3),
        )
        for n, a, h in (
            ("vertical", 160, 0.3),
            ("star_jump", 40, 0.25),
            ("hop", 20, 0.12),
            ("held_out_jump", 120, 0.22),
        )
    ),
    "squat": tuple(
        Style(n, ((d, {**SQUAT, **arms}), (d * 0.9, {})), bases=("standing",), reps=(1, 3))
        for n, d, arms in (
            ("arms_forward", 0.9, _both(90, 5, 5)),
            ("hands_on_hips", 1.0, _both(-10, 40, 100)),
            ("deep", 1.2, _both(60, 10, 60)),
            ("held_out_squat", 1.05, _both(75, 0, 90)),
        )
    ),
    "sit_down": tuple(
        Style(
            n,
            ((d, {**SEATED_LEGS, "chest": (lean, 0, 0), **arms}), (0.5, SEATED_LEGS)),
            bases=("standing",),
        )
        for n, d, lean, arms in (
            ("plain", 1.1, 30, {}),
            ("hands_forward", 1.3, 35, _both(45, 5, 20)),
            ("drop", 0.8, 20, {}),
            ("held_out_sit", 1.2, 28, _both(15, 20, 40)),
        )
    ),
    "stand_up": tuple(
        Style(
            n,
            ((d, {"chest": (lean, 0, 0), **_legs(45, 45, 50, 50), **arms}), (0.6, STANDING)),
            bases=("seated",),
        )
        for n, d, lean, arms in (
            ("plain", 1.0, 40, {}),
            ("push_off", 1.2, 45, _both(30, 10, 50)),
            ("quick", 0.75, 30, {}),
            ("held_out_stand", 1.1, 38, _both(10, 25, 30)),
        )
    ),
    "kick": tuple(
        Style(
            n,
            (
                (d, {"r_hip": (h, ab, 0), "r_knee": k1, **_both(20, 30, 60)}),
                (d * 0.6, {"r_hip": (h, ab, 0), "r_knee": k2, **_both(20, 30, 60)}),
                (0.45, {}),
            ),
            bases=("standing",),
            reps=(1, 3),
        )
        for n, h, ab, k1, k2, d in (
            ("front_kick", 80, 0, 90, 5, 0.3),
            ("side_kick", 40, 60, 80, 10, 0.35),
            ("knee_strike", 95, 0, 120, 110, 0.3),
            ("held_out_kick", 70, 25, 85, 15, 0.32),
        )
    ),
    "idle": (
        Style("hands_down", ((1.5, {}),), reps=(1, 3)),
        Style("hands_clasped", ((1.5, _both(25, -5, 80, 30)),), reps=(1, 3)),
        Style("arms_crossed", ((1.5, _both(40, -10, 120, 45)),), reps=(1, 3)),
        Style("chin_rest", ((1.5, {**_arm("r", 40, 0, 140), "neck": (10, 0, 0)}),), reps=(1, 3)),
        Style(
            "held_out_idle_look",
            ((1.0, {"neck": (0, 0, 35)}), (1.0, {"neck": (0, 0, -35)})),
            reps=(1, 2),
        ),
    ),
}
# The `other` class (training only): movements that are none of the actions, so that the model
# has somewhere to put them. Kept apart from the out-of-set motions the rejection rate is
# measured on (OUT_OF_SET, OUT_OF_SET_MOTIONS): different movements, never the same takes.
OTHER: tuple[Style, ...] = (
    Style(
        "reach_side",
        ((0.5, _arm("r", 45, 50, 20, -20)), (0.4, _arm("r", 40, 45, 60, -10))),
        intro=((0.2, {}),),
        outro=_DOWN,
    ),
    Style(
        "look_at_watch",
        ((1.0, {**_arm("l", 50, 5, 110, -40), "neck": (25, 0, 0)}),),
        intro=((0.5, _arm("l", 50, 5, 110, -40)),),
        outro=_DOWN,
    ),
    Style(
        "bend_pick_up",
        ((0.9, {"chest": (75, 0, 0), **_both(70, 5, 10), **_legs(30, 30, 25, 25)}), (0.9, {})),
        bases=("standing",),
    ),
    Style(
        "kneel",
        ((1.0, {**_legs(90, -10, 90, 100), "chest": (10, 0, 0)}), (0.8, {}), (0.8, {})),
        bases=("standing",),
    ),
    Style(
        "throw_ball",
        ((0.35, _arm("r", 120, 60, 100, 40)), (0.2, _arm("r", 60, 20, 10)), (0.6, {})),
        intro=((0.3, {"chest": (0, 0, -20)}),),
        reps=(1, 2),
    ),
    Style(
        "side_step",
        (
            (0.35, {"r_hip": (0, 25, 0), "l_hip": (0, 5, 0), "r_knee": 15}),
            (0.35, {"r_hip": (0, 5, 0), "l_hip": (0, 25, 0), "l_knee": 15}),
        ),
        bases=("standing",),
        reps=(2, 4),
    ),
)
# DeepMimic takes of the `other` class; never the novel actions of `relsar-bench teach` (spin, ...).
OTHER_MOTIONS = ("dance_a", "dance_b")

# Behaviours that are no class (measured for rejection only, never trained on).
OUT_OF_SET: tuple[Style, ...] = (
    Style(
        "scratch_head",
        ((0.5, _arm("r", 140, 60, 140)), (0.25, _arm("r", 140, 55, 130))),
        intro=((0.5, _arm("r", 140, 60, 140)),),
        outro=_DOWN,
        reps=(3, 5),
    ),
    Style(
        "drink",
        ((0.6, _arm("r", 50, 10, 135)), (1.0, {**_arm("r", 70, 10, 150), "neck": (-20, 0, 0)})),
        intro=((0.6, _arm("r", 30, 10, 90)),),
        outro=_DOWN,
    ),
    Style("phone", ((2.0, {**_both(30, 5, 110), "neck": (30, 0, 0)}),), reps=(1, 2)),
    Style("stretch_neck", ((0.8, {"neck": (0, 25, 0)}), (0.8, {"neck": (0, -25, 0)})), reps=(1, 3)),
    Style(
        "type",
        ((0.2, {**_both(30, 10, 85)}), (0.2, {**_both(28, 10, 75)})),
        reps=(6, 12),
        bases=("seated",),
    ),
)
OUT_OF_SET_MOTIONS = ("crawl", "roll", "getup_faceup", "getup_facedown", "cartwheel", "backflip")
TEST_STYLES = frozenset(
    s.name for styles in STYLES.values() for s in styles if "held_out" in s.name
)
