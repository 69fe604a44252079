"""Motion capture → body15: forward kinematics checks, cameras, variations, generator splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relsar_core.data.mocap import body, camera, estimator_noise, motions
from relsar_core.data.mocap.classes import CLASS_NAMES, STILL_FRAMES
from relsar_core.errors import DataError
from relsar_core.skeleton.clip import load_clip

LIMBS = [(2, 3), (3, 4), (5, 6), (6, 7), (9, 10), (10, 11), (12, 13), (13, 14), (2, 5), (9, 12)]


@pytest.fixture(scope="module")
def kin():
    from relsar_core.data.mocap.kinematics import HumanoidKinematics

    with HumanoidKinematics() as k:
        yield k


@pytest.fixture(scope="module")
def walk(kin):
    from relsar_core.data.mocap.kinematics import motion_body15

    return motion_body15(kin, motions.load_named_motion("walk"), 60.0, cycles=3)


def _bone_lengths(joints):
    return np.stack(
        [np.linalg.norm(joints[:, a] - joints[:, b], axis=-1) for a, b in LIMBS], axis=1
    )


@pytest.mark.parametrize("name", ["walk", "kick", "dance_a", "jump"])
def test_limb_lengths_are_constant_over_a_clip(kin, name):
    from relsar_core.data.mocap.kinematics import motion_body15

    joints = motion_body15(kin, motions.load_named_motion(name), 60.0)
    lengths = _bone_lengths(joints)
    assert lengths.std(axis=0).max() < 1e-3  # rigid links: sub-millimetre
    # Humanoid proportions: thigh ≈ 0.42 m, forearm ≈ 0.26 m.
    assert 0.35 < lengths[:, 4].mean() < 0.5
    assert 0.2 < lengths[:, 3].mean() < 0.32


def test_feet_stay_near_the_ground_when_walking(walk):
    lowest_foot = walk[:, [11, 14], 1].min(axis=1)
    assert lowest_foot.max() < 0.15  # one foot is always on (or just above) the floor
    assert lowest_foot.min() > -0.02  # and never through it
    assert walk[:, 8, 1].mean() > 0.75  # hips at standing height


def test_left_and_right_are_the_figures_own(walk):
    # The walk goes forward along +x; with y up, the figure's right is forward × up.
    forward = walk[-1, 8] - walk[0, 8]
    forward[1] = 0
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    for r, left in [(2, 5), (9, 12)]:
        assert ((walk[:, r] - walk[:, left]) @ right > 0.05).all()
    assert ((walk[:, 0] - walk[:, 1]) @ forward > 0).all()  # the nose is in front of the neck


def test_looped_cycles_join_without_jumps(walk):
    speed = np.linalg.norm(np.diff(walk, axis=0), axis=-1).max(axis=1) * 60.0
    assert speed.max() < 6.0  # m/s of the fastest joint: no teleport at a cycle seam
    assert np.linalg.norm(walk[-1, 8, [0, 2]] - walk[0, 8, [0, 2]]) > 3.0  # 3 cycles travel


def test_front_camera_sees_the_right_shoulder_on_the_image_left(walk):
    rig = camera.CameraRig(0.0, 5.0, 0.6, 60.0, 0.0, (640, 480), (0.0, 0.0))
    pixels, depth = camera.project(walk[:1], rig, walk[0, 8], heading=0.0)
    assert pixels[0, 2, 0] < pixels[0, 5, 0]  # facing the camera: their right is our left
    assert pixels[0, 0, 1] < pixels[0, 8, 1] < pixels[0, 11, 1]  # head above hips above feet
    assert (depth > 0).all()
    # Seen from behind, the sides swap.
    back = camera.CameraRig(180.0, 5.0, 0.6, 60.0, 0.0, (640, 480), (0.0, 0.0))
    pixels, _ = camera.project(walk[:1], back, walk[0, 8], heading=0.0)
    assert pixels[0, 2, 0] > pixels[0, 5, 0]
    # The body fills about the requested fraction of the image height.
    height = pixels[0, :, 1].max() - pixels[0, :, 1].min()
    assert 0.4 * 480 < height < 0.7 * 480


def test_mirror_swaps_sides_and_proportions_scale_bones(walk):
    mirrored = body.mirror(walk)
    assert np.allclose(mirrored[:, 2, 2], -walk[:, 5, 2])
    factors = {k: 1.0 for k in body.SEGMENT_RANGES} | {"forearm": 1.2, "thigh": 0.9}
    scaled = body.apply_proportions(walk, factors)
    ratio = _bone_lengths(scaled).mean(axis=0) / _bone_lengths(walk).mean(axis=0)
    assert ratio[1] == pytest.approx(1.2, rel=1e-6) and ratio[4] == pytest.approx(0.9, rel=1e-6)
    assert ratio[0] == pytest.approx(1.0, rel=1e-6)


def test_time_warp_and_travel_reduction(walk):
    rng = np.random.default_rng(0)
    times = body.warp_times(rng, 60, 30.0, speed=1.5, variation=0.1)
    assert np.all(np.diff(times) > 0) and times[-1] == pytest.approx(59 / 30 * 1.5, rel=0.25)
    on_spot = body.reduce_travel(walk, keep=0.0)
    travel = np.linalg.norm(on_spot[-1, 8, [0, 2]] - on_spot[0, 8, [0, 2]])
    assert travel < 0.3 and np.allclose(_bone_lengths(on_spot), _bone_lengths(walk))


def test_estimator_errors_scale_with_level(walk):
    rig = camera.CameraRig(30.0, 10.0, 0.6, 60.0, 0.0, (640, 480), (0.0, 0.0))
    pixels, depth = camera.project(walk[:90], rig, walk[:90, 8].mean(axis=0), heading=0.0)
    clean = estimator_noise.estimator_errors(
        pixels, depth, rig.image_size, np.random.default_rng(1), 0.0, 0.5
    )
    noisy = estimator_noise.estimator_errors(
        pixels, depth, rig.image_size, np.random.default_rng(1), 2.0, 0.5
    )
    assert np.allclose(clean[..., :2], pixels, atol=1e-3) and clean[..., 2].min() > 0.2
    error = np.linalg.norm(noisy[..., :2] - pixels, axis=-1)[noisy[..., 2] > 0.2]
    assert 0.5 < np.median(error) < 30  # pixels, for a body ~290 px tall
    lost = [
        (
            estimator_noise.estimator_errors(
                pixels, depth, rig.image_size, np.random.default_rng(s), 2.0, 0.5
            )[..., 2]
            < 0.2
        ).mean()
        for s in range(4)
    ]
    assert np.mean(lost) > 0.01  # dropouts and lost frames
    assert noisy.dtype == np.float32 and noisy[..., 2].max() <= 1.0


def invalid_run_frames(conf: np.ndarray) -> list[int]:
    """Lengths in frames of the runs below MIN_CONFIDENCE, in each column of conf (F, J)."""
    runs = []
    for column in (conf < 0.2).T:
        edges = np.diff(np.concatenate([[0], column.astype(int), [0]]))
        runs += list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))
    return runs


def _invalid_runs_s(conf: np.ndarray, fps: float) -> float:
    """Mean length in seconds of the runs below MIN_CONFIDENCE, over the columns of conf (F, J)."""
    return float(np.mean(invalid_run_frames(conf))) / fps


def test_noise_time_structure_is_in_seconds_whatever_the_frame_rate():
    rng = np.random.default_rng(0)
    for fps in (10.0, 30.0):
        ar = estimator_noise.ar1_noise(rng, 20000, fps, 0.2, (3,))
        lag = round(fps * 0.2)  # one time constant
        assert ar.std() == pytest.approx(1.0, abs=0.05)
        corr = np.mean(ar[lag:] * ar[:-lag]) / ar.var()
        assert corr == pytest.approx(np.exp(-lag / (fps * 0.2)), abs=0.05)
        drops = estimator_noise.dropout_runs(rng, 20000, fps, np.array([0.3, 0.05]), 0.6)
        assert drops.mean(axis=0) == pytest.approx([0.3, 0.05], abs=0.03)
        conf = np.where(drops, 0.0, 1.0)
        assert _invalid_runs_s(conf[:, :1], fps) == pytest.approx(0.6, rel=0.15)


@pytest.mark.parametrize("timing", estimator_noise.ERROR_TIMINGS)
def test_calibrated_wrist_dropouts_last_as_long_as_on_the_real_video(timing):
    """The real video (BlazePose, 10 fps): wrists below 0.2 for about 0.45 s at a time, a joint's
    confidence correlated from frame to frame (0.5-0.6). The per-frame errors (the training
    side's) flicker: about 0.17 s and no correlation."""
    rng = np.random.default_rng(3)
    runs, corr = [], []
    for _ in range(60):
        pixels = np.full((40, 15, 2), 300.0) + rng.normal(0, 20, (1, 15, 2))
        pixels[:, 1], pixels[:, 8] = (300, 270), (300, 300)  # a 30 px torso, as on the video
        kp = estimator_noise.calibrated_errors(
            pixels, np.zeros((40, 15)), (640, 480), rng, 1.0, fps=10.0, timing=timing
        )
        wrists = kp[(kp[..., 2] >= 0.2).any(axis=1)][:, [4, 7], 2]  # frames with a person found
        if (wrists < 0.2).any():
            runs.append(_invalid_runs_s(wrists, 10.0))
        d = wrists - wrists.mean(axis=0)
        corr.append(np.mean(d[1:] * d[:-1]) / max(d.var(), 1e-9))
    if timing == "measured":
        assert 0.3 < np.mean(runs) < 0.6 and 0.35 < np.mean(corr) < 0.8
    else:
        assert np.mean(runs) < 0.25 and abs(np.mean(corr)) < 0.15


def test_calibration_summary_measures_dropout_runs_within_tracked_frames():
    from relsar_core.data.mocap.calibrate import summarise

    kp = np.ones((12, 15, 3))
    kp[6] = 0.0  # nobody found: the run before it ends there, the frames around it are no pair
    kp[[1, 2, 3], 4, 2] = 0.1  # one wrist dropout of 3 frames
    kp[[5, 7], 7, 2] = 0.1  # two 1-frame dropouts, on either side of the gap
    kp[:, 0, 2] = np.r_[0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.0, 0.5, 0.6, 0.5, 0.6, 0.5]
    out = summarise(kp)
    assert out["dropout_run_frames"][4] == 3.0 and out["dropout_run_frames"][7] == 1.0
    assert out["dropout_persistence"][4] == pytest.approx(2 / 3, abs=1e-3)  # 2 of 3 go on
    assert out["dropout_persistence"][7] == 0.0
    assert out["confidence_lag1_autocorr"][0] == pytest.approx(-1.0, abs=0.25)  # alternating


def test_calibration_refuses_a_video_it_cannot_read(tmp_path):
    import subprocess
    import sys

    from relsar_core.data.mocap.calibrate import measure_video

    bad = tmp_path / "not_a_video.avi"
    bad.write_bytes(b"garbage")
    for path in (bad, tmp_path / "missing.avi"):
        with pytest.raises(DataError, match="not a readable video"):
            measure_video(path)
    run = subprocess.run(
        [sys.executable, "-m", "relsar_core.data.mocap.calibrate", str(bad)],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and run.stderr.strip() == f"error: {bad}: not a readable video"


def test_slerp_and_malformed_motion_file(tmp_path):
    q0, q1 = np.array([1.0, 0, 0, 0]), np.array([0.0, 0, 1, 0])
    mid = motions.slerp(q0, q1, np.array(0.5))
    assert np.allclose(mid, [np.sqrt(0.5), 0, np.sqrt(0.5), 0])
    assert np.allclose(motions.slerp(q0, -q0, np.array(0.3)), q0)  # q and -q are the same rotation
    bad = tmp_path / "humanoid3d_bad.txt"
    bad.write_text(json.dumps({"Loop": "wrap", "Frames": [[0.03, 1, 2]]}))
    with pytest.raises(DataError, match="humanoid3d_bad.txt"):
        motions.load_motion(bad)


@pytest.fixture(scope="module")
def tiny_mocap(tmp_path_factory):
    from relsar_core.data.mocap.generate import GeneratorConfig, generate_dataset

    out = tmp_path_factory.mktemp("mocap")
    config = GeneratorConfig(
        seed=3, cameras=8, train_clips=3, test_clips=3, min_frames=30, max_frames=40
    )
    return out, config, generate_dataset(out, config)


def test_generator_writes_two_honest_sides(tiny_mocap):
    out, _, manifest = tiny_mocap
    for side in ("train", "test"):
        assert sorted(p.name for p in (out / side).iterdir()) == sorted(CLASS_NAMES)
        for entry in manifest["clips"][side]:
            clip = load_clip(out / entry["file"])
            assert clip.label == entry["file"].split("/")[1] and clip.layout == "body15"
            assert clip.num_frames >= 30 and clip.fps == 30.0

    # No camera set-up of the test side is one of training's: azimuths lie in disjoint sectors.
    def sector(az):
        return int(((az + 15) % 360) // 30)

    train_sectors = {sector(c["azimuth"]) for c in manifest["cameras"]["train"]}
    test_sectors = {sector(c["azimuth"]) for c in manifest["cameras"]["test"]}
    assert train_sectors and test_sectors and not train_sectors & test_sectors
    still = {
        side: {e["source"] for e in manifest["clips"][side] if e["source"].startswith("still")}
        for side in ("train", "test")
    }
    assert still["train"] and still["test"] and not still["train"] & still["test"]
    assert not set(STILL_FRAMES["train"]) & set(STILL_FRAMES["test"])


def test_cycles_are_posed_long_enough_for_the_longest_fastest_clip(kin):
    from relsar_core.data.mocap.generate import GeneratorConfig, _source_times, longest_clip_seconds
    from relsar_core.data.mocap.sources import DENSE_RATE, load_sources

    config = GeneratorConfig(max_frames=120, min_frames=120, speed=(1.3, 1.3))
    run = load_sources(kin, "train", longest_clip_seconds(config))["run"][0]
    rng = np.random.default_rng(0)
    latest = max(_source_times(run, rng, "test", config)[-1] for _ in range(50))
    assert (
        latest < (len(run.joints) - 1) / DENSE_RATE
    )  # never past the posed motion (a frozen tail)


def test_generator_is_deterministic_from_its_seed(tiny_mocap, tmp_path):
    from relsar_core.data.mocap.generate import generate_dataset

    out, config, _ = tiny_mocap
    generate_dataset(tmp_path / "again", config)
    name = "test/kick/kick_0001.npz"
    assert np.array_equal(
        load_clip(out / name).keypoints, load_clip(tmp_path / "again" / name).keypoints
    )
    other = generate_dataset(tmp_path / "other", type(config)(**{**config.__dict__, "seed": 4}))
    assert (
        other["cameras"]["train"]
        != json.loads((out / "manifest.json").read_text())["cameras"]["train"]
    )


def test_cli_one_line_errors(tmp_path, capsys):
    from relsar_core.cli import run_cli
    from training.data_cli import _main

    assert run_cli(_main, ["mocap", "--out", str(tmp_path), "--min-frames", "10"]) == 2
    assert (
        run_cli(
            _main,
            [
                "mocap",
                "--out",
                str(tmp_path),
                "--cameras",
                "8",
                "--train-clips",
                "1",
                "--test-clips",
                "1",
                "--min-frames",
                "30",
                "--max-frames",
                "30",
            ],
        )
        == 0
    )
    assert run_cli(_main, ["mocap", "--out", str(tmp_path)]) == 2  # refuses to overwrite
    (tmp_path / "a_file").touch()
    assert (
        run_cli(_main, ["mocap", "--out", str(tmp_path / "a_file" / "x"), "--train-clips", "1"])
        == 2
    )
    err = capsys.readouterr().err
    err = " ".join(err.split())  # rich wraps long lines
    assert "--min-frames" in err and "already exists" in err and "cannot write" in err
    assert "Traceback" not in err


def test_webcam_cli_refuses_a_bad_out_before_making_clips(tmp_path, capsys):
    from relsar_core.cli import run_cli
    from training.data_cli import _main

    (tmp_path / "a_file").touch()
    for out, message in (
        (tmp_path / "a_file", "exists and is not a folder"),
        (tmp_path / "a_file" / "x", "a_file is a file, not a folder"),
    ):
        assert run_cli(_main, ["webcam", "--out", str(out), "--train-clips", "1"]) == 2
        captured = capsys.readouterr()
        err = " ".join(captured.err.split())
        assert message in err and "Traceback" not in err, err
        assert "webcam clips" not in captured.out + captured.err  # no progress bar: no work began
