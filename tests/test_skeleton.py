"""Layouts, converters and clip files."""

import numpy as np
import pytest

from relsar_core.errors import ClipError
from relsar_core.skeleton.clip import Clip, load_clip, save_clip
from relsar_core.skeleton.layouts import LAYOUTS, to_body15


def _random_keypoints(joints, frames=4, seed=0):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0, 100, (frames, joints, 3)).astype(np.float32)
    kp[..., 2] = rng.uniform(0.1, 1, (frames, joints))
    return kp


def test_coco17_midpoints_and_min_confidence():
    kp = _random_keypoints(17)
    out = to_body15(kp, "coco17")
    assert out.shape == (4, 15, 3)
    np.testing.assert_allclose(out[:, 1, :2], (kp[:, 5, :2] + kp[:, 6, :2]) / 2)  # neck
    np.testing.assert_allclose(out[:, 1, 2], np.minimum(kp[:, 5, 2], kp[:, 6, 2]))
    np.testing.assert_allclose(out[:, 8, :2], (kp[:, 11, :2] + kp[:, 12, :2]) / 2)  # mid-hip
    np.testing.assert_array_equal(out[:, 2], kp[:, 6])  # r_shoulder = COCO right shoulder
    np.testing.assert_array_equal(out[:, 14], kp[:, 15])  # l_ankle


@pytest.mark.parametrize(
    "layout, source_index",
    [
        ("coco25", {1: 5, 2: 7, 5: 6, 8: 14, 11: 18, 14: 17}),
        ("body25", {i: i for i in range(15)}),
        ("blazepose33", {0: 0, 2: 12, 5: 11, 4: 16, 11: 28, 14: 27}),
    ],
)
def test_single_joint_mappings(layout, source_index):
    kp = _random_keypoints(LAYOUTS[layout].num_joints)
    out = to_body15(kp, layout)
    for target, source in source_index.items():
        np.testing.assert_array_equal(out[:, target], kp[:, source])


def test_flip_pairs_are_left_right_and_an_involution():
    for layout in LAYOUTS.values():
        perm = layout.flip_permutation
        np.testing.assert_array_equal(perm[perm], np.arange(layout.num_joints))
    names = (
        "nose",
        "neck",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "mid_hip",
        "r_hip",
        "r_knee",
        "r_ankle",
        "l_hip",
        "l_knee",
        "l_ankle",
    )
    for a, b in LAYOUTS["body15"].flip_pairs:
        assert names[a].replace("r_", "l_") == names[b]


def test_clip_round_trip(tmp_path):
    clip = Clip(_random_keypoints(17, frames=40), "coco17", 25.0, (1280, 720), "wave")
    save_clip(tmp_path / "a" / "c.npz", clip)
    back = load_clip(tmp_path / "a" / "c.npz")
    np.testing.assert_array_equal(back.keypoints, clip.keypoints)
    assert (back.layout, back.fps, back.image_size, back.label) == (
        "coco17",
        25.0,
        (1280, 720),
        "wave",
    )
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["c.npz"]  # no temp file left behind


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"keypoints": np.zeros((10, 15, 2), np.float32)}, "shape"),
        ({"keypoints": np.full((10, 15, 3), np.nan, np.float32)}, "NaN"),
        (
            {"keypoints": np.zeros((10, 15, 3), np.float32), "layout": "openpose99"},
            "unknown layout",
        ),
        ({"keypoints": np.ones((10, 15, 3), np.float32) * 2}, "confidences"),
        ({"points": np.zeros((10, 15, 3), np.float32)}, "missing 'keypoints'"),
        ({"keypoints": np.zeros((10, 17, 3), np.float32), "layout": "body15"}, "shape"),
    ],
)
def test_bad_clips_give_one_clear_error_naming_the_file(tmp_path, arrays, message):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ClipError, match=message) as err:
        load_clip(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_not_an_npz_and_pickles_are_refused_and_told_apart(tmp_path):
    import pickle

    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file")
    pickle_file = tmp_path / "pickle.npz"
    pickle_file.write_bytes(pickle.dumps({"keypoints": [1, 2]}))
    objects = tmp_path / "obj.npz"
    np.savez(objects, keypoints=np.array([{"a": 1}], dtype=object))
    # numpy calls all three "pickled" and advises loading them unsafely; the user is told
    # what the file is, in one line, and never advised to load it unsafely.
    for path, reason in (
        (junk, "not a NumPy .npy/.npz file"),
        (pickle_file, "it is a Python pickle, which is never loaded"),
        (objects, "it holds Python object arrays, which are never loaded"),
    ):
        with pytest.raises(ClipError) as err:
            load_clip(path)
        text = str(err.value)
        assert text.startswith(f"{path}: not a readable .npz clip") and reason in text, text
        assert "\n" not in text and "allow_pickle" not in text and "unsafely" not in text
    with pytest.raises(ClipError, match="no such clip"):
        load_clip(tmp_path / "missing.npz")


def test_a_broken_upstream_array_or_taught_file_is_named_in_one_line(tmp_path):
    from relsar_core.data.datasets import upstream_clips
    from relsar_core.errors import DataError, ModelFileError
    from relsar_core.runtime.fewshot import load_taught, taught_path

    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "wave.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError) as err:
        upstream_clips(tmp_path / "up")
    assert str(err.value) == (
        f"{tmp_path / 'up' / 'wave.npy'}: not a readable .npy array (not a NumPy .npy/.npz file)"
    )
    model = tmp_path / "m.tflite"
    model.write_bytes(b"model")
    taught_path(model).write_bytes(b"garbage")
    with pytest.raises(ModelFileError) as err:
        load_taught(model)
    assert str(err.value) == (
        f"{taught_path(model)}: not a readable taught-actions file (not a NumPy .npy/.npz file)"
    )


def test_saved_files_get_normal_permissions(tmp_path):
    import os

    save_clip(tmp_path / "c.npz", Clip(_random_keypoints(15, frames=2)))
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o666 & ~mask
