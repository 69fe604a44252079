"""The descriptors' `turn` block (which way the body turns about the vertical) and reading
base-class centroids of the head space before it (issue #15)."""

from __future__ import annotations

import base64

import numpy as np

from relsar_core.runtime.fewshot_head import (
    HEAD_SPACE,
    base_centroids,
    head_vectors,
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


def test_centroids_of_earlier_head_spaces_are_read_into_this_one():
    """A centroid of the space before the turn block (descriptor weight 2, 624 values) is
    read as the window's vector in this space when it does not turn."""
    rng = np.random.default_rng(0)
    emb, desc = rng.normal(size=(3, 16)), np.abs(rng.normal(size=(3, DESCRIPTOR_DIM)))
    desc[:, -TURN_DIM:] = 0.0  # no turn
    old = unit(np.concatenate([unit(emb), 2.0 * unit(desc[:, :-TURN_DIM])], -1))
    meta = {
        "space": "embedding+pose_descriptors/2",
        "labels": ["a", "b", "c"],
        "shape": list(old.shape),
        "float16_base64": base64.b64encode(old.astype("<f2").tobytes()).decode("ascii"),
    }
    read = read_base_centroids({"base_centroids": meta}, 16 + DESCRIPTOR_DIM)
    assert read is not None and read[1] == ["a", "b", "c"]
    np.testing.assert_allclose(read[0], head_vectors(emb, desc), atol=2e-3)  # float16
    assert read_base_centroids({"base_centroids": meta}, 16) is None  # the wrong size: none
    this = base_centroids(head_vectors(emb, desc), np.arange(3), ["a", "b", "c"])
    assert this["space"] == HEAD_SPACE
    np.testing.assert_allclose(
        read_base_centroids({"base_centroids": this}, 16 + DESCRIPTOR_DIM)[0],
        head_vectors(emb, desc),
        atol=2e-3,
    )
    assert read_base_centroids({"base_centroids": dict(this, space="x")}, 16) is None
