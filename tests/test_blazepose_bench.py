"""`relsar-bench pose` runs end to end and reports every row with its unit and target (a smoke
test on a few frames: the speed itself is measured by relsar-bench, never asserted here)."""

from __future__ import annotations

import pytest

from relsar_core.bench import pose as pose_bench
from relsar_core.pose.model_store import BLAZEPOSE, missing_files


def test_synthetic_fallback_frames_are_webcam_sized():
    frames = pose_bench._synthetic_frames(3)
    assert len(frames) == 3 and frames[0].shape == (480, 640, 3) and frames[0].dtype.name == "uint8"


@pytest.mark.skipif(
    bool(missing_files(BLAZEPOSE, check_hash=False)), reason="BlazePose models not fetched"
)
def test_pose_bench_rows():
    frames = pose_bench._synthetic_frames(12)
    rows = {m.name: m for m in pose_bench._blazepose(frames, "test frames", quick=True)}
    tracked = rows["blazepose tracking ms/frame p50, all in"]
    assert tracked.unit == "ms" and tracked.target == "<= 15"
    assert tracked.passed == (tracked.value <= 15)  # the verdict follows the target
    # two real models on a real 640x480 frame: well over 0.05 ms, and under a second on any CPU
    assert 0.05 < tracked.value < 1000 and tracked.detail["frames"] == 12
    # The astronaut is in every frame: tracking runs the detector once, the other mode 12 times.
    assert tracked.detail["frames_with_person"] == 12 and tracked.detail["detector_runs"] == 1
    assert rows["blazepose detect every frame ms/frame p50, all in"].detail["detector_runs"] == 12
    for name in ("blazepose detector model alone p50", "blazepose landmark model alone p50"):
        assert 0.05 < rows[name].value < 1000
    assert rows["blazepose tracking speed-up per skeleton (p50)"].unit == "x"
    assert rows["blazepose tracking frames with a person"].value == 100.0
