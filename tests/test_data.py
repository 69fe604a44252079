"""Configs, data sets, splits and augmentations."""

import numpy as np
import pytest
import tensorflow as tf

from relsar_core.config import AugmentConfig, RunConfig, load_config
from relsar_core.data.datasets import (
    class_weights,
    cross_view_split,
    load_clip_folder,
    load_splits,
    load_upstream_npy,
    nwucla_view,
    split_clips,
)
from relsar_core.errors import ClipError, ConfigError, DataError
from relsar_core.skeleton.clip import Clip, save_clip
from relsar_core.skeleton.features import clip_features
from relsar_core.skeleton.layouts import LAYOUTS
from relsar_core.skeleton.synthetic import make_toy_dataset, toy_clip
from relsar_core.train.augment import augment


def test_shipped_configs_load():
    for name in ("supervised", "tiny"):
        assert isinstance(load_config(name), RunConfig)


@pytest.mark.parametrize(
    "text, message",
    [
        ("train:\n  epohcs: 3\n", "unknown key 'train.epohcs'"),
        ("train:\n  epochs: many\n", "'train.epochs'"),
        ("modle:\n  size: base\n", "unknown key 'modle'"),
        ("model:\n  size: huge\n", "'model.size'"),
        ("- a\n- b\n", "mapping"),
    ],
)
def test_config_typos_and_wrong_types_are_errors(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_folder_data_set_and_clip_level_split(toy_data):
    data = load_clip_folder(toy_data, window=30, stride=5)
    assert data.class_names == ["arms_up", "jump", "squat", "still", "wave"]
    assert data.windows.shape == (60 * 7, 30, 60)
    train, val, test = split_clips(data.clip_labels, 0.15, 0.15, seed=1)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert len(train) + len(val) + len(test) == 60
    for idx in (train, val, test):  # stratified: every class on every side
        assert set(data.clip_labels[idx]) == set(range(5))
    again = split_clips(data.clip_labels, 0.15, 0.15, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    sub = data.subset(test)
    assert set(sub.clip_ids) == set(test)


def test_separate_test_folder(toy_data, tmp_path):
    held_out = make_toy_dataset(
        tmp_path / "held", classes=("jump", "wave"), clips_per_class=2, seed=9
    )
    splits = load_splits(toy_data, 30, 5, 0.2, 0.2, 0, test_data=held_out)
    assert splits.test.class_names == splits.train.class_names
    assert set(splits.test.labels) == {1, 4}
    assert len(splits.train) + len(splits.val) == 420


def test_data_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_clip_folder(tmp_path / "nope")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DataError, match="empty_class: class folder has no .npz clips"):
        load_clip_folder(tmp_path)
    short = tmp_path / "short"
    save_clip(short / "walk" / "a.npz", Clip(toy_clip("still", 12, np.random.default_rng(0))))
    with pytest.raises(ClipError, match=r"a\.npz: 12 frames is too short for one window of 30"):
        load_clip_folder(short)


def test_upstream_npy_blocks(tmp_path):
    rng = np.random.default_rng(0)
    body15_in_coco25 = [0, 5, 7, 9, 11, 6, 8, 10, 14, 13, 16, 18, 12, 15, 17]
    clips = {"carry": toy_clip("wave", 95, rng), "walk": toy_clip("jump", 95, rng)}
    for name, frames in clips.items():
        coco25 = np.zeros((95, 25, 3), np.float32)
        coco25[:, body15_in_coco25] = frames
        np.save(tmp_path / f"{name}.npy", coco25)
    data = load_upstream_npy(tmp_path, layout="coco25")
    assert data.class_names == ["carry", "walk"]
    assert data.windows.shape == (6, 30, 60)  # 3 full blocks of 30 frames per class
    np.testing.assert_array_equal(data.labels, [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(
        data.windows[4], clip_features(clips["walk"][30:60], 30, 30)[0], atol=1e-6
    )
    # With context windows (the speed augmentation's source): one per block, from its video.
    wide = load_upstream_npy(tmp_path, layout="coco25", source_frames=36)
    np.testing.assert_array_equal(wide.windows, data.windows)
    assert wide.sources.shape == (6, 36, 60)
    np.testing.assert_allclose(
        wide.sources[4], clip_features(clips["walk"][27:63], 36, 36)[0], atol=1e-6
    )


def test_upstream_npy_blocks_of_one_video_stay_in_one_clip_and_one_fold(tmp_path):
    rng = np.random.default_rng(1)
    for cls, motion in (("jump", "jump"), ("wave", "wave")):
        videos = []
        for v in range(6):  # 6 videos of 90 frames (3 blocks each), far apart in the image
            clip = toy_clip(motion, 90, rng)
            clip[..., 0] += 150.0 * (v % 3)
            clip[..., 1] += 120.0 * (v // 3)
            videos.append(clip)
        np.save(tmp_path / f"{cls}.npy", np.concatenate(videos))
    data = load_upstream_npy(tmp_path)
    assert data.windows.shape == (36, 30, 60)
    assert len(data.clip_paths) == 12  # one clip per video, not one per 30-frame block
    np.testing.assert_array_equal(np.bincount(data.clip_ids), [3] * 12)
    train, val, test = split_clips(data.clip_labels, 0.2, 0.2, seed=0)
    parts = [np.isin(data.clip_ids, ids) for ids in (train, val, test)]
    for block in range(0, 36, 3):  # a video's three consecutive blocks share one split
        assert sum(part[block : block + 3].all() for part in parts) == 1


def test_nwucla_cross_view(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("carry", "throw"):
        for view in (1, 2, 3):
            save_clip(
                tmp_path / cls / f"a01_s0{view}_e00_v0{view}.npz", Clip(toy_clip("wave", 40, rng))
            )
    data = load_clip_folder(tmp_path, 30, 10)
    assert nwucla_view("x/a10_s03_e01_v03.npz") == 3
    train, test = cross_view_split(data)
    assert sorted(nwucla_view(data.clip_paths[i]) for i in train) == [1, 1, 2, 2]
    assert [nwucla_view(data.clip_paths[i]) for i in test] == [3, 3]
    with pytest.raises(DataError, match="no NW-UCLA view"):
        nwucla_view("clip.npz")


def test_class_weights_balance():
    w = class_weights(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(w, [4 / 9, 4 / 3, 0.0], rtol=1e-6)


def test_augment_off_is_identity_and_flip_swaps_joints():
    x = clip_features(toy_clip("wave", 60, np.random.default_rng(1)), 30, 10)
    off = AugmentConfig(flip=0, rotation=0, scale=0, noise=0, speed=0)
    np.testing.assert_allclose(augment(tf.constant(x), off).numpy(), x, atol=1e-6)
    flipped = augment(tf.constant(x), off.model_copy(update={"flip": 1.0})).numpy()
    ref = x.reshape(-1, 30, 15, 4)[:, :, LAYOUTS["body15"].flip_permutation].copy()
    ref[..., [0, 2]] *= -1
    np.testing.assert_allclose(flipped, ref.reshape(x.shape), atol=1e-6)


def test_augmented_velocities_match_positions():
    x = clip_features(toy_clip("squat", 60, np.random.default_rng(2)), 30, 10)
    cfg = AugmentConfig(rotation=30, scale=0.2, shear=0.2, noise=0.05, speed=0.3, crop=0.3)
    y = augment(tf.constant(x), cfg).numpy().reshape(-1, 30, 15, 4)
    assert y.shape == (x.shape[0], 30, 15, 4) and np.isfinite(y).all()
    np.testing.assert_allclose(y[:, 1:, :, 2:], np.diff(y[:, :, :, :2], axis=1), atol=1e-5)
    assert np.abs(y[..., :2] - x.reshape(y.shape)[..., :2]).mean() > 0.01


def test_speed_augmentation_speeds_up_from_longer_source_windows():
    from relsar_core.train.augment import source_window

    window, speed = 30, 0.5
    source = source_window(window, speed)
    assert source == 45  # 29 × 1.5 = 43.5 → 44 more frames of source, plus the first
    # x of every joint = the source frame index: a view's x range is the source span it plays.
    ramp = np.zeros((256, source, 15, 4), np.float32)
    ramp[..., 0] = np.arange(source, dtype=np.float32)[None, :, None]
    features = tf.constant(ramp.reshape(256, source, 60))
    only_speed = AugmentConfig(
        flip=0, rotation=0, scale=0, shear=0, noise=0, speed=speed, crop=0, joint_mask=0
    )
    views = augment(features, only_speed, out_steps=window).numpy().reshape(256, window, 15, 4)
    assert views.shape[1] == window
    spans = views[:, -1, 0, 0] - views[:, 0, 0, 0]  # source frames covered by each view
    rates = spans / (window - 1)
    assert rates.min() >= 1 - speed - 1e-4 and rates.max() <= 1 + speed + 1e-4
    assert (rates > 1.2).mean() > 0.2  # speed-ups happen (clamped to 1 without a longer source)
    assert (rates < 0.8).mean() > 0.2
    np.testing.assert_allclose(views[:, 2, 0, 2], views[:, 2, 0, 0] - views[:, 1, 0, 0], atol=1e-4)
