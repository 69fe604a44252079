"""Sources: bad input in one line, video files, HTTP streams, clip replay and its pacing."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from relsar_core.errors import ClipError, RelsarError
from relsar_core.live.sources import ReplaySource, SourceError, VideoFileSource, open_source
from relsar_core.skeleton.clip import load_clip


def _write_video(path, fps: float, frames: int, step: int):
    """A small grey MJPG video: frame i is uniformly i * step."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i * step, np.uint8))
    writer.release()
    return path


def test_sources_report_bad_input_in_one_line(tmp_path):
    with pytest.raises(SourceError, match="no such video file"):
        open_source(str(tmp_path / "missing.mp4"))
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(SourceError, match="corrupt.mp4"):
        open_source(str(corrupt))
    with pytest.raises(SourceError, match="camera 7"):
        open_source("camera:7")
    with pytest.raises(SourceError, match="integer"):
        open_source("camera:x")
    bad_clip = tmp_path / "bad.npz"
    bad_clip.write_bytes(b"not a zip")
    with pytest.raises(ClipError, match="bad.npz"):
        open_source(str(bad_clip))
    assert issubclass(SourceError, RelsarError)


def test_video_file_source_reads_loops_and_stops(tmp_path):
    path = _write_video(tmp_path / "tiny.avi", 20.0, 6, 40)
    with VideoFileSource(path, loop=False) as src:
        frames = []
        while (f := src.read()) is not None:
            frames.append(f)
    assert len(frames) == 6 and frames[0].image.shape == (48, 64, 3) and src.image_size == (64, 48)
    assert [f.index for f in frames] == list(range(6)) and src.fps == pytest.approx(20.0)
    with VideoFileSource(path, loop=True) as src:
        assert all(src.read() is not None for _ in range(15))  # past the end: starts again


def test_stream_source_reads_over_http_and_reports_a_dead_address(tmp_path):
    import functools
    import http.server

    _write_video(tmp_path / "cam.avi", 25.0, 10, 20)  # served by the HTTP server below
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        src = open_source(f"http://127.0.0.1:{server.server_address[1]}/cam.avi")
        frames = [src.read() for _ in range(5)]
        src.close()
    finally:
        server.shutdown()
    assert src.live and all(f.image.shape == (48, 64, 3) for f in frames)
    with pytest.raises(SourceError, match="stream cannot be opened"):
        open_source("http://127.0.0.1:9/nothing.mjpg")


def test_replay_source_and_realtime_pacing(toy_data):
    clip_path = sorted((toy_data / "wave").glob("*.npz"))[0]
    src = ReplaySource(clip_path, loop=False, realtime=True)
    start = time.perf_counter()
    frames = [src.read() for _ in range(10)]
    elapsed = time.perf_counter() - start
    assert src.provides_skeletons and all(
        f.skeleton is not None and f.image is None for f in frames
    )
    assert elapsed >= 9 / 30 * 0.9  # paced to the clip's 30 fps
    np.testing.assert_array_equal(frames[3].skeleton.keypoints, load_clip(clip_path).keypoints[3])
    demo = open_source("demo")
    assert demo.provides_skeletons and demo.read() is not None
