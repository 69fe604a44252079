"""The errors a real 2-D pose estimator makes, applied to clean projected joints.

Per clip a noise `level` (0 = clean) scales everything. Modelled on what BlazePose / ViTPose do
on webcam video: per-joint jitter (white plus slow drift, larger at wrists and ankles), lower
confidence and more jitter for joints hidden behind the body, joints outside the image lost,
short dropouts with near-zero confidence, a few whole frames with nobody found, and occasional
left/right swaps of arms or legs for a few frames (most often in side views).

`calibrated_errors` works in seconds, not frames: a joint's confidence wanders slowly and its
dropouts last a few tenths of a second (as measured on the real video), whatever the capture rate.
"""

from __future__ import annotations

import numpy as np

from relsar_core.data.mocap.body import smooth_noise
from relsar_core.skeleton.layouts import get_layout

_EXTREMITIES = [4, 7, 11, 14]
_ARMS = [(2, 5), (3, 6), (4, 7)]
_LEGS = [(9, 12), (10, 13), (11, 14)]


def _spans(rng: np.random.Generator, frames: int, count: int, max_len: int) -> list[slice]:
    starts = rng.integers(0, frames, size=count)
    lengths = rng.integers(1, max_len + 1, size=count)
    return [slice(int(s), int(min(frames, s + n))) for s, n in zip(starts, lengths, strict=True)]


def ar1_noise(rng: np.random.Generator, frames: int, fps: float, time_s: float, shape=()):
    """Unit-variance noise (frames, *shape) whose correlation decays as exp(-dt / time_s)."""
    rho = float(np.exp(-1.0 / (fps * time_s)))
    steps = rng.normal(size=(frames, *shape)) * np.sqrt(1.0 - rho * rho)
    out = np.empty_like(steps)
    out[0] = rng.normal(size=shape)
    for t in range(1, frames):
        out[t] = rho * out[t - 1] + steps[t]
    return out


def dropout_runs(
    rng: np.random.Generator, frames: int, fps: float, share: np.ndarray, run_s
) -> np.ndarray:
    """(frames, J) bool: per joint a two-state Markov chain that is in a dropout `share` (J,) of
    the time, in runs lasting `run_s` seconds (a number or (J,)) on average."""
    share = np.clip(np.asarray(share, np.float64), 0.0, 0.95)
    stay = np.exp(-1.0 / (fps * np.asarray(run_s, np.float64)))  # P(still dropped | dropped)
    enter = share * (1.0 - stay) / (1.0 - share)  # keeps the stationary share
    state = rng.random(share.shape) < share
    draws = rng.random((frames, *share.shape))
    out = np.empty((frames, *share.shape), bool)
    for t in range(frames):
        out[t] = state
        state = np.where(state, draws[t] < stay, draws[t] < enter)
    return out


