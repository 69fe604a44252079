"""The descriptors' `turn` block (which way the body turns about the vertical) and reading
base-class centroids of the head space before it (issue #15)."""

from __future__ import annotations

import base64

import numpy as np

from relsar_core.runtime.fewshot_head import (
    HEAD_SPACE,
    PREVIOUS_SPACE,
    base_centroids,
    read_base_centroids,
    unit,
)
from relsar_core.skeleton.descriptors import DESCRIPTOR_DIM, TURN_DIM, pose_descriptors
from relsar_core.skeleton.features import clip_features
from relsar_core.skeleton.layouts import get_layout

# A standing body in 3-D (x right, y down, z towards the camera), body15, in torso lengths.
BODY = np.array(
    [
        (0.0, -1.3, 0.15),  # nose: in front of the neck
        (0.0, -1.0, 0.0),  # neck
        (-0.25, -1.0, 0.0),  # r_shoulder (the person's right: image left when facing us)
        (-0.3, -0.6, 0.0),
        (-0.3, -0.2, 0.0),
        (0.25, -1.0, 0.0),  # l_shoulder
        (0.3, -0.6, 0.0),
        (0.3, -0.2, 0.0),
        (0.0, 0.0, 0.0),  # mid_hip
        (-0.15, 0.0, 0.0),
        (-0.15, 0.5, 0.0),
        (-0.15, 1.0, 0.0),
        (0.15, 0.0, 0.0),
        (0.15, 0.5, 0.0),
        (0.15, 1.0, 0.0),
    ]
)


def _turning(degrees_per_frame: float, frames: int = 40) -> np.ndarray:
    """Keypoints (frames, 15, 3) of BODY turning about the vertical, seen from the front."""
    out = []
    for a in np.radians(degrees_per_frame * np.arange(frames)):
        c, s = np.cos(a), np.sin(a)
        x = c * BODY[:, 0] + s * BODY[:, 2]
        out.append(np.stack([320 + 100 * x, 240 + 100 * BODY[:, 1], np.ones(15)], -1))
    return np.asarray(out, np.float32)


def _mirror(kp: np.ndarray) -> np.ndarray:
    """The mirror image: x negated, left and right joints swapped."""
    out = kp.copy()
    out[..., 0] = 640 - out[..., 0]
    for a, b in get_layout("body15").flip_pairs:
        out[..., [a, b], :] = out[..., [b, a], :]
    return out


def _turn_block(kp: np.ndarray) -> np.ndarray:
    d = pose_descriptors(clip_features(kp, 30, 5))
    assert d.shape[1] == DESCRIPTOR_DIM
    return d[:, -TURN_DIM:]


def test_the_turn_block_says_which_way_the_body_turns():
    left, right = _turning(6.0), _turning(-6.0)
    a, b = _turn_block(left), _turn_block(right)
    assert np.abs(a).min() > 0.3, a  # a turn shows in every half window
    np.testing.assert_allclose(a, -b, atol=1e-5)  # the other way round: the other sign
    np.testing.assert_allclose(_turn_block(_mirror(left)), b, atol=1e-4)  # its mirror image
    still = _turning(0.0)
    still[..., :2] += np.random.default_rng(0).normal(0, 1.0, still[..., :2].shape)  # noise
    assert np.abs(_turn_block(still)).max() < 0.1
    waving = _turning(0.0)
    waving[:, 4, 1] += 40 * np.sin(np.linspace(0, 6 * np.pi, 40))  # a hand moves, no turn
    assert np.abs(_turn_block(waving)).max() < 0.05


def test_centroids_of_the_space_before_the_turn_block_are_read_with_a_zero_turn():
    rng = np.random.default_rng(0)
    vectors = unit(rng.normal(size=(40, 8)))
    labels = np.repeat([0, 1], 20)
    meta = base_centroids(vectors, labels, ["a", "b"])
    assert meta["space"] == HEAD_SPACE
    assert read_base_centroids({"base_centroids": meta}, 8) is not None
    old = dict(meta, space=PREVIOUS_SPACE[0])
    read = read_base_centroids({"base_centroids": old}, 8 + TURN_DIM)
    assert read is not None and read[1] == meta["labels"]
    raw = np.frombuffer(base64.b64decode(meta["float16_base64"]), "<f2").reshape(meta["shape"])
    np.testing.assert_allclose(read[0][:, :8], unit(raw.astype(np.float32)), atol=1e-6)
    assert not read[0][:, 8:].any()
    assert read_base_centroids({"base_centroids": old}, 8) is None  # the wrong size: none
    assert read_base_centroids({"base_centroids": dict(meta, space="x")}, 8) is None
