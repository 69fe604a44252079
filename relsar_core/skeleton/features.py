"""The one feature function: raw body15 skeleton windows → model input (T, 60).

Training, conversion, the offline tools and the live app all call `window_features`; there is
no second implementation. Per window: low-confidence joints are filled from their last good
value (then the next good one for a leading gap), positions are centred on the window's mean
mid-hip (neck as a fallback) and divided by the body size (mean neck–mid-hip length), and
velocities are frame differences of the normalized positions (zero for the first frame).
Channels per joint are (x, y, vx, vy); the 15 joints are flattened joint-major into 60.
"""

from __future__ import annotations

import numpy as np

from relsar_core.skeleton.layouts import LAYOUTS, MID_HIP, NECK

WINDOW = 30
MODEL_FPS = (
    30.0  # a window is WINDOW frames at this rate (1 s): clips and sources are resampled to it
)
NUM_JOINTS = 15
CHANNELS = 4
FEATURE_DIM = NUM_JOINTS * CHANNELS
MIN_CONFIDENCE = 0.2
# Beyond this many pixels a coordinate is a broken estimate, not a pose: treated as missing.
MAX_ABS_COORDINATE = 1e6
# Bump whenever window_features computes something different: converted models record it in
# their sidecar JSON and the runtime refuses a model made for another version.
FEATURES_VERSION = 1
_EPS = np.float32(1e-6)


