"""The default model's action classes and the motion-capture material each is made from.

Chosen for what a person does in front of a webcam and what DeepMimic's clips really contain:
walking, running, jumping, kicking, punching, a spinning kick and dancing are all done standing
up, in a few metres of floor, and look different from each other in 2-D from most viewpoints.
Left out: crawl, roll, getup, cartwheel and backflip (on the floor or acrobatic: rare in front
of a desk camera, and the figure leaves a webcam's view), and `spin` (4.4 s of turning on the
spot and walking, which overlaps walk). `still` is the "no action" class: a person standing in
view. It is made from real standing frames of the capture (the guard before a kick or punch,
the end of a get-up, the start of a jump...) held and given natural postural sway, because a
model without a rest class calls every idle moment some action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ActionClass:
    name: str
    motions: tuple[str, ...]  # DeepMimic motion names (humanoid3d_<name>.txt)
    kind: Literal["cycle", "once", "still"]  # repeated cycle, one-shot with rests, held pose


CLASSES: tuple[ActionClass, ...] = (
    ActionClass("still", (), "still"),
    ActionClass("walk", ("walk",), "cycle"),
    ActionClass("run", ("run",), "cycle"),
    ActionClass("jump", ("jump",), "cycle"),
    ActionClass("kick", ("kick",), "once"),
    ActionClass("punch", ("punch",), "once"),
    # The spin-kick file is marked "wrap" but its last frame does not meet its first: play it once.
    ActionClass("spin_kick", ("spinkick",), "once"),
    ActionClass("dance", ("dance_a", "dance_b"), "cycle"),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)

# Real standing frames (motion, seconds from its start; negative = from its end), found as the
# slowest upright moments of each clip. The two sides use different frames, so a still pose of
# the test side is never seen in training.
STILL_FRAMES = {
    "train": (
        ("kick", 0.0),
        ("punch", 1.27),
        ("spin", 0.0),
        ("getup_faceup", -0.05),
        ("jump", 0.0),
        ("backflip", 1.57),
    ),
    "test": (("getup_facedown", -0.05), ("dance_b", 1.2), ("punch", 0.07)),
}


def get_class(name: str) -> ActionClass:
    for cls in CLASSES:
        if cls.name == name:
            return cls
    raise KeyError(name)
