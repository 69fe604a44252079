"""Make the golden file our BlazePose is tested against: MediaPipe 0.10.14's own pipeline
(`solutions.pose`, the same two .tflite models) on the project's real frames.

    python -m training.make_blazepose_reference [--venv /tmp/mpvenv] [--out tests/fixtures/...]

Not part of `make test` (it needs PyPI and a minute). It creates a throw-away virtual environment
with Python 3.11 (mediapipe 0.10.14 has no wheel for newer Pythons), pip-installs
mediapipe==0.10.14 there, decodes the frames with the project's own OpenCV (so that the tests can
decode the very same frames again), runs relsar_core/bench/mediapipe_worker.py in that
environment, and writes a small .npz with MediaPipe's detections, ROIs and landmarks, the versions
used, and a SHA-256 of each group of frames. The frames themselves are not stored: the tests
rebuild them and check the checksum first.

Frame groups (relsar_core/bench/pose_reference.py): the sample video's walker region (tracking mode), every 10th of
those frames and a few full vtest.avi frames one by one (static mode: all detections), and the two
photographs the tests already use (scikit-image's astronaut, OpenCV's messi5.jpg).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from relsar_core.bench.pose_reference import (
    FIXTURE,
    VIDEO_FRAMES,
    frames_sha256,
    reference_stills,
    run_mediapipe,
)

MEDIAPIPE = "mediapipe==0.10.14"
PYTHON311 = "/root/.pyenv/versions/3.11.7/bin/python"  # mediapipe 0.10.14 has no 3.12+ wheels


def _ensure_venv(venv: Path, base_python: str) -> Path:
    python = venv / "bin/python"
    if not python.exists():
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", MEDIAPIPE], check=True
    )  # a no-op when present
    return python


def main(argv: list[str] | None = None) -> int:
    import cv2

    from relsar_core.pose.sample_media import walker_frames

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/mpvenv"))
    parser.add_argument("--out", type=Path, default=FIXTURE)
    parser.add_argument("--python", default=PYTHON311, help="a Python 3.9-3.12 for the venv")
    args = parser.parse_args(argv)
    python = _ensure_venv(args.venv, args.python)
    video = walker_frames(VIDEO_FRAMES)
    stills = reference_stills()
    result = run_mediapipe(python, video, stills)
    for key in ("video_ms", "video_cpu_ms"):  # speed belongs to relsar-bench, not to a golden file
        result.pop(key, None)
    # Kept in float64: MediaPipe's float32 fractions × the image size are exact there, so the
    # tests recover its very values (fraction = pixels / size) and compare bit for bit.
    store = dict(result)
    store["video_sha256"] = np.array(frames_sha256(video))
    for name, image in stills.items():
        store[f"still_{name}_sha256"] = np.array(frames_sha256([image]))
    store["still_names"] = np.array(sorted(stills))
    store["opencv_version"] = np.array(cv2.__version__)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **store)
    size = args.out.stat().st_size / 1e3
    print(f"wrote {args.out} ({size:.0f} kB): mediapipe {store['mediapipe_version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
