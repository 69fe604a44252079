"""Clips for `relsar-bench teach`: motions the default model never saw, and its own classes.

Novel actions are the DeepMimic motions that relsar_core.data.mocap.classes leaves out of the
default model's training (cartwheel, crawl, roll, spin, getup_faceup, getup_facedown, backflip),
made into 2-D clips with the data generator's own `make_clip` (performer, tempo, sway, cameras)
and the pose-estimator errors measured on BlazePose with their timing (`calibrated_errors`),
as a user's recordings and live windows have them. Two of them also come as a mirror-image
twin (`cartwheel_l`, `spin_l`: the same motion by a mirror-image performer, left and right
swapped): teaching both must keep them apart. Mirroring is otherwise off, as a user teaching
an action does it with the same hand.

Cameras are in front of the person (a webcam), within ±75° of facing them. The clips a user
teaches from and the clips scored are seen by different camera set-ups drawn from disjoint
azimuth sectors; base-class clips use the generator's test-side sectors in that range and
its test-side cycle phases and still poses, so the base model never saw their cameras either.
DeepMimic holds one take per motion: taught and scored clips share the take (not the body,
tempo, camera or noise), so this measures teaching across people and viewpoints of one style.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from relsar_core.skeleton.clip import Clip

# name → (DeepMimic motion, kind, mirrored)
NOVEL_ACTIONS: dict[str, tuple[str, str, bool]] = {
    "cartwheel": ("cartwheel", "once", False),
    "cartwheel_l": ("cartwheel", "once", True),
    "spin": ("spin", "cycle", False),
    "spin_l": ("spin", "cycle", True),
    "crawl": ("crawl", "cycle", False),
    "roll": ("roll", "cycle", False),
    "getup_faceup": ("getup_faceup", "once", False),
    "getup_facedown": ("getup_facedown", "once", False),
    "backflip": ("backflip", "once", False),
}
TWINS = (("cartwheel", "cartwheel_l"), ("spin", "spin_l"))
# One-handed actions a webcam user might teach (keyframed behaviours that are no class of the
# default model, `keyframes.OUT_OF_SET`), right-handed and left-handed: the twins.
HAND_TWINS = (("scratch_head", "scratch_head_l"), ("drink", "drink_l"))
# Azimuth sectors (degrees from facing the camera): taught clips vs scored clips.
TEACH_SECTORS = ((-15.0, 15.0), (-45.0, -15.0), (45.0, 75.0))
SCORE_SECTORS = ((15.0, 45.0), (-75.0, -45.0))  # the generator's test sectors at 30° and 300°


def hand_sources(kin) -> dict:
    """Right- and left-handed performances of HAND_TWINS (posed once at the dense rate): the
    left one is the mirror image of the right one, so only the hand tells them apart."""
    from relsar_core.data.mocap.body import mirror
    from relsar_core.data.mocap.keyframes import OUT_OF_SET
    from relsar_core.data.mocap.sources import DENSE_RATE, Source
    from relsar_core.data.mocap.webcam import _Motions

    styles, motions, out = {s.name: s for s in OUT_OF_SET}, _Motions(kin), {}
    for i, (right, left) in enumerate(HAND_TWINS):
        rng = np.random.default_rng([15, 7, i])
        joints = motions.keyframed(styles[right], rng, DENSE_RATE, "standing", 1.0, 1.0)
        if joints[:, 7, 1].mean() > joints[:, 4, 1].mean():  # the left wrist acts: mirror it
            joints = mirror(joints)
        seconds = len(joints) / DENSE_RATE
        out[right] = Source(right, joints, "once", seconds)
        out[left] = Source(left, mirror(joints), "once", seconds)
    return out


def _rigs(sectors, count: int, seed: int):
    from relsar_core.data.mocap.camera import sample_rig

    rng = np.random.default_rng([seed, 15, len(sectors)])
    return [sample_rig(rng, sectors[i % len(sectors)]) for i in range(count)]


def novel_sources(kin, span: float) -> dict:
    """Source per novel action name (posed once at the dense rate)."""
    from relsar_core.data.mocap.body import mirror
    from relsar_core.data.mocap.kinematics import motion_body15
    from relsar_core.data.mocap.motions import load_named_motion
    from relsar_core.data.mocap.sources import DENSE_RATE, Source

    out, posed = {}, {}
    for name, (motion_name, kind, mirrored) in NOVEL_ACTIONS.items():
        if motion_name not in posed:
            motion = load_named_motion(motion_name)
            cycles = int(np.ceil(span / motion.duration)) + 1 if kind == "cycle" else 1
            posed[motion_name] = (motion_body15(kin, motion, DENSE_RATE, cycles), motion.duration)
        joints, duration = posed[motion_name]
        out[name] = Source(name, mirror(joints) if mirrored else joints, kind, duration)
    return out


def _webcam_base(kin, count: int, seed: int) -> dict[str, dict[str, list[Clip]]]:
    """Base-class clips of the webcam data set's classes (the shipped model's), made as that
    data set makes them (`class_clip`): "base" from its test side (held-out styles, viewpoints,
    bodies; the actions only), "base_train" from its train side (every class the model has)."""
    from relsar_core.data.mocap.webcam import (
        SIDES,
        TRAIN_CLASSES,
        WEBCAM_CLASSES,
        WebcamConfig,
        _Motions,
        class_clip,
    )

    cfg, motions = WebcamConfig(seed=seed), _Motions(kin)
    out: dict[str, dict[str, list[Clip]]] = {"base": {}, "base_train": {}}
    for key, side, classes in (
        ("base", "test", WEBCAM_CLASSES),
        ("base_train", "train", TRAIN_CLASSES),
    ):
        si = SIDES.index(side)
        for ci, label in enumerate(classes):
            out[key][label] = [class_clip(motions, cfg, si, ci, i)[0] for i in range(count)]
    return out


def make_teach_clips(
    teach_clips: int,
    score_clips: int,
    base_clips: int,
    seed: int = 0,
    base_set: str = "mocap",
) -> dict[str, dict[str, list[Clip]]]:
    """{"teach": {novel action: clips}, "score": {novel action: clips},
    "base": {base class: clips}, "base_train": {base class: clips}}, deterministic from `seed`.
    `base_train` stands in for the model's training windows (train-side cameras, phases and
    still poses) where the bench needs base-class centroids of a space the sidecar lacks.
    `base_set`: whose classes the base clips are, "mocap" (`relsar-data mocap`) or "webcam"
    (`relsar-data webcam`, the shipped model's)."""
    from relsar_core.data.mocap.classes import CLASS_NAMES
    from relsar_core.data.mocap.generate import GeneratorConfig, longest_clip_seconds, make_clip
    from relsar_core.data.mocap.kinematics import HumanoidKinematics
    from relsar_core.data.mocap.sources import load_sources

    config = replace(GeneratorConfig(seed=seed), mirror=0.0)
    # The unseen actions stand for a user's recordings and live windows: BlazePose's measured errors.
    novel_config = replace(config, errors="calibrated")
    rigs = {"teach": _rigs(TEACH_SECTORS, 12, seed), "score": _rigs(SCORE_SECTORS, 8, seed)}
    span = longest_clip_seconds(config)
    out: dict[str, dict[str, list[Clip]]] = {"teach": {}, "score": {}, "base": {}, "base_train": {}}
    with HumanoidKinematics() as kin:
        novel = {**novel_sources(kin, span), **hand_sources(kin)}  # hand twins last: seeds kept
        for s, (side, count) in enumerate((("teach", teach_clips), ("score", score_clips))):
            phase_side = "train" if side == "teach" else "test"
            for a, (name, src) in enumerate(novel.items()):
                clips = []
                for i in range(count):
                    rng = np.random.default_rng([seed, 151, s, a, i])
                    rig = rigs[side][int(rng.integers(len(rigs[side])))]
                    clips.append(make_clip(src, rig, rng, phase_side, novel_config, name)[0])
                out[side][name] = clips
        if base_set == "webcam":
            out.update(_webcam_base(kin, base_clips, seed))
            return out
        for s, (key, side) in enumerate((("base", "test"), ("base_train", "train"))):
            base = load_sources(kin, side, span)
            pool = rigs["score"] if side == "test" else rigs["teach"]
            for c, name in enumerate(CLASS_NAMES):
                clips = []
                for i in range(base_clips):
                    rng = np.random.default_rng([seed, 152 + s, c, i])
                    src = base[name][i % len(base[name])]
                    rig = pool[int(rng.integers(len(pool)))]
                    clips.append(make_clip(src, rig, rng, side, config, name)[0])
                out[key][name] = clips
    return out
