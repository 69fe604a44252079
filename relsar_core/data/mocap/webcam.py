"""The webcam data set of the default model (`relsar-data webcam`): 14 classes a person does in
front of a laptop or room camera, from keyframed styles (`keyframes`, `posing`) and, for
training only, DeepMimic takes; seen whole, upper body only or partly out of frame.

Writes `<out>/train/<class>/*.npz`, `<out>/test/<class>/*.npz`, `<out>/test_whole`,
`<out>/test_upper` (the test clips of one framing, hard links), `<out>/out_of_set/<motion>/*.npz`
(motions that are no class, for the rejection rate), `<out>/val_out_of_set/` (other such motions,
for tuning the open-set gate on validation: `validation_motions`) and `<out>/manifest.json`. What the test
holds out: viewpoints (`webcam_rigs`, closed under mirroring), keyframe styles (`TEST_STYLES`),
body proportions (the outer fifth of every segment's range), all DeepMimic takes (training only).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from relsar_core.data.mocap.body import (
    SEGMENT_RANGES,
    add_sway,
    apply_proportions,
    mirror,
    reduce_travel,
    sample_at,
    warp_times,
)
from relsar_core.data.mocap.camera import project
from relsar_core.data.mocap.estimator_noise import calibrated_errors
from relsar_core.data.mocap.keyframes import (
    OTHER,
    OTHER_MOTIONS,
    OUT_OF_SET,
    OUT_OF_SET_MOTIONS,
    STYLES,
    TEST_STYLES,
)
from relsar_core.data.mocap.posing import grounded, perform, to_poses
from relsar_core.data.mocap.sources import DENSE_RATE, body_heading
from relsar_core.data.mocap.validation_motions import VAL_OUT_OF_SET, WHOLE_ONLY
from relsar_core.data.mocap.webcam_rigs import sample_webcam_rig
from relsar_core.errors import DataError
from relsar_core.files import write_json
from relsar_core.skeleton.clip import Clip, save_clip

WEBCAM_CLASSES = tuple(STYLES)  # the actions (every one has test clips)
OTHER_CLASS = "other"  # training only: movements that are no action (the app shows "—")
TRAIN_CLASSES = (*WEBCAM_CLASSES, OTHER_CLASS)  # the model's classes
_OTHER_ARMS = ("reach_side", "look_at_watch", "throw_ball")
# Capture rates: a share of clips is seen by a slower camera and resampled to the model's rate on
# loading, as live frames are from their timestamps (the real sample video is 10 fps).
CAPTURE_FPS = (10.0, 12.5, 15.0, 20.0, 25.0)
SLOW_CAPTURE_SHARE = 0.35
UPPER_BODY_CLASSES = ("wave", "clap", "raise_hand", "arms_up", "arms_out", "punch", "idle")
DEEPMIMIC_TRAIN = {"walk": "walk", "run": "run", "jump": "jump", "kick": "kick", "punch": "punch"}
SIDES = ("train", "test")


@dataclass(frozen=True)
class WebcamConfig:
    seed: int = 0
    train_clips: int = 200  # per class
    test_clips: int = 50  # per class
    out_of_set_clips: int = 24  # per out-of-set motion
    fps: float = 30.0
    deepmimic_share: float = 0.25  # of training clips of classes with a DeepMimic take
    other_clips: int = 300  # training clips of the `other` class
    other_deepmimic_share: float = 0.35


def sample_body(rng: np.random.Generator, held_out: bool) -> dict[str, float]:
    """Segment factors: training uses the inner 60 % of each range, the test the outer fifths."""
    out = {}
    for name, (lo, hi) in SEGMENT_RANGES.items():
        span = hi - lo
        if held_out:
            out[name] = float(
                rng.uniform(lo, lo + 0.2 * span)
                if rng.random() < 0.5
                else rng.uniform(hi - 0.2 * span, hi)
            )
        else:
            out[name] = float(rng.uniform(lo + 0.2 * span, hi - 0.2 * span))
    return out


def _framing(rng: np.random.Generator, label: str, style_name: str = "") -> str:
    if label in UPPER_BODY_CLASSES or style_name in _OTHER_ARMS:
        return str(rng.choice(["whole", "upper", "partial"], p=[0.35, 0.45, 0.2]))
    return str(rng.choice(["whole", "partial"], p=[0.8, 0.2]))


FULL_TRAVEL_SHARE = 0.4  # walks and runs that cross the view (a room, the real sample video)


def _travel_kept(u: float, travels: bool) -> float:
    """The share of a clip's forward travel kept, from one uniform draw `u`: motions that travel
    keep all of it in FULL_TRAVEL_SHARE of clips, else a uniform share (steps on the spot in
    front of a webcam); for the others `u` itself (only their slow drift is reduced)."""
    if not travels:
        return u
    return 1.0 if u < FULL_TRAVEL_SHARE else (u - FULL_TRAVEL_SHARE) / (1.0 - FULL_TRAVEL_SHARE)


class _Motions:
    """Keyframed and DeepMimic motion in 3-D (body15, metres), posed on one humanoid."""

    def __init__(self, kin) -> None:
        self.kin, self._dense = kin, {}

    def keyframed(self, style, rng, fps, base, amplitude, tempo) -> np.ndarray:
        vectors, travel = perform(style, rng, fps, base, amplitude, tempo)
        joints = grounded(self.kin.body15(to_poses(vectors, travel)), vectors[:, -1])
        return reduce_travel(joints, _travel_kept(float(rng.uniform(0.0, 1.0)), style.travel > 0))

    def deepmimic(self, name, rng, fps, tempo) -> np.ndarray:
        from relsar_core.data.mocap.kinematics import motion_body15
        from relsar_core.data.mocap.motions import load_named_motion

        if name not in self._dense:
            m = load_named_motion(name)
            cycles = int(np.ceil(6.0 / m.duration)) + 1 if m.loop else 1
            self._dense[name] = (motion_body15(self.kin, m, DENSE_RATE, cycles), m.duration, m.loop)
        dense, duration, loop = self._dense[name]
        frames = int(rng.integers(60, 100)) if loop else int((duration + 0.4) * fps / tempo)
        times = warp_times(rng, frames, fps, tempo, 0.1)
        if loop:
            times = times + rng.uniform(0, duration)
        keep = _travel_kept(float(rng.uniform(0.0, 1.0)), name in ("walk", "run"))
        return reduce_travel(sample_at(dense, DENSE_RATE, times), keep)


def make_webcam_clip(joints, rng, side, framing, label, seated, fps, held_out):
    """3-D joints → a 2-D clip seen by a webcam rig of `framing`, with calibrated errors, at the
    camera's capture rate (the model's rate, or for SLOW_CAPTURE_SHARE of clips a slower one).
    A `held_out` (test-side) clip has held-out body proportions and the errors' measured timing;
    training-side clips keep the per-frame errors (estimator_noise.ERROR_TIMINGS)."""
    body = sample_body(rng, held_out)
    joints = apply_proportions(joints, body)
    mirrored = bool(rng.random() < 0.5)
    if mirrored:
        joints = mirror(joints)
    joints = add_sway(joints, rng, fps, float(rng.uniform(0.2, 1.0)))
    if len(joints) < 36:  # hold the ends so a quick action still fills a window or two
        pad = (36 - len(joints)) // 2 + 1
        joints = np.concatenate([joints[:1].repeat(pad, 0), joints, joints[-1:].repeat(pad, 0)])
    rig = sample_webcam_rig(rng, side, framing)
    capture = fps
    if rng.random() < SLOW_CAPTURE_SHARE:
        capture = float(rng.choice(CAPTURE_FPS))
        times = np.arange(0.0, (len(joints) - 1) / fps + 1e-9, 1.0 / capture)
        joints = sample_at(joints, fps, times)
    hips = joints[:, 8].mean(axis=0)
    target = hips + np.array([0.0, rig.aim, 0.0])
    pixels, depth = project(joints, rig, target, body_heading(joints[0]))
    desk = float(hips[1] + 0.15) if seated and rng.random() < 0.7 else None
    level = float(rng.uniform(0.0, 1.0))
    if rig.fill < 0.35:  # a small, far person: the pose model is as unsure as on the real video
        level = float(rng.uniform(0.5, 1.0))
    timing = "measured" if held_out else "per_frame"
    kp = calibrated_errors(
        pixels, depth, rig.image_size, rng, level, desk, joints[..., 1], capture, timing
    )
    meta = {
        "framing": framing,
        "seated": seated,
        "mirrored": mirrored,
        "noise_level": round(level, 3),
        "camera": rig.to_json(),
        "desk_hides_legs": desk is not None,
        "capture_fps": capture,
        "error_timing": timing,
    }
    return Clip(kp, "body15", capture, rig.image_size, label), meta


def _plan(rng, label, side, cfg):
    """(style, base posture, DeepMimic take or None) of one clip."""
    if label == OTHER_CLASS:
        if rng.random() < cfg.other_deepmimic_share:
            return None, "standing", str(rng.choice(OTHER_MOTIONS))
        style = OTHER[int(rng.integers(len(OTHER)))]
        return style, str(rng.choice(style.bases)), None
    styles = [s for s in STYLES[label] if (s.name in TEST_STYLES) == (side == "test")]
    if side == "train" and label in DEEPMIMIC_TRAIN and rng.random() < cfg.deepmimic_share:
        return None, "standing", DEEPMIMIC_TRAIN[label]
    style = styles[int(rng.integers(len(styles)))]
    return style, str(rng.choice(style.bases)), None


def _count(cfg: WebcamConfig, side: str, label: str) -> int:
    if side == "test":
        return cfg.test_clips
    return cfg.other_clips if label == OTHER_CLASS else cfg.train_clips


def class_clip(motions: _Motions, cfg: WebcamConfig, si: int, ci: int, i: int):
    """Clip `i` of class `ci` on side `si` (each clip has its own seed): (clip, meta, style name)."""
    side = SIDES[si]
    label = (TRAIN_CLASSES if side == "train" else WEBCAM_CLASSES)[ci]
    rng = np.random.default_rng([cfg.seed, si, ci, i])
    style, base, take = _plan(rng, label, side, cfg)
    tempo, amp = rng.uniform(0.8, 1.25), rng.uniform(0.75, 1.2)
    if style is None:
        joints, name = motions.deepmimic(take, rng, cfg.fps, tempo), f"deepmimic_{take}"
    else:
        joints, name = motions.keyframed(style, rng, cfg.fps, base, amp, tempo), style.name
    framing = _framing(rng, label, name)
    clip, meta = make_webcam_clip(
        joints, rng, side, framing, label, base == "seated", cfg.fps, side == "test"
    )
    return clip, meta, name


def generate_webcam_dataset(
    out,
    cfg: WebcamConfig = WebcamConfig(),
    overwrite=False,
    on_clip: Callable[[], None] | None = None,
) -> dict:
    from relsar_core.data.mocap.kinematics import HumanoidKinematics

    out = Path(out)
    parts = ["train", "test", "test_whole", "test_upper", "out_of_set", "val_out_of_set"]
    if any((out / p).exists() for p in parts) and not overwrite:
        raise DataError(f"{out}: already holds a data set (pass --overwrite to replace it)")
    for p in parts:
        shutil.rmtree(out / p, ignore_errors=True)
    manifest = {
        "generator": "relsar-data webcam",
        "config": asdict(cfg),
        "classes": list(WEBCAM_CLASSES),
        "train_classes": list(TRAIN_CLASSES),
        "other_styles": [s.name for s in OTHER] + [f"deepmimic_{m}" for m in OTHER_MOTIONS],
        "upper_body_classes": list(UPPER_BODY_CLASSES),
        "test_styles": sorted(TEST_STYLES),
        "clips": {"train": [], "test": [], "out_of_set": [], "val_out_of_set": []},
    }
    with HumanoidKinematics() as kin:
        motions = _Motions(kin)
        for si, side in enumerate(SIDES):
            for ci, label in enumerate(TRAIN_CLASSES if side == "train" else WEBCAM_CLASSES):
                for i in range(_count(cfg, side, label)):
                    clip, meta, name = class_clip(motions, cfg, si, ci, i)
                    framing = meta["framing"]
                    path = out / side / label / f"{label}_{i:04d}.npz"
                    save_clip(path, clip)
                    rel = path.relative_to(out).as_posix()
                    manifest["clips"][side].append({"file": rel, "style": name, **meta})
                    if side == "test" and framing in ("whole", "upper"):
                        link = out / f"test_{framing}" / label / path.name
                        link.parent.mkdir(parents=True, exist_ok=True)
                        os.link(path, link)
                    if on_clip:
                        on_clip()
        others = [(m, None) for m in OUT_OF_SET_MOTIONS] + [(s.name, s) for s in OUT_OF_SET]
        for oi, (name, style) in enumerate(others):
            for i in range(cfg.out_of_set_clips):
                rng = np.random.default_rng([cfg.seed, 9, oi, i])
                tempo = rng.uniform(0.8, 1.25)
                if style is None:
                    joints, base, framing = (
                        motions.deepmimic(name, rng, cfg.fps, tempo),
                        "standing",
                        "whole",
                    )
                else:
                    base = str(rng.choice(style.bases))
                    joints = motions.keyframed(
                        style, rng, cfg.fps, base, rng.uniform(0.8, 1.2), tempo
                    )
                    framing = str(rng.choice(["whole", "upper"]))
                clip, meta = make_webcam_clip(
                    joints, rng, "any", framing, name, base == "seated", cfg.fps, True
                )
                path = out / "out_of_set" / name / f"{name}_{i:04d}.npz"
                save_clip(path, clip)
                manifest["clips"]["out_of_set"].append(
                    {"file": path.relative_to(out).as_posix(), **meta}
                )
                if on_clip:
                    on_clip()
        manifest["clips"]["val_out_of_set"] = _validation_out_of_set(out, motions, cfg, on_clip)
    write_json(out / "manifest.json", manifest, indent=1)
    return manifest


def _validation_out_of_set(out: Path, motions: _Motions, cfg: WebcamConfig, on_clip) -> list:
    """`out_of_set_clips` clips of every VAL_OUT_OF_SET motion (training-side cameras and bodies,
    each clip its own seed) into `out/val_out_of_set/`; their manifest entries."""
    entries = []
    for oi, style in enumerate(VAL_OUT_OF_SET):
        for i in range(cfg.out_of_set_clips):
            rng = np.random.default_rng([cfg.seed, 11, oi, i])
            base = str(rng.choice(style.bases))
            amp, tempo = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.25)
            joints = motions.keyframed(style, rng, cfg.fps, base, amp, tempo)
            framing = "whole" if style.name in WHOLE_ONLY else str(rng.choice(["whole", "upper"]))
            clip, meta = make_webcam_clip(
                joints, rng, "train", framing, style.name, base == "seated", cfg.fps, False
            )
            path = out / "val_out_of_set" / style.name / f"{style.name}_{i:04d}.npz"
            save_clip(path, clip)
            entries.append({"file": path.relative_to(out).as_posix(), **meta})
            if on_clip:
                on_clip()
    return entries


def total_clips(cfg: WebcamConfig) -> int:
    n_out = len(OUT_OF_SET_MOTIONS) + len(OUT_OF_SET) + len(VAL_OUT_OF_SET)
    classes = len(WEBCAM_CLASSES) * (cfg.train_clips + cfg.test_clips) + cfg.other_clips
    return classes + n_out * cfg.out_of_set_clips
