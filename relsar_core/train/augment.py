"""Skeleton augmentations that run inside the tf.data / tf.function graph.

They act on batches of model features (B, T, 60) viewed as (B, T, 15, 4): positions are
resampled in time, flipped (negate x and swap left/right joints), transformed by a random
rotation·shear·scale, jittered, and then velocities are recomputed exactly as
`relsar_core.skeleton.features.window_features` defines them; masking comes last. Every strength is an
`AugmentConfig` field; 0 turns that augmentation off (and removes it from the graph).
"""

from __future__ import annotations

import math

import tensorflow as tf

from relsar_core.config import AugmentConfig
from relsar_core.skeleton.features import CHANNELS, NUM_JOINTS
from relsar_core.skeleton.layouts import LAYOUTS

_FLIP_PERMUTATION = LAYOUTS["body15"].flip_permutation


def _uniform(batch, low, high):
    return tf.random.uniform([batch], low, high)


def source_window(window: int, speed: float) -> int:
    """Frames of source a `window`-frame view needs so that playing it at up to 1 + speed × is
    a real speed-up: the data pipeline cuts windows this long for augment(..., out_steps=window)."""
    return window + math.ceil((window - 1) * speed - 1e-9)


def view_source_frames(window: int, cfg: AugmentConfig) -> int:
    """Frames of source the training side needs per `window`-frame view under `cfg`: the
    context windows of source_window, or the window itself when `cfg.speed_up` is off."""
    return source_window(window, cfg.speed) if cfg.speed_up else window


def temporal_resample(pos: tf.Tensor, speed: float, crop: float, out_steps=None) -> tf.Tensor:
    """Play each window at a random speed in [1 − speed, 1 + speed] and/or from a random
    sub-segment, resampled to `out_steps` frames (default: the input's T) by linear
    interpolation. pos: (B, S, J, 2). A view of T frames at rate r covers r·(T − 1) source
    frames; with S ≥ source_window(T, speed) a speed-up is never clamped (with S = T it is)."""
    batch, steps = tf.shape(pos)[0], tf.shape(pos)[1]
    out_steps = steps if out_steps is None else out_steps
    last = tf.cast(steps - 1, tf.float32)
    out_last = tf.cast(out_steps - 1, tf.float32)
    rate = _uniform(batch, 1.0 - speed, 1.0 + speed) if speed else tf.ones([batch])
    keep = _uniform(batch, 1.0 - crop, 1.0) if crop else tf.ones([batch])
    span = tf.minimum(rate * keep * out_last, last)  # source frames covered, within the source
    start = tf.random.uniform([batch]) * (last - span)
    t = start[:, None] + tf.linspace(0.0, 1.0, out_steps)[None, :] * span[:, None]  # (B, T)
    lo = tf.clip_by_value(tf.floor(t), 0.0, last)
    frac = (t - lo)[:, :, None, None]
    lo_i = tf.cast(lo, tf.int32)
    hi_i = tf.minimum(lo_i + 1, steps - 1)
    a = tf.gather(pos, lo_i, batch_dims=1)
    b = tf.gather(pos, hi_i, batch_dims=1)
    return a + (b - a) * frac


def flip(pos: tf.Tensor, probability: float) -> tf.Tensor:
    """Mirror left/right: negate x and swap the left/right joints."""
    batch = tf.shape(pos)[0]
    mirrored = tf.gather(pos, _FLIP_PERMUTATION, axis=2) * tf.constant([-1.0, 1.0])
    do = tf.random.uniform([batch]) < probability
    return tf.where(do[:, None, None, None], mirrored, pos)


def affine(pos: tf.Tensor, rotation_deg: float, shear: float, scale: float) -> tf.Tensor:
    """A random rotation·shear·scale of the xy plane per window."""
    batch = tf.shape(pos)[0]
    angle = _uniform(batch, -1.0, 1.0) * (rotation_deg * math.pi / 180.0)
    c, s = tf.cos(angle), tf.sin(angle)
    sx = _uniform(batch, -shear, shear) if shear else tf.zeros([batch])
    sy = _uniform(batch, -shear, shear) if shear else tf.zeros([batch])
    k = _uniform(batch, 1.0 - scale, 1.0 + scale) if scale else tf.ones([batch])
    # M = k · R · Sh, applied to row vectors: p' = p Mᵀ.
    m00, m01 = c - s * sy, c * sx - s
    m10, m11 = s + c * sy, s * sx + c
    matrix = tf.stack([tf.stack([m00, m01], -1), tf.stack([m10, m11], -1)], -2) * k[:, None, None]
    return tf.einsum("btjc,bdc->btjd", pos, matrix)


def with_velocities(pos: tf.Tensor) -> tf.Tensor:
    """(B, T, J, 2) positions → (B, T, J*4) features, velocities as in window_features."""
    vel = tf.concat([tf.zeros_like(pos[:, :1]), pos[:, 1:] - pos[:, :-1]], axis=1)
    feats = tf.concat([pos, vel], axis=-1)
    return tf.reshape(feats, [tf.shape(pos)[0], tf.shape(pos)[1], NUM_JOINTS * CHANNELS])


def mask(features: tf.Tensor, joint_mask: float, frame_mask: float) -> tf.Tensor:
    """Zero whole joints (over the window) and whole frames at random."""
    batch, steps = tf.shape(features)[0], tf.shape(features)[1]
    keep = tf.ones([batch, steps, NUM_JOINTS, 1])
    if joint_mask:
        keep *= tf.cast(tf.random.uniform([batch, 1, NUM_JOINTS, 1]) >= joint_mask, tf.float32)
    if frame_mask:
        keep *= tf.cast(tf.random.uniform([batch, steps, 1, 1]) >= frame_mask, tf.float32)
    joints = tf.reshape(features, [batch, steps, NUM_JOINTS, CHANNELS]) * keep
    return tf.reshape(joints, tf.shape(features))


def augment(features: tf.Tensor, cfg: AugmentConfig, out_steps: int | None = None) -> tf.Tensor:
    """Augment a batch of features (B, S, 60) → (B, out_steps or S, 60). Source windows longer
    than out_steps (see source_window) let the speed augmentation speed motion up as well."""
    batch, steps = tf.shape(features)[0], tf.shape(features)[1]
    pos = tf.reshape(features, [batch, steps, NUM_JOINTS, CHANNELS])[..., :2]
    longer = out_steps is not None and features.shape[1] != out_steps  # unknown length: resample
    if cfg.speed or cfg.crop or longer:
        pos = temporal_resample(pos, cfg.speed, cfg.crop, out_steps)
    if cfg.flip:
        pos = flip(pos, cfg.flip)
    if cfg.rotation or cfg.shear or cfg.scale:
        pos = affine(pos, cfg.rotation, cfg.shear, cfg.scale)
    if cfg.noise:
        pos += tf.random.normal(tf.shape(pos), stddev=cfg.noise)
    out = with_velocities(pos)
    if cfg.joint_mask or cfg.frame_mask:
        out = mask(out, cfg.joint_mask, cfg.frame_mask)
    return out