def drop_absurd(keypoints: np.ndarray) -> np.ndarray:
    """(..., J, 3) with every joint whose value is non-finite or beyond MAX_ABS_COORDINATE made a
    missing joint (0, 0, confidence 0), so NaN or 3e38 never reaches the features."""
    kp = np.asarray(keypoints, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(kp).all(axis=-1) & (np.abs(kp[..., :2]) <= MAX_ABS_COORDINATE).all(
            axis=-1
        )
    if good.all():
        return kp
    return np.where(good[..., None], kp, np.float32(0.0))


def fill_missing(keypoints: np.ndarray, min_confidence: float = MIN_CONFIDENCE):
    """Fill low-confidence joints along time. keypoints (..., T, J, 3) → (positions (..., T, J, 2),
    valid (..., T, J) before filling, seen (..., J) whether the joint was ever valid)."""
    kp = np.asarray(keypoints, dtype=np.float32)
    valid = kp[..., 2] >= min_confidence
    steps = np.arange(kp.shape[-3]).reshape(-1, 1)
    last_good = np.maximum.accumulate(np.where(valid, steps, -1), axis=-2)
    first_good = np.argmax(valid, axis=-2)[..., None, :]
    index = np.where(last_good < 0, first_good, last_good)
    positions = np.take_along_axis(kp[..., :2], index[..., None], axis=-3)
    return positions, valid, valid.any(axis=-2)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of values (..., N, D) over N where mask (..., N) → ((..., D), any-valid (...))."""
    count = mask.sum(axis=-1)
    total = np.where(mask[..., None], values, np.float32(0.0)).sum(axis=-2)
    return total / np.maximum(count, 1).astype(np.float32)[..., None], count > 0


def window_features(keypoints: np.ndarray, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """body15 windows (..., T, 15, 3) → features (..., T, 60) float32. See the module docstring."""
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(
            f"window_features expects (..., T, {NUM_JOINTS}, 3) body15, got {kp.shape}"
        )
    if kp.size == 0:  # no windows (a clip shorter than one window)
        return np.zeros((*kp.shape[:-2], FEATURE_DIM), np.float32)
    kp = drop_absurd(kp)
    pos, valid, seen = fill_missing(kp, min_confidence)
    xy = kp[..., :2]

    # Centre: the mean mid-hip over the window, else the mean neck, else the mean of all valid joints.
    hip, hip_ok = _masked_mean(xy[..., MID_HIP, :], valid[..., MID_HIP])
    neck, neck_ok = _masked_mean(xy[..., NECK, :], valid[..., NECK])
    flat_shape = (*kp.shape[:-3], -1)
    every, _ = _masked_mean(xy.reshape(*flat_shape, 2), valid.reshape(flat_shape))
    centre = np.where(hip_ok[..., None], hip, np.where(neck_ok[..., None], neck, every))

    # Scale: mean torso length where both ends are seen, else a third of the valid joints' height.
    both = valid[..., NECK] & valid[..., MID_HIP]
    torso = np.linalg.norm(xy[..., NECK, :] - xy[..., MID_HIP, :], axis=-1, keepdims=True)
    torso_mean, torso_ok = _masked_mean(torso, both)
    ys = kp[..., 1].reshape(flat_shape)
    flat_valid = valid.reshape(flat_shape)
    top = np.where(flat_valid, ys, np.inf).min(axis=-1)
    bottom = np.where(flat_valid, ys, -np.inf).max(axis=-1)
    height = np.where(flat_valid.any(axis=-1), (bottom - top) / np.float32(3.0), np.float32(0.0))
    scale = np.where(torso_ok & (torso_mean[..., 0] > _EPS), torso_mean[..., 0], height)
    scale = np.where(scale > _EPS, scale, np.float32(1.0)).astype(np.float32)

    norm = (pos - centre[..., None, None, :]) / scale[..., None, None, None]
    # A joint never seen in the window sits at the centre rather than at an arbitrary pixel.
    norm = np.where(seen[..., None, :, None], norm, np.float32(0.0))
    vel = np.diff(norm, axis=-3, prepend=norm[..., :1, :, :])
    feats = np.concatenate([norm, vel], axis=-1)
    return feats.reshape(*feats.shape[:-2], FEATURE_DIM).astype(np.float32, copy=False)


def resample_at(times: np.ndarray, keypoints: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Keypoints (F, J, 3) seen at increasing `times` (F,) → (len(query), J, 3) at `query` times
    (clamped to the first and last frame). Joints are interpolated linearly where both
    neighbouring frames see them, otherwise taken from the nearer frame, so a missing joint
    never becomes a confident point between two. The one resampler of clips and live windows."""
    kp = np.asarray(keypoints, dtype=np.float32)
    t = np.asarray(times, dtype=np.float64)
    q = np.clip(np.asarray(query, dtype=np.float64), t[0], t[-1])
    if len(t) == 1:
        return np.repeat(kp[:1], len(q), axis=0)
    hi = np.clip(np.searchsorted(t, q, side="right"), 1, len(t) - 1)
    lo = hi - 1
    w = np.clip((q - t[lo]) / np.maximum(t[hi] - t[lo], 1e-12), 0.0, 1.0)
    w = w.astype(np.float32)[:, None, None]
    a, b = kp[lo], kp[hi]
    both = (a[..., 2:] >= MIN_CONFIDENCE) & (b[..., 2:] >= MIN_CONFIDENCE)
    return np.where(both, a + (b - a) * w, np.where(w >= 0.5, b, a)).astype(np.float32)


def resample_frames(keypoints: np.ndarray, num_frames: int) -> np.ndarray:
    """(F, J, 3) → (num_frames, J, 3) evenly over the same span (first and last frame kept)."""
    kp = np.asarray(keypoints, dtype=np.float32)
    if len(kp) == num_frames:
        return kp
    return resample_at(np.arange(len(kp)), kp, np.linspace(0.0, len(kp) - 1, num_frames))


def to_model_fps(keypoints: np.ndarray, fps: float) -> np.ndarray:
    """A clip at `fps` resampled to MODEL_FPS (unchanged within half a frame per second)."""
    if fps <= 0 or abs(fps - MODEL_FPS) < 0.5:
        return np.asarray(keypoints, dtype=np.float32)
    return resample_frames(keypoints, max(1, round(len(keypoints) * MODEL_FPS / fps)))


def sliding_windows(keypoints: np.ndarray, window: int = WINDOW, stride: int = 1) -> np.ndarray:
    """(frames, J, C) → (N, window, J, C) views every `stride` frames; N = 0 if the clip is short."""
    kp = np.asarray(keypoints)
    if kp.shape[0] < window:
        return np.empty((0, window, *kp.shape[1:]), dtype=kp.dtype)
    views = np.lib.stride_tricks.sliding_window_view(kp, window, axis=0)[::stride]
    return np.moveaxis(views, -1, 1)


def clip_features(keypoints: np.ndarray, window: int = WINDOW, stride: int = 1) -> np.ndarray:
    """All windows of a body15 clip as model inputs: (N, window, 60)."""
    return window_features(sliding_windows(keypoints, window, stride))


def padded_to(keypoints: np.ndarray, frames: int) -> np.ndarray:
    """A clip of at least `frames` frames: a shorter one padded by repeating its last frame."""
    if len(keypoints) >= frames:
        return keypoints
    return np.concatenate([keypoints, np.repeat(keypoints[-1:], frames - len(keypoints), axis=0)])


def context_windows(
    keypoints: np.ndarray, window: int, stride: int, source_frames: int
) -> np.ndarray:
    """The windows of clip_features(keypoints, window, stride), each widened to `source_frames`
    frames of the same clip around it: (N, source_frames, 60), the same N and order. Training
    cuts its views from these, so a sped-up view plays real frames (augment.source_window). A
    widened window is shifted to stay inside the clip; a clip shorter than it is padded by
    repeating its last frame."""
    kp = np.asarray(keypoints, dtype=np.float32)
    starts = np.arange(0, len(kp) - window + 1, stride)
    kp = padded_to(kp, source_frames)
    extra = source_frames - window
    first = np.clip(starts - extra // 2, 0, len(kp) - source_frames)
    return window_features(kp[first[:, None] + np.arange(source_frames)])


def features_as_joints(features: np.ndarray) -> np.ndarray:
    """(..., T, 60) → (..., T, 15, 4) view, for augmentations that act per joint."""
    return features.reshape(*features.shape[:-1], NUM_JOINTS, CHANNELS)


def flip_features(features: np.ndarray) -> np.ndarray:
    """(..., T, 60) → the same windows of the mirror-image performer: swap the left and right
    joints and negate x and vx. Features are centred and scaled, so this equals window_features
    of the mirrored skeleton (tests/test_flip_average.py). The one NumPy flip: the mirror-leak check
    and flip test-time averaging (relsar_core.runtime.flip_average) both use it."""
    x = np.asarray(features, dtype=np.float32)
    joints = features_as_joints(x)[..., LAYOUTS["body15"].flip_permutation, :]
    return (joints * np.array([-1.0, 1.0, -1.0, 1.0], np.float32)).reshape(x.shape)
