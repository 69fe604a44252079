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
    # Bit-exact crop (OpenCV 3.4's fixed-point warp), identical model outputs and MediaPipe's
    # float32 decoding (heatmap sums, letterbox padding, projection): the very same floats.
    assert got["bit_exact_frames"] == got["frames"], got
    assert got["max_px"] == 0.0 and got["pck05"] == 1.0, got


def test_every_reference_detection_and_no_extra(reference, estimator):
    from relsar_core.bench.pose_reference import detector_agreement

    got = detector_agreement(reference, estimator.detector)
    assert got["reference"] >= 10
    assert got["missed"] == 0 and got["extra"] == 0, got
    # The detector's input is MediaPipe's bit for bit (its [-1, 1] conversion rounds once), and
    # decoding, weighted NMS and letterbox removal round as its float32 code does: even the
    # near-threshold detections (candidates at 0.498-0.509 around the 0.5 bar) are its own.
    assert got["bit_exact"] == got["matched"], got
    assert got["max_score_diff"] == 0.0 and got["max_keypoint_px"] == 0.0, got


def test_tracking_roi_filter_is_mediapipes(reference):
    from relsar_core.bench.pose_reference import tracking_roi_agreement

    got = tracking_roi_agreement(reference)
    assert got["frames"] >= 100
    assert got["bit_exact"] == got["frames"], got  # the One Euro filter and rect maths, to the bit
    assert got["max_centre_px"] == 0.0 and got["max_size_px"] == 0.0, got


def test_roi_from_each_reference_detection(reference):
    from relsar_core.bench.pose_reference import rect_of
    from relsar_core.pose.blazepose.mediapipe_math import rect_from_alignment

    checked = 0
    for name, image in reference.stills.items():
        dets, roi = reference.data[f"still_{name}_det"], reference.data[f"still_{name}_roi"]
        if len(dets) == 0:
            continue
        size = (image.shape[1], image.shape[0])
        kps = (dets[0, 5:].reshape(4, 2) / size).astype(np.float32)  # its fractions, exactly
        assert rect_from_alignment(kps[0], kps[1], size) == rect_of(roi, size), name
        checked += 1
    assert checked >= 10


def test_end_to_end_on_the_sample_video(reference, estimator):
    from relsar_core.bench.pose_reference import end_to_end

    got = end_to_end(reference, estimator)
    # In lock-step with MediaPipe on every frame: it finds someone exactly where MediaPipe does,
    # and there its landmarks are MediaPipe's to the bit (the tracking loop amplifies any
    # rounding difference, so anything short of exact drifts apart within ten frames).
    assert got["found_agrees"] == 1.0, got
    assert got["both_frames"] == got["reference_frames"] >= 100, got
    assert got["bit_exact_frames"] == got["both_frames"], got
    assert got["same_person"] == 1.0 and got["pck05"] == 1.0, got


def test_redetecting_in_the_same_frame_parts_from_the_reference(reference):
    """The option to look again in the frame that lost the person (not MediaPipe's rule) gives
    a skeleton one frame earlier but follows another ROI for a while: what the default avoids."""
    from relsar_core.bench.pose_reference import end_to_end
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    est = BlazePoseEstimator(num_threads=2, redetect_same_frame=True)
    got = end_to_end(reference, est)
    est.close()
    assert got["found_agrees"] < 1.0 and got["bit_exact_frames"] < got["both_frames"], got
    assert got["same_person"] >= 0.95 and 0.85 <= got["pck05"] < 0.99, got


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
