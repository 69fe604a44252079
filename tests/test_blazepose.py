"""BlazePose: one-line errors for missing or broken models, and the real models on real
photographs (scikit-image's astronaut; OpenCV's messi5.jpg when fetched). The maths without
the models: test_blazepose_maths.py."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from relsar_core.errors import ConfigError, ModelFileError
from relsar_core.pose.model_store import BLAZEPOSE, SAMPLE_VIDEO, missing_files, require_file

# blazepose33 indices
NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHO, R_SHO = 0, 2, 5, 7, 8, 11, 12
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANK, R_ANK = 23, 24, 25, 26, 27, 28
FEET = list(range(27, 33))  # ankles, heels, foot tips

needs_models = pytest.mark.skipif(
    bool(missing_files(BLAZEPOSE, check_hash=False)),
    reason="BlazePose models not fetched: run `relsar-models fetch blazepose` (make test does)",
)


# --- errors -----------------------------------------------------------------------------------


def test_missing_and_broken_models_give_one_line_errors(tmp_path):
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    with pytest.raises(ModelFileError, match="relsar-models fetch blazepose"):
        BlazePoseEstimator(model_dir=tmp_path)
    (tmp_path / "pose_detection.tflite").write_bytes(b"not a flatbuffer" * 10)
    (tmp_path / "pose_landmark_full.tflite").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="not a usable .tflite"):
        BlazePoseEstimator(model_dir=tmp_path)
    with pytest.raises(ModelFileError, match="relsar-models fetch blazepose"):
        require_file(BLAZEPOSE, "pose_detection.tflite", root=tmp_path)


def test_factory_rejects_bad_names(tmp_path):
    from relsar_core.pose.factory import create_pose_estimator, resolve_backend

    with pytest.raises(ConfigError, match="unknown pose backend"):
        create_pose_estimator("openpose")
    with pytest.raises(ConfigError, match="unknown pose runtime"):
        create_pose_estimator("vitpose", str(tmp_path / "w.pth"), runtime="tensorrt")
    with pytest.raises(ModelFileError):
        create_pose_estimator("vitpose", str(tmp_path / "missing.pth"))
    assert resolve_backend("auto", str(tmp_path / "w.pth")) == "vitpose"
    assert resolve_backend("blazepose") == "blazepose"


# --- the real models on real photographs ------------------------------------------------------


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def estimator():
    from relsar_core.pose.factory import create_pose_estimator

    est = create_pose_estimator("blazepose", num_threads=2)
    yield est
    est.close()


def _inside(point: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


@needs_models
def test_astronaut_portrait(estimator, astronaut_bgr):
    estimator.reset()
    sk = estimator.estimate(astronaut_bgr)
    assert sk is not None and sk.layout == "blazepose33" and sk.keypoints.shape == (33, 3)
    kp = sk.keypoints
    # The person: head at x≈150–300, body x≈0–380 (the helmet she holds is right of it).
    person, head = (0, 0, 380, 512), (150, 40, 300, 200)
    for j in (NOSE, L_EYE, R_EYE, L_EAR, R_EAR):
        assert kp[j, 2] > 0.8 and _inside(kp[j], head), (j, kp[j])
    for j in (L_SHO, R_SHO):
        assert kp[j, 2] > 0.5 and _inside(kp[j], person) and 180 < kp[j, 1] < 300, (j, kp[j])
    visible = kp[kp[:, 2] > 0.5]
    assert all(_inside(p, person) for p in visible)
    # She faces the camera: her left side is on the image's right.
    assert kp[L_SHO, 0] > kp[R_SHO, 0] + 100 and kp[L_EYE, 0] > kp[R_EYE, 0]
    # Legs are out of frame: low confidence.
    assert kp[FEET, 2].max() < 0.2 and kp[[L_KNEE, R_KNEE], 2].max() < 0.45
    body15 = sk.to_body15()
    np.testing.assert_allclose(body15[1, :2], (kp[L_SHO, :2] + kp[R_SHO, :2]) / 2, atol=1e-4)


@needs_models
def test_rotated_photo_follows_the_rotation(estimator, astronaut_bgr):
    estimator.reset()
    upright = estimator.estimate(astronaut_bgr).keypoints
    estimator.reset()
    turned = estimator.estimate(cv2.rotate(astronaut_bgr, cv2.ROTATE_90_CLOCKWISE)).keypoints
    expected = np.stack([512 - upright[:, 1], upright[:, 0]], axis=1)  # (x, y) -> (H - y, x)
    face = list(range(11))
    assert np.abs(turned[face, :2] - expected[face]).max() < 10.0


@needs_models
def test_tracking_is_steady_on_a_still_image(astronaut_bgr):
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    est = BlazePoseEstimator(num_threads=2)
    kps = np.array([est.estimate(astronaut_bgr).keypoints for _ in range(12)])
    face_and_shoulders = kps[3:, :13, :2]  # after the ROI has settled
    assert face_and_shoulders.std(axis=0).max() < 5.0  # px; unsmoothed ROI: ≈ 10


@needs_models
def test_tracking_skips_the_detector_and_redetects_after_loss(astronaut_bgr):
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    est = BlazePoseEstimator(num_threads=2)
    h, w = astronaut_bgr.shape[:2]
    noses = []
    for i in range(8):  # the photo slides right by 6 px per frame
        shifted = cv2.warpAffine(astronaut_bgr, np.float32([[1, 0, 6 * i], [0, 1, 0]]), (w, h))
        noses.append(est.estimate(shifted).keypoints[NOSE, :2])
    assert est.detector_runs == 1  # steady state: ROI from the previous landmarks
    xs = np.array(noses)[:, 0]
    # The ROI crop is ~5 image px per model px here (hips far out of frame) and the nose moves
    # by whole heatmap cells: allow ±1.3 model px per step, but the whole slide must add up.
    assert abs((xs[-1] - xs[0]) - 6 * 7) < 4.0 and np.abs(np.diff(xs) - 6).max() < 6.5
    # MediaPipe's rule: the frame that loses the person returns nothing without detecting;
    # the next one detects.
    assert est.estimate(np.zeros_like(astronaut_bgr)) is None  # nobody: lost
    assert est.detector_runs == 1
    assert est.estimate(astronaut_bgr) is not None  # found again
    assert est.detector_runs == 2
    at_once = BlazePoseEstimator(num_threads=2, redetect_same_frame=True)
    at_once.estimate(astronaut_bgr)
    assert at_once.estimate(np.zeros_like(astronaut_bgr)) is None
    assert at_once.detector_runs == 2  # looked again in the frame that lost her
    no_track = BlazePoseEstimator(num_threads=2, tracking=False)
    for _ in range(3):
        no_track.estimate(astronaut_bgr)
    assert no_track.detector_runs == 3


@needs_models
def test_detector_contract_for_other_backends(estimator, astronaut_bgr):
    people = estimator.detector.detect(astronaut_bgr)
    assert len(people) >= 1
    best = people[0]
    assert 0.5 <= best.score <= 1.0 and best.keypoints.shape == (4, 2)
    assert _inside(best.keypoints[2], (0, 150, 380, 330))  # shoulder centre on her chest
    x0, y0, x1, y1 = best.box
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    fx0, fy0, fx1, fy1 = best.face_box
    assert (
        fx0 < fx1
        and fy0 < fy1
        and _inside(np.array([(fx0 + fx1) / 2, (fy0 + fy1) / 2]), (100, 0, 320, 300))
    )
    assert estimator.detector.detect(np.zeros((240, 320, 3), np.uint8)) == []


@pytest.mark.skipif(
    bool(missing_files(SAMPLE_VIDEO, check_hash=False)),
    reason="sample media not fetched: `relsar-models fetch sample-video`",
)
def test_full_body_photo(estimator):
    img = cv2.imread(str(require_file(SAMPLE_VIDEO, "messi5.jpg")))
    estimator.reset()
    kp = estimator.estimate(img).keypoints
    player = (60, 50, 470, 342)  # the footballer, arms spread, mid-kick
    for j in (NOSE, L_SHO, R_SHO, L_HIP, R_HIP, L_KNEE, R_KNEE):
        assert kp[j, 2] > 0.5 and _inside(kp[j], player), (j, kp[j])
    for j in (L_ANK, R_ANK):  # one ankle is half hidden by the ball's shadow and the other leg
        assert kp[j, 2] > 0.3 and _inside(kp[j], player), (j, kp[j])
    assert kp[NOSE, 1] < kp[L_SHO, 1] < kp[L_HIP, 1]  # head above shoulders above hips
    assert min(kp[L_ANK, 1], kp[R_ANK, 1]) > max(kp[L_HIP, 1], kp[R_HIP, 1])


def test_one_euro_filter_is_still_when_still_and_follows_motion():
    from relsar_core.pose.one_euro import OneEuroFilter

    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=0.01, beta=10.0, d_cutoff=1.0)
    noisy = 0.5 + rng.normal(0, 0.01, 60)
    out = np.array([f(np.array([v]))[0] for v in noisy])
    assert out[20:].std() < noisy[20:].std() / 2  # jitter damped
    f.reset()
    assert f.is_fresh
    ramp = np.array([f(np.array([0.05 * i]))[0] for i in range(40)])  # fast, steady motion
    assert abs(ramp[-1] - 0.05 * 39) < 0.1  # follows with little lag


@pytest.mark.skipif(
    bool(missing_files(SAMPLE_VIDEO, check_hash=False)),
    reason="sample media not fetched: `relsar-models fetch sample-video`",
)
@needs_models
def test_real_video_walker_is_tracked(estimator):
    from relsar_core.pose.sample_media import walker_frames

    frames = walker_frames(50, start=25)  # a man walks across the region in these frames
    assert len(frames) == 50 and frames[0].shape == (480, 640, 3)
    estimator.reset()
    runs = estimator.detector_runs
    skeletons = [estimator.estimate(f) for f in frames]
    found = [s for s in skeletons if s is not None]
    assert len(found) >= 45
    assert estimator.detector_runs - runs <= 5  # tracked, not re-detected
    body = np.array([s.to_body15() for s in found])
    # Upright walker: head above neck above hips above ankles, in nearly every frame.
    order = (body[:, 0, 1] < body[:, 1, 1]) & (body[:, 1, 1] < body[:, 8, 1])
    order &= body[:, 8, 1] < np.minimum(body[:, 11, 1], body[:, 14, 1])
    assert order.mean() > 0.9


def _two_people(photo: np.ndarray, small_height: int = 420) -> np.ndarray:
    """A 960×512 frame: the astronaut full size on the right, a smaller copy on the left."""
    canvas = np.full((512, 960, 3), 90, np.uint8)
    canvas[:, 520:] = photo[:, 20:460]
    small = cv2.resize(photo[:, 20:460], (small_height * 440 // 512, small_height))
    canvas[512 - small_height :, 20 : 20 + small.shape[1]] = small
    return canvas


@needs_models
def test_largest_person_wins_wherever_it_stands(astronaut_bgr):
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

    est = BlazePoseEstimator(num_threads=2)
    frame = _two_people(astronaut_bgr)
    people = est.detector.detect(frame)
    assert len(people) == 2
    assert people[0].keypoints[0, 0] > 480  # the big one, on the right
    mirrored = est.detector.detect(cv2.flip(frame, 1))
    assert mirrored[0].keypoints[0, 0] < 480  # still the big one, now on the left
    nose_x = est.estimate(frame).keypoints[NOSE, 0]
    assert nose_x > 480
    for _ in range(3):  # tracked: the same person, no new detection
        assert est.estimate(frame).keypoints[NOSE, 0] > 480
    assert est.detector_runs == 1
    frame[:, 480:] = 90  # the big one leaves: lost (nothing this frame, as MediaPipe) ...
    assert est.estimate(frame) is None
    assert est.estimate(frame).keypoints[NOSE, 0] < 480  # ... re-detected: the other one
    assert est.detector_runs == 2


def test_auto_backend_finds_a_vitpose_checkpoint_without_importing_torch(tmp_path):
    code = (
        "import sys; from pathlib import Path;"
        "from relsar_core.pose.factory import resolve_backend, find_vitpose_weights;"
        "assert resolve_backend('auto') == 'blazepose';"
        "d = Path(sys.argv[1]) / 'vitpose'; d.mkdir(); (d / 'vitpose-b-coco_25.pth').write_bytes(b'x');"
        "(d / 'vitpose-s-coco.pth').write_bytes(b'x');"
        "assert find_vitpose_weights().name == 'vitpose-s-coco.pth';"
        "assert resolve_backend('auto') == 'vitpose';"
        "assert 'torch' not in sys.modules"
    )
    env = {**os.environ, "RELSAR_MODELS_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env)
