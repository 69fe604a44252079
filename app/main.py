"""relsar-app: live skeleton action recognition in a window, or headless into a JSON-lines file."""

from __future__ import annotations

import time

LAUNCHED = time.perf_counter()  # before the heavy imports: "time to first frame" starts here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from relsar_core.cli import console, given_flags, run_cli, warn  # noqa: E402
from relsar_core.live.people_mode import MAX_LIVE_PEOPLE  # noqa: E402
from relsar_core.pose.factory import DEFAULT_POSE_BACKEND, POSE_BACKENDS  # noqa: E402

HEADLESS_HINT = (
    "run without a window: relsar-app --headless --source FILE --out results.jsonl "
    "(or under a virtual display: xvfb-run relsar-app)"
)
# Qt platforms that draw without an X11 or Wayland display.
_DISPLAYLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relsar-app",
        description="Live skeleton action recognition: camera, video, stream or skeleton replay → "
        "pose → ReL-SAR classifier → the action named live. Settings persist between launches; "
        "options given here override them.",
    )
    p.add_argument(
        "--source",
        help="camera[:N], demo, a video file, a stream URL (rtsp://, http://), "
        "a skeleton replay (.npz clip or folder) or several clips replayed as people at once "
        "(a.npz+b.npz, with --people). Default: the last one used, else the "
        "first camera, else the demo",
    )
    p.add_argument(
        "--model",
        type=Path,
        help="classifier .tflite (its .json beside it); default: "
        "the last one used, else relsar_core/assets/models/default.tflite",
    )
    p.add_argument(
        "--pose",
        choices=POSE_BACKENDS,
        help="pose backend for cameras "
        f"and videos (default {DEFAULT_POSE_BACKEND}, after `relsar-models fetch default`)",
    )
    p.add_argument("--pose-weights", type=Path, help="ViTPose checkpoint (.pth) for --pose vitpose")
    p.add_argument(
        "--people",
        "--max-people",
        dest="people",
        type=int,
        metavar="N",
        help="follow up to N people, each with their own id, box and label (default 1: the one "
        "person, fastest; headless then writes one line per person per window)",
    )
    p.add_argument("--stride", type=int, help="classify every N frames (default 5)")
    p.add_argument(
        "--smoothing",
        type=float,
        metavar="ALPHA",
        help="weight of the newest window in the running average, (0, 1]; 1 = none (default 0.5)",
    )
    p.add_argument(
        "--threshold", type=float, help="below this confidence the action shows as — (default 0.5)"
    )
    loop = p.add_mutually_exclusive_group()
    loop.add_argument(
        "--loop",
        dest="loop",
        action="store_true",
        default=None,
        help="start files and replays again at the end (window default)",
    )
    loop.add_argument(
        "--no-loop",
        dest="loop",
        action="store_false",
        help="stop at the end of a file or replay (headless default)",
    )
    p.add_argument(
        "--headless",
        action="store_true",
        help="no window: run the pipeline on --source and "
        "write one JSON line per classified window to --out",
    )
    p.add_argument(
        "--out", type=Path, help="headless: results file (.jsonl); '-' or omitted = stdout"
    )
    p.add_argument(
        "--settings",
        type=Path,
        help="keep settings in this .ini file instead of the "
        "user's settings (portable installs, tests)",
    )
    p.add_argument(
        "--quit-after",
        type=float,
        metavar="SECONDS",
        help="window: close after this long (demos, screenshots, benchmarks)",
    )
    p.add_argument(
        "--screenshot",
        type=Path,
        help="window: save a PNG of the window just before --quit-after closes it",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="window: print JSON lines with the time to "
        "the first frame on screen and, on closing, FPS, latency and memory",
    )
    return p


def _check_values(args: argparse.Namespace) -> None:
    from relsar_core.errors import ConfigError

    if args.stride is not None and args.stride < 1:
        raise ConfigError(f"--stride must be at least 1, got {args.stride}")
    if args.smoothing is not None and not 0 < args.smoothing <= 1:
        raise ConfigError(f"--smoothing must lie in (0, 1], got {args.smoothing}")
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise ConfigError(f"--threshold must lie in [0, 1], got {args.threshold}")
    if args.people is not None and not 1 <= args.people <= MAX_LIVE_PEOPLE:
        raise ConfigError(f"--people must lie in 1–{MAX_LIVE_PEOPLE}, got {args.people}")


