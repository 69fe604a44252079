"""relsar-extract: videos the tests write themselves (a real photograph moving across the frame),
a corrupt file, resuming, sharding, parallel workers, and clips the data-set loader reads."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from relsar_core.data.extract import (
    EstimatorSpec,
    extract_all,
    parse_shard,
    plan_jobs,
    shard,
)
from relsar_core.errors import DataError
from relsar_core.pose.base import PoseEstimator, Skeleton
from relsar_core.pose.model_store import BLAZEPOSE, missing_files
from relsar_core.skeleton.clip import load_clip
from training.extract_cli import main as extract_main

needs_models = pytest.mark.skipif(
    bool(missing_files(BLAZEPOSE, check_hash=False)),
    reason="BlazePose models not fetched: run `relsar-models fetch blazepose` (make test does)",
)
FRAMES = 36


def _astronaut() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def _motion(i: int, seed: int) -> np.ndarray:
    """Frame i's 2×3 photo -> frame transform: slide right 3 px/frame, zoom in and out."""
    scale = 0.6 + 0.1 * np.sin(i / 6)
    jitter = np.random.default_rng([seed, i]).uniform(-2, 2)
    return np.float32([[scale, 0, 60 + 3 * i + jitter], [0, scale, 10]])


def _write_video(path: Path, frames: int = FRAMES, seed: int = 0) -> None:
    """The astronaut photo sliding and zooming inside a 480×360 frame (a moving person)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    photo = _astronaut()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (480, 360))
    for i in range(frames):
        frame = cv2.warpAffine(photo, _motion(i, seed), (480, 360), borderValue=(40, 40, 40))
        writer.write(frame)
    writer.release()


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    _write_video(root / "wave" / "a.mp4", seed=0)
    _write_video(root / "wave" / "b.mp4", seed=1)
    _write_video(root / "nod" / "a.mp4", seed=2)
    (root / "nod" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video" * 20)
    return root


class FakeEstimator(PoseEstimator):
    """A body15 'pose' that follows frame brightness: exercises the plumbing without models.
    Frames whose mean is below 10 hold nobody."""

    layout = "body15"

    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def estimate(self, frame_bgr: np.ndarray) -> Skeleton | None:
        level = float(frame_bgr.mean())
        if level < 10:
            return None
        kp = np.tile(np.array([[level, level / 2, 0.9]], np.float32), (15, 1))
        kp[:, 0] += np.arange(15)
        return Skeleton(kp, "body15")


def test_plan_names_classes_and_collisions(tmp_path, video_dir):
    nested = tmp_path / "in"
    _write_video(nested / "wave" / "a.mp4", frames=2)
    _write_video(nested / "extra" / "wave" / "a.mp4", frames=2)  # same class, same name
    jobs = plan_jobs([nested, video_dir], tmp_path / "out")
    names = sorted(f"{j.label}/{j.out.name}" for j in jobs)
    assert "wave/extra__a.npz" in names and names.count("wave/a.npz") == 1
    labels = {j.label for j in jobs}
    assert labels == {"wave", "nod"}
    with pytest.raises(DataError, match="no such video"):
        plan_jobs([tmp_path / "nope"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no videos found"):
        plan_jobs([tmp_path / "empty"], tmp_path / "o")


def test_shards_partition_the_jobs(video_dir, tmp_path):
    jobs = plan_jobs([video_dir], tmp_path)
    parts = [shard(jobs, k, 3) for k in range(3)]
    assert sorted(j.out for p in parts for j in p) == sorted(j.out for j in jobs)
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "1", "a/b", "-1/3"):
        with pytest.raises(DataError):
            parse_shard(bad)


def test_extract_writes_clips_reports_failures_and_resumes(video_dir, tmp_path):
    out = tmp_path / "data"
    jobs = plan_jobs([video_dir], out, overlay_dir=tmp_path / "overlay")
    est = FakeEstimator()
    summary = extract_all(jobs, EstimatorSpec(), estimator=est)
    assert (summary.count("done"), summary.count("failed")) == (3, 1)
    assert "unreadable" in summary.failures[0].message and "corrupt" in summary.failures[0].video
    clip = load_clip(out / "wave" / "a.npz")
    assert clip.keypoints.shape == (FRAMES, 15, 3) and clip.label == "wave"
    assert clip.image_size == (480, 360) and clip.fps == pytest.approx(15.0)
    assert est.resets == 3  # a fresh track per video
    cap = cv2.VideoCapture(str(tmp_path / "overlay" / "wave" / "a.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    cap.release()
    mtime = (out / "wave" / "a.npz").stat().st_mtime_ns
    again = extract_all(jobs, EstimatorSpec(), estimator=est)
    assert (again.count("skipped"), again.count("failed"), again.count("done")) == (3, 1, 0)
    assert (out / "wave" / "a.npz").stat().st_mtime_ns == mtime
    assert not list(out.rglob(".*"))  # no temporary files left behind


def test_video_with_nobody_is_a_failure_not_a_clip(tmp_path):
    path = tmp_path / "in" / "empty" / "dark.mp4"
    path.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for _ in range(5):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    summary = extract_all(
        plan_jobs([path], tmp_path / "out"), EstimatorSpec(), estimator=FakeEstimator()
    )
    assert (
        summary.count("failed") == 1
        and "no person found in 5 frames" in summary.failures[0].message
    )
    assert not (tmp_path / "out" / "empty" / "dark.npz").exists()


@needs_models
def test_cli_blazepose_parallel_end_to_end(video_dir, tmp_path, capsys):
    from relsar_core.data.datasets import load_clip_folder

    out = tmp_path / "data"
    with pytest.raises(SystemExit) as exc:
        extract_main([str(video_dir), "--out", str(out), "--pose", "blazepose", "--workers", "2"])
    assert exc.value.code == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "corrupt.mp4" in err and "unreadable" in err
    report = json.loads((out / "extract_report.json").read_text())
    assert sorted(r["status"] for r in report["results"]) == ["done", "done", "done", "failed"]
    clip = load_clip(out / "nod" / "a.npz")
    assert clip.layout == "blazepose33" and clip.keypoints.shape == (FRAMES, 33, 3)
    kp = clip.keypoints
    assert (kp[:, 0, 2] > 0.8).mean() > 0.9  # the face is found in nearly every frame
    # The nose must follow the photo's motion (nose at about (218, 125) in the photo).
    expected = np.array([_motion(i, seed=2) @ [218.0, 125.0, 1.0] for i in range(FRAMES)])
    assert np.median(np.abs(kp[:, 0, :2] - expected).max(axis=1)) < 6.0
    data = load_clip_folder(out, window=30, stride=3)
    assert data.num_classes == 2 and len(data) >= 3
    # Resumed: nothing redone; strict mode flags the corrupt file.
    with pytest.raises(SystemExit) as exc:
        extract_main([str(video_dir), "--out", str(out), "--pose", "blazepose", "--strict"])
    assert exc.value.code == 1
    summary = json.loads((out / "extract_report.json").read_text())["results"]
    assert sorted(r["status"] for r in summary) == ["failed", "skipped", "skipped", "skipped"]


def test_cli_bad_arguments_are_one_line_errors(tmp_path, capsys):
    for argv, message in (
        ([str(tmp_path / "none"), "--out", str(tmp_path / "o")], "no such video file or folder"),
        ([str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0"], "--workers 0"),
        ([str(tmp_path), "--out", str(tmp_path / "o"), "--shard", "3/3"], "--shard '3/3'"),
        (
            [
                str(tmp_path),
                "--out",
                str(tmp_path / "o"),
                "--overlay-dir",
                str(tmp_path / "o" / "v"),
            ],
            "must be outside --out",
        ),
    ):
        with pytest.raises(SystemExit) as exc:
            extract_main(argv)
        assert exc.value.code == 2
        assert message in " ".join(capsys.readouterr().err.split())  # rich wraps long lines
