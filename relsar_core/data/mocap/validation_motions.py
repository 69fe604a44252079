"""Motions that are no class, for VALIDATION only: what the open-set gate
(relsar_core.runtime.rejection) is tuned on, so that its setting never sees the rejection test
(`keyframes.OUT_OF_SET`, `OUT_OF_SET_MOTIONS`), nor the `other` class it trains on, nor the novel
actions of `relsar-bench teach`. Seen by training-side cameras on training bodies: nothing here
comes near the held-out test's viewpoints or proportions.

`relsar-data webcam` writes them to `<out>/val_out_of_set/<motion>/*.npz`.
"""

from __future__ import annotations

from relsar_core.data.mocap.keyframes import _DOWN, Style, _arm, _both, _legs

VAL_OUT_OF_SET: tuple[Style, ...] = (
    Style(
        "rub_eyes",
        ((0.3, _both(115, 15, 150, -20)), (0.3, _both(110, 20, 145, -25))),
        intro=((0.5, _both(115, 15, 150, -20)),),
        outro=_DOWN,
        reps=(2, 4),
    ),
    Style(
        "adjust_glasses",
        ((0.6, {**_arm("r", 105, 10, 150, -30), "neck": (-5, 0, 0)}),),
        intro=((0.4, _arm("r", 105, 10, 150, -30)),),
        outro=_DOWN,
    ),
    Style(
        "hands_behind_head",
        ((1.2, {**_both(130, 75, 150, 30), "chest": (-10, 0, 0)}),),
        intro=((0.7, _both(130, 75, 150, 30)),),
        outro=((0.7, {}),),
    ),
    Style(
        "point_at_screen",
        ((0.5, _arm("r", 75, -5, 10, 0)), (0.4, _arm("r", 70, 10, 15, 0))),
        intro=((0.4, _arm("r", 75, -5, 10)),),
        outro=_DOWN,
        reps=(1, 3),
    ),
    Style(
        "shrug",
        ((0.3, {**_both(15, 30, 95, 45), "neck": (-10, 0, 0)}), (0.4, {})),
        reps=(1, 3),
    ),
    Style(
        "turn_trunk",
        ((0.8, {"chest": (0, 0, 40), "neck": (0, 0, 20)}), (0.8, {"chest": (0, 0, -40)})),
        reps=(1, 2),
    ),
    Style(
        "bow",
        ((0.8, {"chest": (45, 0, 0), "neck": (15, 0, 0)}), (0.8, {})),
        bases=("standing",),
        reps=(1, 2),
    ),
    Style(
        "lunge",
        ((0.9, {**_legs(60, -20, 85, 10), "chest": (10, 0, 0)}), (0.8, {})),
        bases=("standing",),
        reps=(1, 2),
    ),
)
WHOLE_ONLY = ("bow", "lunge")  # seen whole; the others whole or upper body only