def has_display() -> bool:
    """Whether Qt can open a window here (always on Windows and macOS)."""
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in _DISPLAYLESS_PLATFORMS:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _headless(args: argparse.Namespace) -> int:
    from relsar_core.assets import DEFAULT_MODEL
    from relsar_core.errors import ConfigError
    from relsar_core.files import check_output_file
    from relsar_core.live.crowd import open_any_source, people_of
    from relsar_core.live.headless import run_headless
    from relsar_core.live.pipeline import LivePipeline, open_classifier, open_pose

    if not args.source:
        raise ConfigError(
            "--headless needs --source (a video, a .npz clip or folder, a URL or camera:N)"
        )
    to_file = args.out not in (None, Path("-"))
    if to_file:
        check_output_file(args.out)  # before any work, not after the whole source
    classifier, warning = open_classifier(args.model or DEFAULT_MODEL)
    if warning:
        warn(warning)
    source = open_any_source(args.source, loop=bool(args.loop), realtime=False)
    if args.loop and to_file and not source.live:
        source.close()
        raise ConfigError(
            f"--loop with --out {args.out}: a looped file never ends, so its results would "
            "never be written; drop --loop (or write to stdout with --out -)"
        )
    try:
        pose = (
            None
            if source.provides_skeletons
            else open_pose(args.pose or DEFAULT_POSE_BACKEND, args.pose_weights, args.people or 1)
        )
        pipeline = LivePipeline(
            classifier,
            pose,
            args.stride or 5,
            alpha=args.smoothing or 0.5,
            threshold=0.5 if args.threshold is None else args.threshold,
            people=people_of(source, args.people or 1),
            fps=source.fps,
        )
        summary = run_headless(
            source, pipeline, args.out, progress=args.out not in (None, Path("-"))
        )
    finally:
        source.close()
    if not summary["windows"]:
        warn(
            f"{args.source}: nothing was classified in {summary['frames']} frames (a window "
            f"needs {classifier.window} frames in a row with a person in view)"
        )
    if args.out not in (None, Path("-")):
        console.print(
            f"{summary['windows']} windows from {summary['frames']} frames → {args.out} "
            f"(latency p50 {summary['latency_p50_ms']:.1f} ms, p95 {summary['latency_p95_ms']:.1f} ms)",
            markup=False,
        )
    return 0


def _window(args: argparse.Namespace) -> int:
    from relsar_core.errors import RelsarError

    if not has_display():
        raise RelsarError(
            f"no display found ($DISPLAY and $WAYLAND_DISPLAY are unset); {HEADLESS_HINT}"
        )
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.settings import open_store
    from app.window import MainWindow

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    qt_app.setApplicationName("ReL-SAR Live")
    overrides = {
        "model": str(args.model) if args.model else None,
        "pose_backend": args.pose,
        "pose_weights": str(args.pose_weights) if args.pose_weights else None,
        "stride": args.stride,
        "alpha": args.smoothing,
        "threshold": args.threshold,
        "loop": args.loop,
        "people": args.people,
    }
    window = MainWindow(
        open_store(str(args.settings) if args.settings else None), args.source, overrides
    )
    window.show()
    if args.report:
        _report_first_frame(window)
        from app.gaps import CloseHook, report_messages

        window.installEventFilter(CloseHook(window, lambda: _report_stats(window)))
        report_messages(window, LAUNCHED)
    if args.quit_after:
        QTimer.singleShot(int(args.quit_after * 1000), lambda: _finish(window, args))
    return qt_app.exec()


def _report_first_frame(window) -> None:
    def check() -> None:
        if window.first_frame_time is None:
            return
        timer.stop()
        print(
            json.dumps(
                {"event": "first_frame", "seconds": round(window.first_frame_time - LAUNCHED, 3)}
            ),
            flush=True,
        )
        # From the first frame on, every event-loop gap over 50 ms is printed as it happens.
        window.gap_meter = GapMeter(LAUNCHED, print_over_ms=50)

    from PySide6.QtCore import QTimer

    from app.gaps import GapMeter

    timer = QTimer(window, interval=5, timeout=check)
    timer.start()


def _finish(window, args: argparse.Namespace) -> None:
    if args.screenshot:
        window.grab().save(str(args.screenshot))
    window.close()


def _report_stats(window) -> None:
    """On quitting (--quit-after, Ctrl+Q or closing the window): FPS, latency, memory and the
    longest event-loop gap since the first frame."""
    from relsar_core.timing import rss_mb

    lat = window.bridge.latency_p50_p95()
    runner = window.bridge.runner
    meter = getattr(window, "gap_meter", None)
    elapsed = time.perf_counter() - (window.first_frame_time or LAUNCHED)
    print(
        json.dumps(
            {
                "event": "stats",
                "frames": runner.frames_processed if runner else 0,
                "fps": round((runner.frames_processed if runner else 0) / max(elapsed, 1e-6), 2),
                "dropped": runner.slot.dropped if runner else 0,
                "latency_p50_ms": lat and round(lat[0], 3),
                "latency_p95_ms": lat and round(lat[1], 3),
                "rss_mb": round(rss_mb(), 1),
                "message": window.banner.text,
                "max_gap_ms": meter and round(meter.max_ms, 1),
                "max_gap_at_s": meter and round(meter.max_at_s, 3),
                "max_ui_cpu_ms": meter and round(meter.max_busy_ms, 1),
            }
        ),
        flush=True,
    )


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    _check_values(args)
    # FFmpeg's own lines about a damaged file would mix with ours; the error says it in one line.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # its "[ WARN…] VIDEOIO" lines, likewise
    if args.headless:
        window_only = given_flags(args, ("quit_after", "screenshot", "report"), _parser())
        if window_only:
            warn(f"{' '.join(window_only)}: for the window only, ignored with --headless")
        return _headless(args)
    return _window(args)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()
