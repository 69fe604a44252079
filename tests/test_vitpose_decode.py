"""Top-down geometry and heatmap decoding: synthetic heatmaps with known sub-pixel peaks."""

from __future__ import annotations

import numpy as np
import pytest

from relsar_core.pose.vitpose.heatmaps import argmax_2d, decode_heatmaps
from relsar_core.pose.vitpose.topdown import (
    crop_box,
    crop_matrix,
    heatmap_to_image,
    image_to_heatmap,
    preprocess,
)

HM = (64, 48)  # heatmap (rows, cols)


def gaussian_maps(
    centres: np.ndarray, sigma: float = 2.0, size=HM, peak: float = 0.9
) -> np.ndarray:
    """(K, H, W) Gaussian heatmaps, as ViTPose is trained to produce, peaking at `centres` (x, y)."""
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
    dx = xs[None] - centres[:, 0, None, None]
    dy = ys[None] - centres[:, 1, None, None]
    return (peak * np.exp(-(dx**2 + dy**2) / (2 * sigma**2))).astype(np.float32)


def test_dark_recovers_subpixel_peaks_far_better_than_argmax():
    rng = np.random.default_rng(0)
    # Inside the 1.25-padded crop a person keeps ≥ 6 heatmap pixels from the border.
    centres = np.stack([rng.uniform(6, 41, 200), rng.uniform(6, 57, 200)], axis=1).astype(
        np.float32
    )
    maps = gaussian_maps(centres)
    coarse, _ = argmax_2d(maps)
    refined, conf = decode_heatmaps(maps)
    err_argmax = np.abs(coarse - centres).max()
    err_dark = np.abs(refined - centres).max()
    assert err_argmax > 0.4  # the integer grid alone is off by up to half a pixel
    assert err_dark < 0.02, err_dark
    # Confidence is the heatmap's highest sample: at most the peak, a little below off-grid.
    assert (conf <= 0.9 + 1e-6).all() and (conf > 0.8).all()


def test_dark_stays_within_half_a_pixel_at_the_border():
    # The blur sees a truncated Gaussian at the edge, so DARK is biased in the outermost pixels
    # (as in mmpose); it must stay bounded there and exact a few pixels in.
    centres = np.array(
        [[1.3, 30.2], [46.6, 10.4], [20.2, 0.7], [24.5, 62.8], [0.2, 5.5]], np.float32
    )
    refined, _ = decode_heatmaps(gaussian_maps(centres))
    assert np.abs(refined - centres).max() <= 0.75
    centres = np.array([[4.3, 30.2], [43.6, 10.4], [20.2, 4.7], [24.5, 59.2]], np.float32)
    refined, _ = decode_heatmaps(gaussian_maps(centres))
    assert np.abs(refined - centres).max() <= 0.05


def test_decoding_handles_batches_flat_maps_and_negative_heatmaps():
    centres = np.array([[10.3, 20.7], [30.5, 5.25]], np.float32)
    maps = np.stack([gaussian_maps(centres), gaussian_maps(centres[::-1])])  # (2, 2, H, W)
    coords, conf = decode_heatmaps(maps)
    assert coords.shape == (2, 2, 2) and conf.shape == (2, 2)
    assert np.abs(coords[1] - centres[::-1]).max() < 0.02
    flat = np.full((1, *HM), -0.2, np.float32)  # nobody: flat, below zero
    coords, conf = decode_heatmaps(flat)
    assert np.isfinite(coords).all() and conf[0] == 0.0
    assert np.array_equal(coords[0], [0, 0])  # no Newton step off a flat map


def test_crop_box_is_3_to_4_padded_and_contains_the_box():
    for box in [(100, 50, 180, 350), (0, 0, 400, 100), (10, 10, 11, 11)]:
        crop = crop_box(box, padding=1.25)
        assert crop.width / crop.height == pytest.approx(0.75)
        assert crop.width >= 1.25 * (box[2] - box[0]) - 1e-6
        assert crop.height >= 1.25 * (box[3] - box[1]) - 1e-6
        assert (crop.cx, crop.cy) == ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def test_preprocess_places_image_points_where_the_crop_matrix_says():
    # float frame: a uint8 one would round the bilinear splat the centroid check measures
    frame = np.zeros((480, 640, 3), np.float32)
    frame[300, 200] = (0, 0, 255)  # one red pixel (BGR) at x=200, y=300
    crop = crop_box((150, 120, 330, 460))
    pixels = preprocess(frame, crop)
    assert pixels.shape == (3, 256, 192) and pixels.dtype == np.float32
    # Channel 0 is red after BGR → RGB; ImageNet-normalised black is −mean/std.
    assert pixels[0].min() == pytest.approx(-0.485 / 0.229, abs=1e-4)
    red = pixels[0] - pixels[0].min()
    y, x = np.unravel_index(red.argmax(), red.shape)
    expect = crop_matrix(crop) @ np.array([200, 300, 1.0])
    assert abs(x - expect[0]) <= 0.5 and abs(y - expect[1]) <= 0.5
    # Sub-pixel: the centroid of a smooth blob lands exactly where the matrix maps its centre.
    ys, xs = np.mgrid[0:480, 0:640].astype(np.float32)
    blob = 255 * np.exp(-((xs - 210.3) ** 2 + (ys - 290.6) ** 2) / (2 * 8.0**2))
    pixels = preprocess(np.repeat(blob[..., None], 3, axis=2), crop)
    weight = pixels[1] - pixels[1].min()
    ys, xs = np.mgrid[0:256, 0:192]
    centroid = [(weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()]
    assert np.allclose(centroid, crop_matrix(crop) @ np.array([210.3, 290.6, 1.0]), atol=0.02)


def test_image_heatmap_image_round_trip_through_decoding():
    crop = crop_box((220.0, 80.0, 410.0, 470.0))
    joints = np.array([[300.2, 120.7], [260.9, 300.1], [390.4, 440.6]], np.float32)
    on_map = image_to_heatmap(joints, crop, HM)
    assert np.allclose(heatmap_to_image(on_map, crop, HM), joints, atol=1e-3)
    coords, _ = decode_heatmaps(gaussian_maps(on_map))
    back = heatmap_to_image(coords, crop, HM)
    # 0.02 heatmap pixels ≈ 0.02 × crop/47 image pixels: well under a pixel at this size.
    assert np.abs(back - joints).max() < 0.25


def test_bench_pck_and_jittered_boxes():
    from relsar_core.bench.vitpose import jittered_boxes, pck

    box = (100.0, 50.0, 300.0, 450.0)  # longer side 400 → PCK@0.05 radius 20 px
    a = np.zeros((4, 3), np.float32)
    b = a.copy()
    b[1, 0], b[2, :2], b[3, 1] = 19.9, (15.0, 15.0), 40.0
    assert pck(a, b, box).tolist() == [True, True, False, False]
    boxes = jittered_boxes(box, 5)
    assert boxes[0] == box and len(boxes) == 5 and len(set(boxes)) == 5
    for x0, y0, x1, y1 in boxes:
        assert 0.89 * 200 <= x1 - x0 <= 1.11 * 200 and abs((x0 + x1) / 2 - 200) <= 20.01
        assert 0.89 * 400 <= y1 - y0 <= 1.11 * 400 and abs((y0 + y1) / 2 - 250) <= 40.01
