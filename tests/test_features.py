"""The one feature function: shapes, invariances, filling, and batch/single identity."""

import numpy as np

from relsar_core.skeleton.features import (
    FEATURE_DIM,
    clip_features,
    sliding_windows,
    window_features,
)
from relsar_core.skeleton.synthetic import toy_clip


def _clip(seed=0, frames=90):
    return toy_clip("wave", frames, np.random.default_rng(seed))


def test_shapes_and_velocities():
    feats = window_features(_clip()[:30])
    assert feats.shape == (30, FEATURE_DIM) and feats.dtype == np.float32
    joints = feats.reshape(30, 15, 4)
    np.testing.assert_allclose(joints[1:, :, 2:], np.diff(joints[:, :, :2], axis=0), atol=1e-6)
    np.testing.assert_array_equal(joints[0, :, 2:], 0)


def test_translation_and_scale_invariance():
    kp = _clip()[:30]
    moved = kp.copy()
    moved[..., :2] = moved[..., :2] * 2.5 + np.array([300.0, -40.0])
    np.testing.assert_allclose(window_features(moved), window_features(kp), atol=1e-4)


def test_missing_joints_filled_from_last_good_value():
    kp = _clip()[:30].copy()
    kp[:, 0, 2] = 1.0
    kp[10:15, 4, 2] = 0.0  # right wrist lost for 5 frames
    kp[:3, 7, 2] = 0.0  # left wrist missing at the start: back-filled
    feats = window_features(kp).reshape(30, 15, 4)
    np.testing.assert_array_equal(feats[10:15, 4, :2], np.repeat(feats[9:10, 4, :2], 5, axis=0))
    np.testing.assert_array_equal(feats[:3, 7, :2], np.repeat(feats[3:4, 7, :2], 3, axis=0))
    assert np.isfinite(feats).all()


def test_nobody_seen_gives_zeros_not_nan():
    kp = _clip()[:30].copy()
    kp[..., 2] = 0.0
    feats = window_features(kp)
    assert np.isfinite(feats).all() and not feats.any()


def test_batched_equals_one_window_at_a_time_bit_for_bit():
    kp = _clip(frames=120)
    kp[::7, 3, 2] = 0.0
    offline = clip_features(kp, 30, 1)
    windows = sliding_windows(kp, 30, 1)
    live = np.stack([window_features(np.ascontiguousarray(w)) for w in windows])
    assert offline.shape == (91, 30, 60)
    np.testing.assert_array_equal(live, offline)


def test_short_clip_has_no_windows():
    assert clip_features(_clip(frames=20), 30, 1).shape == (0, 30, 60)


def test_resampling_to_the_model_frame_rate():
    from relsar_core.skeleton.features import resample_frames, to_model_fps

    kp = _clip(frames=40)
    kp[:, :, 2] = 0.9
    np.testing.assert_array_equal(resample_frames(kp, 40), kp)
    slow = to_model_fps(kp, fps=10.0)  # 40 frames at 10 FPS last 4 s = 120 frames at 30 FPS
    assert slow.shape == (120, 15, 3)
    np.testing.assert_allclose(slow[0], kp[0])
    np.testing.assert_allclose(slow[-1], kp[-1])
    up = resample_frames(kp[:2], 3)  # the middle frame is the mean of its two neighbours
    np.testing.assert_allclose(up[1, :, :2], (kp[0, :, :2] + kp[1, :, :2]) / 2, rtol=1e-6)
    assert len(to_model_fps(kp, fps=30.2)) == 40  # within half a frame per second: unchanged


def test_resampling_never_invents_a_confident_joint_between_a_missing_one():
    from relsar_core.skeleton.features import MIN_CONFIDENCE, resample_frames

    kp = _clip(frames=2).copy()
    kp[:, :, 2] = 0.9
    kp[1, 4] = [0.0, 0.0, 0.0]  # right wrist lost in the second frame
    mid = resample_frames(kp, 5)
    np.testing.assert_array_equal(mid[1, 4], kp[0, 4])  # nearer to the first frame: its value
    assert mid[3, 4, 2] < MIN_CONFIDENCE  # nearer to the lost frame: still lost
