"""The several-people BlazePose speed paths change no result: the mask-free landmark model gives
the fetched model's outputs bit for bit, landmarks run side by side equal those run one by one,
and the estimator with parallel workers and the mask-free model returns exactly what the serial
estimator on the fetched model returns, on real frames of the sample video."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from relsar_core.pose.model_store import BLAZEPOSE, SAMPLE_VIDEO, bundle_dir, missing_files

pytestmark = pytest.mark.skipif(
    bool(
        missing_files(BLAZEPOSE, check_hash=False) or missing_files(SAMPLE_VIDEO, check_hash=False)
    ),
    reason="BlazePose models or sample video not fetched: run `make models`",
)


@pytest.fixture(scope="module")
def two_people() -> np.ndarray:
    from relsar_core.pose.sample_media import full_body_photo_path

    photo = cv2.imread(str(full_body_photo_path()))
    pair = np.hstack([photo, cv2.flip(photo, 1)])
    return np.vstack([pair, np.zeros_like(pair)])


@pytest.fixture(scope="module")
def rois(two_people):
    from relsar_core.pose.blazepose.estimator import BlazePoseDetector
    from relsar_core.pose.roi import Roi

    found = [d.roi() for d in BlazePoseDetector(num_threads=1, min_score=0.3).detect(two_people)]
    assert len(found) == 2
    a = found[0]
    return [*found, Roi(a.cx + 15, a.cy - 10, a.size * 0.9, a.rotation + 0.1)]


def _outputs(path, image):
    from relsar_core.pose.litert import open_interpreter

    interpreter = open_interpreter(path, 1)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    return {
        tuple(d["shape"]): interpreter.get_tensor(d["index"])
        for d in interpreter.get_output_details()
    }


def test_mask_free_copy_has_the_same_outputs_without_the_mask(tmp_path, two_people, rois):
    from relsar_core.pose.blazepose.derived import SEGMENTATION_SHAPE, landmark_model
    from relsar_core.pose.blazepose.landmarks import INPUT_SIZE, BlazePoseLandmarker
    from relsar_core.pose.roi import crop_roi

    source = tmp_path / "pose_landmark_full.tflite"
    shutil.copy(bundle_dir(BLAZEPOSE) / source.name, source)
    derived = landmark_model(source)
    assert derived != source and derived.parent == tmp_path / "derived"
    assert derived.stat().st_size < source.stat().st_size * 2.5  # mask weights gone
    # A real person's crop, every output compared bit for bit; the mask is the one output gone.
    crop = crop_roi(two_people, rois[0], INPUT_SIZE)
    image = (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255)[None]
    want, got = _outputs(source, image), _outputs(derived, image)
    assert set(want) - set(got) == {SEGMENTATION_SHAPE}
    for shape, value in got.items():
        np.testing.assert_array_equal(value, want[shape])
    a = BlazePoseLandmarker(str(source), 1).run(two_people, rois[1])
    b = BlazePoseLandmarker(str(derived), 1).run(two_people, rois[1])
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    assert a.presence == b.presence > 0.5
    made = derived.stat().st_mtime_ns
    assert landmark_model(source) == derived and derived.stat().st_mtime_ns == made  # kept


def test_a_model_without_a_mask_is_used_as_it_is(tmp_path):
    from relsar_core.pose.blazepose.derived import landmark_model

    source = tmp_path / "pose_landmark_full.tflite"  # the detector: no mask output to drop
    shutil.copy(bundle_dir(BLAZEPOSE) / "pose_detection.tflite", source)
    assert landmark_model(source) == source
    assert not (tmp_path / "derived").exists()


def test_landmarks_side_by_side_equal_one_by_one(two_people, rois):
    from relsar_core.pose.blazepose.landmark_pool import LandmarkPool
    from relsar_core.pose.blazepose.landmarks import BlazePoseLandmarker

    path = str(bundle_dir(BLAZEPOSE) / "pose_landmark_full.tflite")
    pool = LandmarkPool(path, workers=2)  # 3 ROIs on 2 workers: one runs two in a row
    serial = BlazePoseLandmarker(path, 2)  # also: one thread each gives what two threads give
    for round_ in range(3):
        # Round 1 on: one more job (as the detector when it is due) runs beside the ROIs.
        first = (lambda: "detections") if round_ else None
        side_by_side, extra = pool.run(two_people, rois, first)
        assert extra == ("detections" if round_ else None)
        assert pool.helper_cpu_s > 0  # the second worker ran landmarks (the bench reads this)
        assert len(side_by_side) == len(rois)
        for roi, got in zip(rois, side_by_side, strict=True):
            want = serial.run(two_people, roi)
            np.testing.assert_array_equal(got.keypoints, want.keypoints)
            np.testing.assert_array_equal(got.alignment, want.alignment)
            assert got.presence == want.presence
    # Different people give different results: the order is the ROIs' order, not a worker's.
    assert not np.allclose(side_by_side[0].keypoints, side_by_side[1].keypoints)
    pool.close()


def test_parallel_mask_free_estimator_equals_the_serial_one_on_real_frames(two_people):
    from relsar_core.bench.pose import load_sample_frames
    from relsar_core.pose.blazepose.people import MultiPersonBlazePose

    frames = load_sample_frames(40)[0] + [two_people] * 3
    fast = MultiPersonBlazePose(num_threads=1, workers=2, detect_every=4)
    plain = MultiPersonBlazePose(num_threads=1, workers=1, mask_free=False, detect_every=4)
    assert fast.pool.workers == 2 and fast.landmark_path.parent.name == "derived"
    seen = 0
    for frame in frames:
        a, b = fast.estimate_people(frame), plain.estimate_people(frame)
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x.keypoints, y.keypoints)
        seen += len(a)
    assert seen >= len(frames)  # people were found (at least one a frame on average)
    assert fast.landmark_runs == plain.landmark_runs and fast.detector_runs == plain.detector_runs
    fast.close()
    plain.close()