def estimator_errors(
    pixels: np.ndarray,
    depth: np.ndarray,
    image_size: tuple[int, int],
    rng: np.random.Generator,
    level: float,
    side_view: float,
    fps: float = 30.0,
) -> np.ndarray:
    """Clean (F, 15, 2) pixels + depth (F, 15) → keypoints (F, 15, 3) float32 with confidence.
    `side_view` in [0, 1] (|sin azimuth|) raises the chance of left/right swaps."""
    frames = len(pixels)
    xy = pixels.astype(np.float64).copy()
    torso = np.linalg.norm(xy[:, 1] - xy[:, 8], axis=-1)
    height = xy[..., 1].max(axis=1) - xy[..., 1].min(axis=1)
    size = float(np.median(np.maximum(torso, height / 3.5)))  # body size in pixels

    # Joints further from the camera than the body's centre by a hand's width are hidden behind it.
    hidden = depth > depth[:, [1, 8]].mean(axis=1, keepdims=True) + 0.08
    scale = np.ones((frames, 15))
    scale[:, _EXTREMITIES] = 1.6
    scale = np.where(hidden, scale * 2.0, scale)
    white = rng.normal(size=(frames, 15, 2)) * rng.uniform(0.008, 0.025)
    drift = smooth_noise(rng, frames, fps, 2.0, (15, 2)) * rng.uniform(0.0, 0.025)
    xy += (white + drift) * size * level * scale[..., None]

    conf = rng.uniform(0.6, 0.98, size=(1, 15)) + rng.normal(0, 0.04, size=(frames, 15))
    conf = np.where(hidden, conf * rng.uniform(0.45, 0.85), conf)

    # Left/right swaps: a pose model's classic mistake when the body is seen from the side.
    flip = get_layout("body15").flip_permutation
    for span in _spans(rng, frames, rng.poisson(level * (0.2 + 1.2 * side_view)), 6):
        pairs = [_ARMS, _LEGS, _ARMS + _LEGS][rng.integers(3)]
        idx = [j for pair in pairs for j in pair]
        xy[span, idx] = xy[span][:, flip[idx]]
        conf[span, idx] *= 0.8

    # Short dropouts of single joints: low confidence and a wrong position.
    n_drop = rng.poisson(level * frames * 0.04)
    for span, joint in zip(
        _spans(rng, frames, n_drop, 8), rng.integers(0, 15, n_drop), strict=True
    ):
        conf[span, joint] = rng.uniform(0.0, 0.15)
        xy[span, joint] += rng.normal(0, 0.5 * size, size=2)
    # Whole frames with nobody found.
    for span in _spans(rng, frames, rng.poisson(level * frames * 0.006), 3):
        conf[span] = 0.0

    w, h = image_size
    outside = (xy[..., 0] < 0) | (xy[..., 0] >= w) | (xy[..., 1] < 0) | (xy[..., 1] >= h)
    conf = np.where(outside, 0.0, conf)
    xy[..., 0] = xy[..., 0].clip(0, w - 1)
    xy[..., 1] = xy[..., 1].clip(0, h - 1)
    return np.concatenate([xy, conf.clip(0, 1)[..., None]], axis=-1).astype(np.float32)


# Measured with relsar_core.data.mocap.calibrate on the real sample video (vtest.avi, BlazePose,
# default backend; small far pedestrians, ~30 px torso): median confidence per body15 joint,
# share of frames below MIN_CONFIDENCE, frame-to-frame jitter in torso lengths and left/right
# swap rate per frame. The model card lists them; `calibrated_errors` draws around them.
MEASURED = {
    "median_confidence": (0.79, 0.62, 0.67, 0.49, 0.32, 0.66, 0.47, 0.26,
                          0.54, 0.58, 0.60, 0.64, 0.56, 0.53, 0.63),
    "dropout": (0.02, 0.02, 0.01, 0.20, 0.39, 0.02, 0.25, 0.44, 0.01, 0.0, 0.03, 0.05, 0.01, 0.05, 0.05),
    "jitter_torso": (0.057, 0.063, 0.071, 0.085, 0.099, 0.073, 0.074, 0.088,
                     0.070, 0.083, 0.091, 0.117, 0.072, 0.091, 0.119),
    "swap_per_frame": {"arms": 0.016, "legs": 0.031},
    "nobody": 0.67,
}  # fmt: skip
# How long dropouts last and how slowly confidences wander, in seconds, fitted at 10 fps to the
# same video's calibrate.summarise (the model card lists both sides): i.i.d. per-frame noise made
# the wrists flicker where BlazePose loses them for 0.4 s at a time.
CONFIDENCE_TIME_S = 0.2
DROPOUT_RUN_S = np.where(np.isin(np.arange(15), [3, 4, 6, 7]), 0.6, 0.1)  # elbows, wrists: longer
# "measured": the time structure above (test-side clips: what BlazePose outputs). "per_frame":
# every frame drawn afresh, as the shipped model's training clips are; as a training augmentation
# it beat the measured timing even on a test with the measured timing (the model card).
ERROR_TIMINGS = ("measured", "per_frame")


