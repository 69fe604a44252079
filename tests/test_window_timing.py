"""Timing by timestamps: the live window spans the model's seconds whatever rate frames come at."""

from __future__ import annotations

import numpy as np

from relsar_core.data.recording import ClipRecorder
from relsar_core.live.pipeline import LivePipeline
from relsar_core.live.sources import Frame
from relsar_core.pose.base import Skeleton
from relsar_core.skeleton.clip import Clip, load_clip
from relsar_core.skeleton.features import MODEL_FPS, WINDOW, resample_frames, window_features
from relsar_core.skeleton.window import SkeletonWindow


def smooth_motion(seconds: float, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """A body15 clip of smooth joint motion (1-2 Hz swings) sampled at `fps`: (times, keypoints)."""
    rng = np.random.default_rng(3)
    base = rng.uniform(200, 400, (15, 2))
    freq, phase = rng.uniform(0.8, 2.0, (15, 2)), rng.uniform(0, 6.28, (15, 2))
    t = np.arange(int(round(seconds * fps))) / fps
    xy = base + 30 * np.sin(2 * np.pi * freq * t[:, None, None] + phase)
    kp = np.concatenate([xy, np.full((len(t), 15, 1), 0.9)], axis=-1).astype(np.float32)
    return t, kp


def last_window(times, keypoints) -> np.ndarray:
    w = SkeletonWindow(WINDOW)
    for t, kp in zip(times, keypoints, strict=True):
        w.push(kp, t)
    assert w.full
    return window_features(w.array())


def test_window_at_true_rate_is_the_clip_itself():
    t, kp = smooth_motion(2.0, MODEL_FPS)
    np.testing.assert_allclose(last_window(t, kp), window_features(kp[-WINDOW:]), atol=1e-5)


def test_slow_camera_claiming_30fps_and_dropped_frames_give_the_true_features():
    t, kp = smooth_motion(2.0, MODEL_FPS)
    truth = window_features(kp[-WINDOW:])
    # A camera that delivers 15 fps while claiming 30: every other frame, measured timestamps.
    slow = last_window(t[1::2], kp[1::2])
    # Frames dropped while the model was busy: a random third of them missing.
    keep = np.sort(np.random.default_rng(0).choice(len(t) - 1, (len(t) - 1) * 2 // 3, False))
    keep = np.append(keep, len(t) - 1)
    dropped = last_window(t[keep], kp[keep])
    for got in (slow, dropped):
        assert np.abs(got[:, :30] - truth[:, :30]).max() < 0.05  # positions
        assert np.abs(got[:, 30:] - truth[:, 30:]).max() < 0.05  # velocities (normalized units)
    # Counting frames instead (the old behaviour) makes the motion twice as fast: far off.
    counted = window_features(kp[1::2][-WINDOW:])
    assert np.abs(counted - truth).max() > 0.3


def test_window_fills_by_time_and_restarts_on_a_new_timeline():
    w = SkeletonWindow(30)
    kp = np.ones((15, 3), np.float32)
    for i in range(15):
        w.push(kp, i / 15.0)  # 15 fps: 14 frames span 0.93 s, not yet the 29/30 s window
    assert not w.full
    w.push(kp, 15 / 15.0)
    assert w.full and w.array().shape == (30, 15, 3)
    w.push(kp, 0.0)  # time went backwards: a reopened source
    assert not w.full and w.count == 1
    w.push(None, 0.1)
    assert w.missing_run == 1 and w.person_fraction == 0.5


def test_resample_frames_goes_through_the_timestamp_resampler():
    t, kp = smooth_motion(1.0, 10.0)
    w = SkeletonWindow(30, rate=MODEL_FPS)
    for ti, k in zip(t, kp, strict=True):
        w.push(k, ti)
    # 10 frames at 10 fps cover 0.9 s; the model window covers 29/30 s: the first is clamped.
    np.testing.assert_allclose(w.array()[-28:], resample_frames(kp, 28)[-28:], atol=1e-3)


def test_pipeline_windows_by_frame_timestamps(tiny_tflite_model):
    from relsar_core.live.pipeline import open_classifier

    classifier, _ = open_classifier(tiny_tflite_model)
    t, kp = smooth_motion(3.0, MODEL_FPS)
    pipe = LivePipeline(classifier, stride=1)
    first = None
    for i in range(0, len(t), 2):  # 15 fps delivered
        r = pipe.process(Frame(i // 2, 0.0, None, (640, 480), Skeleton(kp[i], "body15"), t[i]))
        if r.prediction is not None and first is None:
            first = i // 2
    assert first == 15  # a window is full after ~1 s of frames, not after 30 of them


def test_recording_stores_the_measured_frame_rate(tmp_path):
    t, kp = smooth_motion(2.0, 15.0)
    rec = ClipRecorder(tmp_path, "wave", "body15", fps=30.0)  # the camera claims 30
    for ti, k in zip(t, kp, strict=True):
        rec.add(Skeleton(k, "body15"), None, 100.0 + ti)
    clip = load_clip(rec.stop())
    assert abs(clip.fps - 15.0) < 0.01
    at_model = Clip(clip.keypoints, "body15", clip.fps).body15_at_model_rate()
    assert abs(len(at_model) - 2 * len(kp)) <= 1
