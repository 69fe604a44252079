"""BlazePose maths without the models: anchors, SSD decoding + weighted NMS, ROI maths,
heatmap refinement, MediaPipe's ROI tracking from the golden fixture."""

from __future__ import annotations

import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

from relsar_core.pose.blazepose.anchors import ssd_anchor_centers
from relsar_core.pose.blazepose.landmarks import refine_with_heatmap
from relsar_core.pose.blazepose.ssd_decode import RawDetections, decode_ssd, weighted_nms
from relsar_core.pose.roi import (
    Roi,
    box_from_keypoints,
    crop_roi,
    project_from_crop,
    roi_from_alignment,
)


def test_anchor_grid_matches_pose_detector():
    anchors = ssd_anchor_centers()
    assert anchors.shape == (2254, 2)  # = the model's output count
    # stride 8: 28×28 cells × 2 anchors; first cell centre at half a cell.
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])
    # stride 16 starts after 28*28*2; the three stride-32 layers share a 7×7 grid, 6 per cell.
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(anchors[-6:], np.full((6, 2), 6.5 / 7))


def test_decode_ssd_places_boxes_and_keypoints_relative_to_anchors():
    anchors = np.array([[0.25, 0.25], [0.75, 0.5]], np.float32)
    raw = np.zeros((2, 8), np.float32)
    raw[0] = [22.4, 0, 44.8, 22.4, 0, -22.4, 0, 0]  # in 224-pixel units
    raw[1] = [0, 0, 10, 10, 0, 0, 0, 0]
    scores = np.array([[3.0], [-3.0]], np.float32)  # sigmoid 0.95 and 0.05
    dets = decode_ssd(raw, scores, anchors, 224, num_keypoints=2, min_score=0.5)
    assert len(dets) == 1
    np.testing.assert_allclose(dets.boxes[0], [0.25, 0.2, 0.45, 0.3], atol=1e-6)
    np.testing.assert_allclose(dets.keypoints[0], [[0.25, 0.15], [0.25, 0.25]], atol=1e-6)
    assert dets.scores[0] == pytest.approx(1 / (1 + math.exp(-3)))


def test_weighted_nms_merges_overlaps_and_keeps_separate_people():
    boxes = np.array(
        [[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]], np.float32
    )
    kps = np.stack([boxes[:, :2], boxes[:, 2:]], axis=1)
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    out = weighted_nms(RawDetections(boxes, kps, scores), iou_threshold=0.3)
    assert len(out) == 2
    np.testing.assert_allclose(out.scores, [0.9, 0.7])
    merged_x0 = (0.1 * 0.9 + 0.12 * 0.6) / 1.5  # score-weighted mean
    assert out.boxes[0, 0] == pytest.approx(merged_x0)
    np.testing.assert_allclose(out.boxes[1], boxes[2])
    assert len(weighted_nms(RawDetections(boxes[:0], kps[:0], scores[:0]))) == 0