def calibrated_errors(
    pixels: np.ndarray,
    depth: np.ndarray,
    image_size: tuple[int, int],
    rng: np.random.Generator,
    level: float,
    hidden_below: float | None = None,
    world_y: np.ndarray | None = None,
    fps: float = 30.0,
    timing: str = "measured",
) -> np.ndarray:
    """Clean (F, 15, 2) pixels → keypoints (F, 15, 3) with errors drawn around MEASURED.
    `level` in [0, 1]: 0 = a large, sharp webcam view (a fifth of the measured jitter and
    dropouts), 1 = the measured far, small people. Joints out of the image or hidden
    (behind the body, or below `hidden_below` metres, e.g. a desk, given `world_y` (F, 15)) get
    confidence near 0, or now and then an invented low-confidence position, as BlazePose does.
    `fps` is the capture rate of the frames; `timing` one of ERROR_TIMINGS: "measured" gives
    confidences and dropouts the real video's time structure (in seconds), "per_frame" draws them
    afresh every frame, with the slow drift at 30 fps, exactly as the shipped model's training data."""
    if timing not in ERROR_TIMINGS:
        raise ValueError(f"timing must be one of {ERROR_TIMINGS}, got {timing!r}")
    timed = timing == "measured"
    frames = len(pixels)
    xy = pixels.astype(np.float64).copy()
    w, h = image_size
    torso = np.linalg.norm(xy[:, 1] - xy[:, 8], axis=-1)
    size = float(np.median(np.maximum(torso, 1.0)))
    k = 0.2 + 0.8 * level
    jitter = np.asarray(MEASURED["jitter_torso"]) / 1.44 * k  # second difference → per-frame σ
    white = rng.normal(size=(frames, 15, 2)) * jitter[None, :, None] * rng.uniform(0.5, 1.0)
    drift_fps = fps if timed else 30.0
    drift = smooth_noise(rng, frames, drift_fps, 1.5, (15, 2)) * jitter[None, :, None] * 0.5
    behind = depth > depth[:, [1, 8]].mean(axis=1, keepdims=True) + 0.08
    xy += (white + drift) * size * np.where(behind, 1.6, 1.0)[..., None]

    med = np.asarray(MEASURED["median_confidence"])
    conf = med[None] + (1 - level) * 0.2 + rng.uniform(-0.15, 0.15, (1, 15))
    if timed:
        conf = conf + 0.12 * ar1_noise(rng, frames, fps, CONFIDENCE_TIME_S, (15,))
    else:
        conf = conf + rng.normal(0, 0.12, (frames, 15))
    conf = np.where(behind, conf * rng.uniform(0.5, 0.85), conf)
    share = np.asarray(MEASURED["dropout"]) * k * 0.6
    if timed:
        drop = dropout_runs(rng, frames, fps, share, DROPOUT_RUN_S)
    else:
        drop = rng.random((frames, 15)) < share
    conf = np.where(drop, rng.uniform(0.0, 0.19, (frames, 15)), conf)

    flip = get_layout("body15").flip_permutation
    for part, rate in MEASURED["swap_per_frame"].items():
        pairs = _ARMS if part == "arms" else _LEGS
        for span in _spans(rng, frames, rng.poisson(rate * k * frames / 3), 4):
            idx = [j for pair in pairs for j in pair]
            xy[span, idx] = xy[span][:, flip[idx]]

    lost = (xy[..., 0] < 0) | (xy[..., 0] >= w) | (xy[..., 1] < 0) | (xy[..., 1] >= h)
    if hidden_below is not None and world_y is not None:
        lost |= world_y < hidden_below
    invented = lost & (rng.random((1, 15)) < 0.3)  # a guessed limb, kept for the whole clip
    conf = np.where(lost, np.where(invented, rng.uniform(0.05, 0.4, (frames, 15)), 0.0), conf)
    xy += np.where(invented, 1.0, 0.0)[..., None] * rng.normal(0, 0.3 * size, (1, 15, 2))
    xy[..., 0] = xy[..., 0].clip(0, w - 1)
    xy[..., 1] = xy[..., 1].clip(0, h - 1)
    if rng.random() < 0.5:  # whole frames with nobody found (the tracker lost the person)
        for span in _spans(rng, frames, rng.poisson(level * 2), 3):
            conf[span] = 0.0
    return np.concatenate([xy, conf.clip(0, 1)[..., None]], axis=-1).astype(np.float32)
