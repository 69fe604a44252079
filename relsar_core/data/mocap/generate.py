"""The mocap → 2-D data-set generator behind `relsar-data mocap`.

Writes two labelled data sets in the project's format, `<out>/train/<class>/<clip>.npz` and
`<out>/test/<class>/<clip>.npz`, plus `<out>/manifest.json` describing every clip. The sides are
kept apart so the test is honest:
  - cameras: azimuth is cut into 30° sectors; 4 evenly spaced sectors (centred on 30°, 120°, 210°
    and 300°) belong to the test side, the other 8 to training, and each side draws its own
    camera set-ups (elevation, distance, lens, roll, image size) inside its sectors;
  - time: a repeated cycle is entered at a different phase on each side (train starts in the
    first 70 % of the cycle, test in the last 25 %); still poses are different real frames;
  - performers (proportions, mirroring), speeds and estimator noise are drawn per clip from
    separate random streams.
DeepMimic holds a single take per motion (two for dance), and a take is barely longer than one
model window, so the same movement is on both sides: the held-out test measures robustness to
viewpoint, body, tempo and pose-estimator noise, not to a new performer's style.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from relsar_core.data.mocap.body import (
    add_sway,
    apply_proportions,
    mirror,
    reduce_travel,
    sample_at,
    sample_proportions,
    warp_times,
)
from relsar_core.data.mocap.camera import CameraRig, project, sample_rig
from relsar_core.data.mocap.classes import CLASS_NAMES
from relsar_core.data.mocap.estimator_noise import calibrated_errors, estimator_errors
from relsar_core.data.mocap.sources import DENSE_RATE, Source, body_heading, load_sources
from relsar_core.errors import DataError
from relsar_core.files import write_json
from relsar_core.skeleton.clip import Clip, save_clip

SIDES = ("train", "test")
TEST_SECTORS = (30.0, 120.0, 210.0, 300.0)  # centres of the test side's 30° azimuth sectors
PHASES = {"train": (0.0, 0.7), "test": (0.75, 1.0)}
# "legacy": relsar-data mocap's own error model (what its data sets and models were made with);
# "calibrated": BlazePose's errors measured on the real video, with their timing
# (estimator_noise.calibrated_errors), as relsar-bench teach's unseen actions need.
ERROR_MODELS = ("legacy", "calibrated")


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 0
    cameras: int = 48  # camera set-ups in all; a quarter go to the test side
    train_clips: int = 240  # per class
    test_clips: int = 60  # per class
    min_frames: int = 45
    max_frames: int = 90
    fps: float = 30.0
    speed: tuple[float, float] = (0.75, 1.3)
    noise: tuple[float, float] = (0.2, 1.5)  # estimator error level per clip
    mirror: float = 0.5  # probability
    errors: str = "legacy"  # one of ERROR_MODELS

    def __post_init__(self) -> None:
        if self.errors not in ERROR_MODELS:
            raise ValueError(f"errors must be one of {ERROR_MODELS}, got {self.errors!r}")


def _sector_ranges(side: str) -> list[tuple[float, float]]:
    test = [(c - 15.0, c + 15.0) for c in TEST_SECTORS]
    if side == "test":
        return test
    train_centres = [
        c for c in np.arange(0.0, 360.0, 30.0) if all(abs(c - t) > 1 for t in TEST_SECTORS)
    ]
    return [(c - 15.0, c + 15.0) for c in train_centres]


def sample_rigs(side: str, count: int, seed: int) -> list[CameraRig]:
    """`count` camera set-ups of one side, spread evenly over its azimuth sectors."""
    rng = np.random.default_rng([seed, 7, SIDES.index(side)])
    sectors = _sector_ranges(side)
    return [sample_rig(rng, sectors[i % len(sectors)]) for i in range(count)]


def longest_clip_seconds(config: GeneratorConfig) -> float:
    """Source seconds the longest, fastest repeated-cycle clip can cover (speed drift included)."""
    return config.max_frames / config.fps * config.speed[1] * 1.5


def _source_times(
    src: Source, rng: np.random.Generator, side: str, config: GeneratorConfig
) -> np.ndarray:
    speed = rng.uniform(*config.speed)
    if src.kind == "once":
        # A one-shot action: a short rest, the action, a short rest (the dense clip is held at its ends).
        pre, post = rng.uniform(0.0, 0.4, size=2)
        count = int(np.ceil((pre + src.cycle_duration + post) * config.fps / speed * 1.6)) + 1
        times = warp_times(rng, count, config.fps, speed, 0.1) - pre
        return times[times <= src.cycle_duration + post]
    frames = int(rng.integers(config.min_frames, config.max_frames + 1))
    times = warp_times(rng, frames, config.fps, speed, 0.1)
    if src.kind == "cycle":
        times = times + rng.uniform(*PHASES[side]) * src.cycle_duration
    return times


def make_clip(
    src: Source,
    rig: CameraRig,
    rng: np.random.Generator,
    side: str,
    config: GeneratorConfig,
    label: str,
) -> tuple[Clip, dict]:
    """One 2-D clip of `src` seen by `rig`, with a random performer, tempo and estimator noise."""
    if src.kind == "still":
        frames = int(rng.integers(config.min_frames, config.max_frames + 1))
        joints = np.repeat(src.joints, frames, axis=0)
        sway = rng.uniform(0.5, 2.0)
    else:
        joints = sample_at(src.joints, DENSE_RATE, _source_times(src, rng, side, config))
        travel = float(rng.uniform(0.0, 0.6))
        joints = reduce_travel(joints, travel)
        sway = rng.uniform(0.2, 1.0)
    proportions = sample_proportions(rng)
    joints = apply_proportions(joints, proportions)
    mirrored = bool(rng.random() < config.mirror)
    if mirrored:
        joints = mirror(joints)
    joints = add_sway(joints, rng, config.fps, sway)

    hips = joints[:, 8]
    target = np.array([hips[:, 0].mean(), hips[:, 1].mean(), hips[:, 2].mean()])
    heading = body_heading(joints[0])
    pixels, depth = project(joints, rig, target, heading)
    level = float(rng.uniform(*config.noise))
    side_view = abs(float(np.sin(np.radians(rig.azimuth))))
    if config.errors == "calibrated":  # its level spans [0, 1]: the noise range's top maps to 1
        keypoints = calibrated_errors(
            pixels, depth, rig.image_size, rng, min(level / config.noise[1], 1.0), fps=config.fps
        )
    else:
        keypoints = estimator_errors(
            pixels, depth, rig.image_size, rng, level, side_view, config.fps
        )
    meta = {
        "source": src.name,
        "frames": int(len(keypoints)),
        "mirrored": mirrored,
        "travel_kept": None if src.kind == "still" else round(travel, 3),
        "noise_level": round(level, 3),
        "proportions": {k: round(v, 3) for k, v in proportions.items()},
    }
    return Clip(keypoints, "body15", config.fps, rig.image_size, label), meta


def generate_dataset(
    out: str | Path,
    config: GeneratorConfig = GeneratorConfig(),
    overwrite: bool = False,
    on_clip: Callable[[], None] | None = None,
) -> dict:
    """Write the train and test data sets under `out`; returns the manifest (also written as JSON)."""
    from relsar_core.data.mocap.kinematics import HumanoidKinematics  # imports pybullet

    out = Path(out)
    existing = [out / side for side in SIDES if (out / side).exists()]
    if existing and not overwrite:
        raise DataError(
            f"{existing[0]}: already exists (pass --overwrite to replace the generated data)"
        )
    if config.cameras < 2:
        raise DataError(
            f"{out}: need at least 2 camera set-ups (one per side), got {config.cameras}"
        )
    for path in existing:
        shutil.rmtree(path)

    n_test_rigs = max(1, config.cameras // 4)
    rigs = {
        "train": sample_rigs("train", config.cameras - n_test_rigs, config.seed),
        "test": sample_rigs("test", n_test_rigs, config.seed),
    }
    counts = {"train": config.train_clips, "test": config.test_clips}
    manifest: dict = {
        "generator": "relsar-data mocap",
        "config": asdict(config),
        "classes": list(CLASS_NAMES),
        "cameras": {side: [r.to_json() for r in rigs[side]] for side in SIDES},
        "clips": {side: [] for side in SIDES},
    }
    with HumanoidKinematics() as kin:
        for side_index, side in enumerate(SIDES):
            sources = load_sources(kin, side, span=longest_clip_seconds(config))
            for class_index, name in enumerate(CLASS_NAMES):
                for i in range(counts[side]):
                    # One stream per clip: the data set does not depend on generation order.
                    rng = np.random.default_rng([config.seed, side_index, class_index, i])
                    src = sources[name][i % len(sources[name])]
                    rig_index = int(rng.integers(len(rigs[side])))
                    clip, meta = make_clip(src, rigs[side][rig_index], rng, side, config, name)
                    path = out / side / name / f"{name}_{i:04d}.npz"
                    save_clip(path, clip)
                    manifest["clips"][side].append(
                        {"file": path.relative_to(out).as_posix(), "camera": rig_index, **meta}
                    )
                    if on_clip:
                        on_clip()
    write_json(out / "manifest.json", manifest, indent=1)
    return manifest
