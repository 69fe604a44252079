"""Training windows with context (issue #17, fix 2 in the supervised pipeline): the training
side is cut with source_window(T, speed) frames around each window, so a sped-up view plays real
frames."""

import numpy as np
import pytest
import tensorflow as tf

from relsar_core.config import AugmentConfig
from relsar_core.data.datasets import load_splits
from relsar_core.skeleton.features import clip_features, context_windows
from relsar_core.skeleton.layouts import MID_HIP
from relsar_core.train.augment import augment, source_window
from relsar_core.train.tfdata import labelled_dataset

WINDOW, STRIDE = 30, 5


def _walker(frames: int, seed: int = 0) -> np.ndarray:
    """A rigid body15 skeleton drifting sideways (so a window's centre depends on its span) with
    a constant torso (so its scale does not)."""
    rng = np.random.default_rng(seed)
    body = rng.normal(0, 40, (15, 2)).astype(np.float32)
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    xy = body[None] + t * np.array([6.0, 0.5], np.float32) + 300
    return np.concatenate([xy, np.ones((frames, 15, 1), np.float32)], axis=-1)


def test_context_windows_hold_each_window_and_stay_in_the_clip():
    kp = _walker(80)
    source = source_window(WINDOW, 0.2)
    windows = clip_features(kp, WINDOW, STRIDE)
    wide = context_windows(kp, WINDOW, STRIDE, source)
    assert wide.shape == (len(windows), source, 60)
    starts = np.arange(0, len(kp) - WINDOW + 1, STRIDE)
    first = np.clip(starts - (source - WINDOW) // 2, 0, len(kp) - source)
    assert first[0] == 0 and first[-1] == len(kp) - source  # shifted inside, never padded
    # The window's own frames, cut from its context window, are the window up to a shift (the
    # context window's centre is its own mean mid-hip).
    views = np.stack(
        [w[s - f : s - f + WINDOW] for w, s, f in zip(wide, starts, first, strict=True)]
    )
    pos = views.reshape(len(views), WINDOW, 15, 4)[..., :2]
    assert np.abs(pos[:, :, MID_HIP].mean(axis=1)).max() > 0.05  # off-centre in the view
    centred = pos - pos[:, :, MID_HIP].mean(axis=1)[:, None, None, :]
    want = windows.reshape(len(windows), WINDOW, 15, 4)[..., :2]
    np.testing.assert_allclose(centred, want, atol=1e-4)


def test_a_clip_shorter_than_the_context_is_padded_with_its_last_frame():
    kp = _walker(WINDOW + 2)
    wide = context_windows(kp, WINDOW, STRIDE, 36)
    assert wide.shape == (1, 36, 60)
    joints = wide.reshape(1, 36, 15, 4)
    np.testing.assert_allclose(joints[0, -4:, :, :2], joints[0, -5:-1, :, :2])


def test_load_splits_gives_only_the_training_side_context_windows(toy_data):
    source = source_window(WINDOW, 0.2)
    plain = load_splits(toy_data, WINDOW, 10, 0.3, 0.15, 42)
    wide = load_splits(toy_data, WINDOW, 10, 0.3, 0.15, 42, source_frames=source)
    assert wide.train.sources.shape == (len(wide.train), source, 60)
    assert wide.val.sources is None and wide.test.sources is None
    for side in ("train", "val", "test"):  # windows, labels and clips are unchanged
        a, b = getattr(plain, side), getattr(wide, side)
        np.testing.assert_array_equal(a.windows, b.windows)
        np.testing.assert_array_equal(a.clip_ids, b.clip_ids)
    subset = wide.train.subset(np.unique(wide.train.clip_ids)[:2])
    assert subset.sources.shape == (len(subset), source, 60)
    assert subset.training_windows is subset.sources
    assert plain.train.sources is None and plain.train.training_windows is plain.train.windows


@pytest.mark.parametrize("longer", [True, False])
def test_supervised_batches_speed_up_only_with_context_windows(longer):
    speed = 0.3
    source = source_window(WINDOW, speed) if longer else WINDOW
    ramp = np.zeros((128, source, 15, 4), np.float32)
    ramp[..., 0] = np.arange(source, dtype=np.float32)[None, :, None]
    only_speed = AugmentConfig(
        flip=0, rotation=0, scale=0, shear=0, noise=0, speed=speed, crop=0, joint_mask=0
    )
    ds = labelled_dataset(
        ramp.reshape(128, source, 60),
        np.zeros(128, np.int32),
        2,
        128,
        True,
        only_speed,
        out_steps=WINDOW,
    )
    x, _ = next(iter(ds))
    views = x.numpy().reshape(128, WINDOW, 15, 4)
    rates = (views[:, -1, 0, 0] - views[:, 0, 0, 0]) / (WINDOW - 1)
    sped_up = (rates > 1.1).mean()
    assert sped_up > 0.2 if longer else sped_up == 0.0


def test_augment_keeps_a_window_of_the_live_length():
    x = tf.zeros([4, source_window(WINDOW, 0.2), 60])
    assert augment(x, AugmentConfig(), out_steps=WINDOW).shape == (4, WINDOW, 60)


def test_speed_up_off_keeps_views_inside_the_window(toy_data):
    from relsar_core.train.augment import view_source_frames

    assert view_source_frames(WINDOW, AugmentConfig(speed=0.2)) == source_window(WINDOW, 0.2)
    assert view_source_frames(WINDOW, AugmentConfig(speed=0.2, speed_up=False)) == WINDOW
    splits = load_splits(toy_data, WINDOW, 10, 0.3, 0.15, 42, source_frames=WINDOW)
    assert splits.train.sources is None  # no context windows: the old clamped views
    from relsar_core.config import RunConfig, load_config

    shipped = load_config("webcam_model", RunConfig).augment  # the shipped model's recipe
    assert not shipped.speed_up and view_source_frames(WINDOW, shipped) == WINDOW
