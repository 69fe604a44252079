"""relsar-extract --people all|largest: one clip per tracked person (`<video>_p<id>.npz`), short
tracks left out; on a fake two-person estimator (the plumbing) and on a real two-person video
with BlazePose."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from relsar_core.data.extract import ExtractJob
from relsar_core.live.extract_people import extract_people
from relsar_core.pose.base import Skeleton
from relsar_core.pose.model_store import BLAZEPOSE, SAMPLE_VIDEO, missing_files
from relsar_core.skeleton.clip import load_clip
from relsar_core.skeleton.synthetic import toy_clip
from training.extract_cli import main as extract_main

FRAMES = 40


def _blank_video(path: Path, frames: int = FRAMES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, (320, 240))
    for i in range(frames):
        writer.write(np.full((240, 320, 3), 30 + i, np.uint8))
    writer.release()
    return path


class TwoPeople:
    """A big person all along, a small one from frame 5 to 24 (20 frames); the index of the
    frame is read from the video's brightness."""

    layout = "body15"

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.big, self.small = toy_clip("wave", FRAMES, rng), toy_clip("squat", FRAMES, rng)
        self.small[:, :, :2] = self.small[:, :, :2] * 0.5 + [400, 0]

    def reset(self) -> None:
        self.frame = 0

    def estimate_people(self, frame_bgr: np.ndarray) -> list[Skeleton]:
        i, self.frame = self.frame, self.frame + 1
        people = [Skeleton(self.small[i], "body15")] if 5 <= i < 25 else []
        return [*people, Skeleton(self.big[i], "body15")]  # order is no identity


def test_one_clip_per_track_min_length_and_largest(tmp_path):
    video = _blank_video(tmp_path / "videos" / "wave" / "two.mp4")
    job = ExtractJob(video, "wave", tmp_path / "out" / "wave" / "two.npz")
    est = TwoPeople()
    result = extract_people(job, est, "all", min_frames=10)
    assert result.status == "done", result.message
    clips = sorted((tmp_path / "out" / "wave").glob("two_p*.npz"))
    assert [c.name for c in clips] == ["two_p1.npz", "two_p2.npz"]
    lengths = sorted(load_clip(c).num_frames for c in clips)
    assert lengths == [18, 38]  # an id after 3 frames seen: frames 7-24 and 2-39
    big = max((load_clip(c) for c in clips), key=lambda c: c.num_frames)
    np.testing.assert_allclose(big.keypoints, est.big[2:], atol=1e-4)  # that person's joints
    assert big.label == "wave" and big.fps == pytest.approx(20.0)
    for c in clips:
        c.unlink()
    assert extract_people(job, est, "all", min_frames=20).message == "people: p1 (38 frames)"
    assert extract_people(job, est, "largest", min_frames=5).message == "people: p1 (38 frames)"
    failed = extract_people(job, est, "all", min_frames=FRAMES)
    assert failed.status == "failed" and "no person tracked for 40 frames" in failed.message


@pytest.mark.skipif(
    bool(
        missing_files(BLAZEPOSE, check_hash=False) or missing_files(SAMPLE_VIDEO, check_hash=False)
    ),
    reason="BlazePose models or sample photo not fetched: run `make models`",
)
def test_cli_people_all_on_a_real_two_person_video(tmp_path, capsys):
    from relsar_core.pose.sample_media import full_body_photo_path

    # The footballer and his mirror image side by side, cropped to the players (BlazePose's
    # detector misses people this small in a frame much wider than tall), over a black band.
    photo = cv2.imread(str(full_body_photo_path()))[:, 100:448]
    pair = np.hstack([photo, cv2.flip(photo, 1)])
    pair = np.vstack([pair, np.zeros_like(pair)])
    path = tmp_path / "videos" / "pose" / "pair.mp4"
    path.parent.mkdir(parents=True)
    h, w = pair.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (w, h))
    for i in range(16):  # the two slide right together, 2 px a frame
        writer.write(cv2.warpAffine(pair, np.float32([[1, 0, 2 * i], [0, 1, 0]]), (w, h)))
    writer.release()
    out = tmp_path / "data"
    args = [str(path), "--out", str(out), "--pose", "blazepose", "--people", "all"]
    with pytest.raises(SystemExit) as exc:
        extract_main([*args, "--min-track-frames", "10"])
    assert exc.value.code == 0, capsys.readouterr().err
    clips = sorted((out / "pose").glob("pair_p*.npz"))
    assert len(clips) == 2
    hips = []
    for c in clips:
        clip = load_clip(c)
        assert clip.layout == "blazepose33" and clip.num_frames >= 10
        hips.append(float(np.median(clip.keypoints[:, [23, 24], 0])))
    assert sorted(x < w / 2 for x in hips) == [False, True]  # one each side: two people
    report = json.loads((out / "extract_report.json").read_text())
    assert [r["status"] for r in report["results"]] == ["done"]
    with pytest.raises(SystemExit) as exc:  # resumed: skipped
        extract_main(args)
    assert json.loads((out / "extract_report.json").read_text())["results"][0]["status"] == (
        "skipped"
    )
    with pytest.raises(SystemExit) as exc:
        extract_main([*args, "--workers", "2"])
    assert exc.value.code == 2 and "--people" in capsys.readouterr().err
