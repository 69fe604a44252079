"""The webcam data set: keyframed motion through the humanoid's kinematics, framings, the honest
split (no test window near a training window or its mirror image) and missing hips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relsar_core.data.datasets import load_clip_folder
from relsar_core.data.mocap.leak import nearest_distances
from relsar_core.data.mocap.webcam_rigs import in_test_view, sample_azimuth
from relsar_core.skeleton.clip import load_clip
from relsar_core.skeleton.features import flip_features, window_features
from relsar_core.skeleton.layouts import MID_HIP, NECK


@pytest.fixture(scope="module")
def webcam(tmp_path_factory):
    from relsar_core.data.mocap.webcam import WebcamConfig, generate_webcam_dataset

    out = tmp_path_factory.mktemp("webcam")
    generate_webcam_dataset(
        out,
        WebcamConfig(seed=1, train_clips=4, test_clips=2, out_of_set_clips=1, other_clips=6),
    )
    return out


def test_keyframed_motion_keeps_bones_rigid_and_feet_on_the_floor():
    from relsar_core.data.mocap.keyframes import STYLES
    from relsar_core.data.mocap.kinematics import HumanoidKinematics
    from relsar_core.data.mocap.posing import ANKLE_HEIGHT, grounded, perform, to_poses

    rng = np.random.default_rng(0)
    with HumanoidKinematics() as kin:
        for name in ("wave", "squat", "sit_down", "walk"):
            style = STYLES[name][0]
            vec, travel = perform(style, rng, 30.0, style.bases[0], 1.0, 1.0)
            j = grounded(kin.body15(to_poses(vec, travel)), vec[:, -1])
            for a, b in ((2, 3), (3, 4), (9, 10), (10, 11), (12, 13)):
                length = np.linalg.norm(j[:, a] - j[:, b], axis=-1)
                assert length.max() - length.min() < 1e-3, (name, a, b)
            assert np.abs(j[:, [11, 14], 1].min(axis=1) - ANKLE_HEIGHT).max() < 1e-6
    # A wave lifts the waving wrist above the shoulder; a squat lowers the hips by > 25 cm.


def test_poses_of_a_clip_are_its_frames_posed_one_by_one_and_a_flexion_turns_about_z():
    from relsar_core.data.mocap.keyframes import STYLES
    from relsar_core.data.mocap.motions import JOINT_ORDER
    from relsar_core.data.mocap.posing import JOINTS, _vector, perform, to_poses

    style = STYLES["wave"][0]
    vec, travel = perform(style, np.random.default_rng(3), 30.0, style.bases[0], 1.0, 1.0)
    poses = to_poses(vec, travel)
    one_by_one = np.concatenate(
        [to_poses(vec[f : f + 1], travel[f : f + 1]) for f in range(len(vec))]
    )
    np.testing.assert_array_equal(poses, one_by_one)
    # r_shoulder flexed 90° (nothing else): a w-first quaternion of a 90° turn about z.
    q = to_poses(_vector({"r_shoulder": (90.0, 0.0, 0.0)})[None], np.zeros(1))[0]
    at = 7 + sum(dof for _, dof in JOINT_ORDER[: JOINTS.index("r_shoulder")])  # after the root
    np.testing.assert_allclose(q[at : at + 4], [np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-12)


def test_test_views_are_closed_under_mirroring_and_never_drawn_for_training():
    rng = np.random.default_rng(0)
    train = [sample_azimuth(rng, "train") for _ in range(3000)]
    test = [sample_azimuth(rng, "test") for _ in range(1000)]
    assert not any(in_test_view(a) for a in train)
    assert all(in_test_view(a) and in_test_view(-a) for a in test)


def test_no_test_window_is_near_a_training_window_or_its_mirror(webcam):
    train = load_clip_folder(webcam / "train", stride=5).windows
    test = load_clip_folder(webcam / "test", stride=5).windows

    def seen(w):  # nobody seen for a whole window: all-zero features, never classified
        return w[np.abs(w).reshape(len(w), -1).max(axis=1) > 0]

    train, test = seen(train), seen(test)
    d = nearest_distances(test, train)
    assert d.min() > 0.02, d.min()
    # The check itself finds a leak: a flipped training window put into the test is at 0.
    leaked = nearest_distances(flip_features(train[:3]), train)
    assert leaked.max() < 1e-3


def test_upper_body_framing_loses_the_hips_and_features_stay_finite(webcam):
    manifest = json.loads((webcam / "manifest.json").read_text())
    upper = [c for c in manifest["clips"]["train"] if c["framing"] == "upper"]
    assert upper, "the generator must write upper-body clips"
    lost = []
    for entry in upper:
        kp = load_clip(webcam / entry["file"]).keypoints
        lost.append((kp[:, [10, 11, 13, 14], 2] < 0.2).mean())
        f = window_features(kp[:30])
        assert np.isfinite(f).all() and np.abs(f).max() < 50
    assert np.mean(lost) > 0.7  # knees and ankles are out of the image or behind the desk


def test_window_features_centre_on_the_neck_when_the_hips_are_missing():
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(100, 300, (30, 15, 2)), np.ones((30, 15, 1))], -1)
    kp[:, [MID_HIP, 9, 12, 10, 11, 13, 14], 2] = 0.0
    pos = window_features(kp.astype(np.float32)).reshape(30, 15, 4)
    assert np.isfinite(pos).all()
    assert np.abs(pos[:, NECK, :2].mean(axis=0)).max() < 1e-4  # neck is the centre
    assert np.abs(pos[:, MID_HIP]).max() == 0.0  # a never-seen joint sits at the centre


def test_out_of_set_motions_are_written_apart(webcam):
    motions = {p.name for p in (webcam / "out_of_set").iterdir()}
    assert {"crawl", "cartwheel", "backflip", "scratch_head"} <= motions
    assert not motions & {p.name for p in (webcam / "train").iterdir()}
    # The `other` class is training only, and none of its movements is a measured out-of-set one.
    assert len(list((webcam / "train" / "other").glob("*.npz"))) == 6
    assert not (webcam / "test" / "other").exists()
    manifest = json.loads((webcam / "manifest.json").read_text())
    other = {s.removeprefix("deepmimic_") for s in manifest["other_styles"]}
    assert other and not other & motions
    # ... nor a novel action of relsar-bench teach (the model must never have seen those).
    from relsar_core.bench.teach_data import NOVEL_ACTIONS

    assert not other & {motion for motion, _, _ in NOVEL_ACTIONS.values()}


def test_validation_out_of_set_motions_are_none_of_the_tests_nor_trained_nor_taught(webcam):
    """The open-set gate is tuned on these: they must share no movement with the rejection test,
    the `other` class or the novel actions of relsar-bench teach, and no test camera or body."""
    from relsar_core.bench.teach_data import HAND_TWINS, NOVEL_ACTIONS

    val = {p.name for p in (webcam / "val_out_of_set").iterdir()}
    assert len(val) == 8 and all(
        len(list((webcam / "val_out_of_set" / m).glob("*.npz"))) == 1 for m in val
    )
    manifest = json.loads((webcam / "manifest.json").read_text())
    test = {p.name for p in (webcam / "out_of_set").iterdir()}
    other = {s.removeprefix("deepmimic_") for s in manifest["other_styles"]}
    taught = {m for m, _, _ in NOVEL_ACTIONS.values()} | {n for pair in HAND_TWINS for n in pair}
    classes = {p.name for p in (webcam / "train").iterdir()}
    assert not val & (test | other | taught | classes)
    for entry in manifest["clips"]["val_out_of_set"]:
        assert not in_test_view(entry["camera"]["azimuth"])


def test_slow_cameras_store_their_rate_and_load_at_the_models(webcam):
    manifest = json.loads((webcam / "manifest.json").read_text())
    slow = [c for c in manifest["clips"]["train"] if c["capture_fps"] < 30]
    assert slow, "a share of clips must be seen by a slower camera"
    entry = slow[0]
    clip = load_clip(webcam / entry["file"])
    assert clip.fps == entry["capture_fps"]
    at_model_rate = clip.body15_at_model_rate()
    assert abs(len(at_model_rate) / clip.num_frames - 30.0 / clip.fps) < 0.1


def test_test_side_errors_run_in_time_and_training_side_errors_per_frame(webcam):
    """The test side has the real video's timing (a confidence correlated from frame to frame);
    the training side keeps the per-frame errors the shipped model was trained on."""
    manifest = json.loads((webcam / "manifest.json").read_text())

    def lag1(part: str) -> float:
        values = []
        for entry in manifest["clips"][part]:
            assert entry["error_timing"] == ("per_frame" if part == "train" else "measured")
            conf = load_clip(webcam / entry["file"]).keypoints[..., 2]
            seen = conf[:, (conf > 0).all(axis=0)]  # joints never lost (no out-of-image zeros)
            d = seen - seen.mean(axis=0)
            if d.size and d.var() > 0:
                values.append(np.mean(d[1:] * d[:-1]) / d.var())
        return float(np.mean(values))

    assert lag1("test") > 0.5 and lag1("train") < 0.3  # measured here: 0.72 and 0.16


def test_a_wave_swings_the_hand_sideways_and_a_raised_hand_holds_still():
    """The two classes differ in what a camera sees: a waving hand moves side to side (the
    performer's lateral axis, z) several centimetres while the arm is up; a raised hand does not."""
    from scipy.ndimage import uniform_filter1d

    from relsar_core.data.mocap.keyframes import STYLES
    from relsar_core.data.mocap.kinematics import HumanoidKinematics
    from relsar_core.data.mocap.webcam import _Motions

    def sideways(style) -> float:
        j = motions.keyframed(style, np.random.default_rng(1), 30.0, "standing", 1.0, 1.0)
        j = j[len(j) // 3 : 2 * len(j) // 3, 4, 2] - j[len(j) // 3 : 2 * len(j) // 3, 1, 2]
        return float((j - uniform_filter1d(j, 15)).std())

    with HumanoidKinematics() as kin:
        motions = _Motions(kin)
        waves = [sideways(s) for s in STYLES["wave"]]
        raises = [sideways(s) for s in STYLES["raise_hand"]]
    assert min(waves) > 0.04 and max(raises) < 0.02, (waves, raises)


def test_walks_and_runs_often_cross_the_view_at_full_speed():
    """Real walkers (the sample video) cross the view: the leg cadence, not the travel, tells a
    walk from a run, so training keeps the whole travel in FULL_TRAVEL_SHARE of those clips."""
    from relsar_core.data.mocap.webcam import FULL_TRAVEL_SHARE, _travel_kept

    u = np.random.default_rng(0).uniform(size=4000)
    kept = np.array([_travel_kept(float(x), True) for x in u])
    assert abs((kept == 1.0).mean() - FULL_TRAVEL_SHARE) < 0.03
    assert 0.0 <= kept.min() and abs(np.median(kept[kept < 1.0]) - 0.5) < 0.05
    assert [_travel_kept(x, False) for x in (0.1, 0.7)] == [0.1, 0.7]