def test_roi_from_alignment_rotation_and_size():
    up = roi_from_alignment(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert up.rotation == pytest.approx(0.0)
    assert up.size == pytest.approx(2 * 80 * 1.25)
    # "Up" pointing to +x: the person lies on their side, rotated a quarter turn clockwise.
    side = roi_from_alignment(np.array([100.0, 200.0]), np.array([180.0, 200.0]))
    assert side.rotation == pytest.approx(math.pi / 2)


@pytest.mark.parametrize("rotation", [0.0, 0.7, -2.0])
def test_crop_and_project_round_trip(rotation):
    img = np.zeros((300, 400, 3), np.uint8)
    cv2.circle(img, (250, 120), 3, (255, 255, 255), -1)  # a dot centred on pixel (250, 120)
    roi = Roi(220.0, 150.0, 160.0, rotation)
    crop = crop_roi(img, roi, 128)
    ys, xs = np.nonzero(crop[..., 0] > 100)
    weights = crop[ys, xs, 0].astype(float)
    found = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
    back = project_from_crop(found, roi, 128)
    # MediaPipe's convention: pixel (250, 120) is at (250, 120), in the crop as in the image.
    np.testing.assert_allclose(back, [250.0, 120.0], atol=0.35)


def test_box_from_keypoints():
    kp = np.array([[10, 20, 0.9], [50, 100, 0.8], [300, 5, 0.1]], np.float32)
    box = box_from_keypoints(kp, (200, 120), min_confidence=0.3, margin=0.25)
    pad = 0.25 * 80  # the larger side (height 80)
    assert box == pytest.approx((0.0, 0.0, 50 + pad, 100 + pad))
    assert box_from_keypoints(kp, (200, 120), min_confidence=0.85) is None  # only one good joint
    assert box_from_keypoints(np.zeros((15, 3)), (200, 120)) is None


def test_heatmap_refinement_moves_to_the_confident_peak_only():
    hm = np.full((64, 64, 2), -10.0, np.float32)
    hm[30, 40, 0] = 10.0  # a confident peak one cell right of landmark 0's guess
    hm[10, 10, 1] = -1.0  # landmark 1: weak heatmap, below the 0.5 refinement bar
    xy = np.array([[39.2 / 64, 30.4 / 64], [10.5 / 64, 10.5 / 64]], np.float32)
    out, peak = refine_with_heatmap(xy, hm)
    assert out[0] == pytest.approx([40 / 64, 30 / 64], abs=1e-3)
    np.testing.assert_allclose(out[1], xy[1])
    assert peak[0] > 0.99 and peak[1] < 0.5


def test_heatmap_refinement_follows_mediapipes_edges():
    """MediaPipe truncates the cell index toward zero and checks the row against the width: a
    point just left of the heatmap counts as column 0, one just below it is still refined from
    the rows its window reaches, one far below is left alone."""
    hm = np.full((64, 64, 3), -30.0, np.float32)
    hm[20, 0, 0] = 10.0
    hm[62, 30, 1] = 10.0
    xy = np.array([[-0.005, 20.5 / 64], [30.2 / 64, 65.5 / 64], [0.5, 1.5]], np.float32)
    out, peak = refine_with_heatmap(xy, hm)
    np.testing.assert_allclose(out[0], [0.0, 20 / 64], atol=1e-6)  # floor() would skip it
    np.testing.assert_allclose(out[1], [30 / 64, 62 / 64], atol=1e-6)
    np.testing.assert_array_equal(out[2], xy[2])
    assert peak[2] == 1.0  # no window: no evidence against the point


def test_roi_tracking_reproduces_mediapipe_from_the_fixture_alone():
    """MediaPipe's own auxiliary landmarks in, its next-frame ROIs out, to the bit: the One Euro
    filter (double steps, float state, the solutions' 33333 us frames) and the rect maths. Needs
    only the committed fixture, no model or video."""
    from relsar_core.bench.pose_reference import FIXTURE, rect_of
    from relsar_core.pose.blazepose.mediapipe_math import FRAME_NS, RoiTracker

    with np.load(FIXTURE) as f:
        aux, nxt = f["video_aux"], f["video_next_roi"]
    size, tracker, checked = (640, 480), RoiTracker(), 0
    for t in range(len(aux)):
        if not np.isfinite(aux[t, 0, 0]):
            tracker.reset()
            continue
        ours = tracker((aux[t] / size).astype(np.float32), size, (t + 1) * FRAME_NS)
        assert ours == rect_of(nxt[t], size), t
        checked += 1
    assert checked >= 100


def test_normalized_rect_padding_and_crop_square():
    """A square ROI in pixels is rarely square in float32 fractions of a 640×480 image: PadRoi
    then letterboxes by a hair and crops the longer side, as MediaPipe does."""
    from relsar_core.pose.blazepose.mediapipe_math import F32, NormRect

    side = F32(160.36)  # one such side
    rect = NormRect(F32(0.5), F32(0.5), side / F32(640), side / F32(480), F32(0.3), (640, 480))
    w, h = rect.pixel_size()
    hpad, vpad = rect.padding()
    assert w != h and (hpad == 0) != (vpad == 0) and max(hpad, vpad) < 1e-6
    assert rect.roi().size == float(max(w, h))


def test_pose_modules_do_not_import_tensorflow_or_torch():
    code = (
        "import sys, relsar_core.pose.blazepose.estimator, relsar_core.pose.factory;"
        "bad = [m for m in ('tensorflow', 'torch') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
