"""relsar-extract: turn videos into a skeleton data set (`<out>/<class>/<clip>.npz`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from relsar_core.cli import console, given_flags, run_cli, warn
from relsar_core.live.extract_people import PEOPLE_MODES
from relsar_core.pose.factory import POSE_BACKENDS
from relsar_core.pose.vitpose.config import RUNTIMES

PEOPLE_ONLY = ("min_track_frames", "max_people")  # flags of --people mode


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relsar-extract",
        description="Estimate the pose in every frame of each video and write one skeleton clip "
        "per video to OUT/<class>/<video name>.npz, the class being the video's parent folder. "
        "Resumable (finished clips are skipped), parallel, shardable across machines; a bad "
        "video is reported in the summary and OUT/extract_report*.json, never fatal.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="VIDEO_OR_DIR",
        help="video files and/or folders searched recursively (.mp4 .avi .mov .mkv ...)",
    )
    p.add_argument("--out", type=Path, required=True, help="data-set folder to write clips into")
    p.add_argument(
        "--pose",
        default="auto",
        choices=POSE_BACKENDS,
        help="pose backend; auto = ViTPose when a checkpoint is given or in the models "
        "folder, else BlazePose (default: auto)",
    )
    p.add_argument(
        "--pose-weights",
        metavar="W",
        help="ViTPose .pth/.onnx file, or a folder with BlazePose's two .tflite files",
    )
    p.add_argument(
        "--pose-runtime",
        default=RUNTIMES[0],
        choices=RUNTIMES,
        help="ViTPose runtime (default: torch)",
    )
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default: 1)")
    p.add_argument(
        "--threads", type=int, help="inference threads per worker (default: cores / workers)"
    )
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="do only shard K of N (0 <= K < N), e.g. $SLURM_ARRAY_TASK_ID/8; the "
        "split is by a hash of each clip's path, so it needs no shared file list",
    )
    p.add_argument(
        "--overlay-dir",
        type=Path,
        help="also write OVERLAY_DIR/<class>/<clip>.mp4 with the skeleton drawn, to check "
        "by eye (a folder outside OUT)",
    )
    p.add_argument(
        "--people",
        choices=PEOPLE_MODES,
        help="several people: one clip per tracked person, OUT/<class>/<video>_p<id>.npz "
        "(all: everyone tracked long enough; largest: only the person with the largest total "
        "visible area). Default: one clip per video of the one person the estimator follows",
    )
    p.add_argument(
        "--min-track-frames",
        type=int,
        default=30,
        metavar="N",
        help="with --people: leave out people tracked in fewer than N frames (default: 30, "
        "one model window)",
    )
    p.add_argument(
        "--max-people",
        type=int,
        default=4,
        metavar="N",
        help="with --people: follow at most N people at a time (default: 4)",
    )
    p.add_argument("--overwrite", action="store_true", help="redo clips that already exist")
    p.add_argument("--max-frames", type=int, help="read at most this many frames per video")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with code 1 when any video failed (default: report and exit 0)",
    )
    return p


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    # FFmpeg's own messages about broken files ("moov atom not found") would interleave with the
    # progress bar; our failure report says the same in one line. Set before OpenCV loads.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # its "[ WARN…] VIDEOIO" lines, likewise
    from relsar_core.data.extract import EstimatorSpec, extract_all, parse_shard, plan_jobs, shard
    from relsar_core.errors import ConfigError

    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads {args.threads}: must be at least 1")
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames {args.max_frames}: must be at least 1")
    if args.people and (args.workers > 1 or args.overlay_dir):
        raise ConfigError(
            "--people runs in one process without overlays: drop --workers/--overlay-dir"
        )
    if args.min_track_frames < 1 or args.max_people < 1:
        raise ConfigError("--min-track-frames and --max-people must be at least 1")
    ignored = [] if args.people else given_flags(args, PEOPLE_ONLY, _parser())
    if ignored:
        verb = "apply" if len(ignored) > 1 else "applies"
        warn(f"{' and '.join(ignored)} {verb} with --people only: ignored")
    from relsar_core.files import check_output_dir, remove_stale_temps

    check_output_dir(args.out)  # unwritable or a file: say so before any video is read
    remove_stale_temps(args.out)  # half-written clips of a killed run
    if args.overlay_dir and args.overlay_dir.resolve().is_relative_to(args.out.resolve()):
        # Its sub-folders would look like classes without clips to the data-set reader.
        raise ConfigError(f"--overlay-dir {args.overlay_dir}: must be outside --out {args.out}")
    k, n = parse_shard(args.shard) if args.shard else (0, 1)
    jobs = shard(plan_jobs(args.inputs, args.out, args.overlay_dir), k, n)
    suffix = f"-shard{k}of{n}" if args.shard else ""
    spec = EstimatorSpec(args.pose, args.pose_weights, args.pose_runtime, args.threads)
    # Build it before the progress bar: a missing model is one clear error, not one per worker.
    if args.people:
        from relsar_core.live.extract_people import open_people_estimator

        estimator = open_people_estimator(
            args.pose, args.pose_weights, args.threads, args.max_people
        )
    else:
        estimator = spec.create()
    if args.workers > 1:
        estimator.close()
        estimator = None
    console.print(
        f"{len(jobs)} videos → {args.out}  (pose: {args.pose}, workers: {args.workers})",
        markup=False,
    )

    frames = 0
    start = time.perf_counter()
    with Progress(
        TextColumn("[bold]extract"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("extract", total=len(jobs), rate="")

        def show_rate() -> None:
            elapsed = time.perf_counter() - start
            progress.update(task, rate=f"{frames / elapsed:.1f} frames/s" if elapsed > 0 else "")

        def on_frame() -> None:
            nonlocal frames
            frames += 1
            if frames % 10 == 0:
                show_rate()

        def on_result(result) -> None:
            nonlocal frames
            if args.workers > 1:
                frames += result.frames
            progress.advance(task)
            show_rate()
            if result.status == "failed":
                progress.console.print(
                    f"[red]failed[/] {escape(f'{result.video}: {result.message}')}", highlight=False
                )
            elif result.status == "done" and result.message:
                progress.console.print(
                    f"[yellow]{escape(str(result.video))}[/]: {escape(result.message)}",
                    highlight=False,
                )

        try:
            if args.people:
                from relsar_core.live.extract_people import extract_all_people

                summary = extract_all_people(
                    jobs,
                    estimator,
                    args.people,
                    args.min_track_frames,
                    args.overwrite,
                    args.max_frames,
                    on_result,
                    on_frame,
                )
            else:
                summary = extract_all(
                    jobs,
                    spec,
                    args.workers,
                    args.overwrite,
                    args.max_frames,
                    on_result,
                    on_frame,
                    estimator,
                )
        finally:
            if estimator is not None:
                estimator.close()
    elapsed = time.perf_counter() - start
    _print_summary(summary, elapsed)
    if summary.results:
        from relsar_core.files import write_json

        report = {
            "inputs": [str(p) for p in args.inputs],
            "pose": args.pose,
            "shard": args.shard,
            "seconds": round(elapsed, 2),
            "results": [r.__dict__ for r in summary.results],
        }
        path = args.out / f"extract_report{suffix}.json"
        write_json(path, report, indent=1)
        console.print(f"report: {path}", markup=False)
    return 1 if args.strict and summary.failures else 0


def _print_summary(summary, elapsed: float) -> None:
    table = Table(title="relsar-extract")
    for col in ("done", "skipped", "failed", "frames", "frames/s"):
        table.add_column(col, justify="right")
    rate = summary.frames / elapsed if elapsed > 0 else 0.0
    table.add_row(
        str(summary.count("done")),
        str(summary.count("skipped")),
        str(summary.count("failed")),
        str(summary.frames),
        f"{rate:.1f}",
    )
    console.print(table)
    for failure in summary.failures[:20]:
        console.print(
            f"  [red]✗[/] {escape(f'{failure.video}: {failure.message}')}", highlight=False
        )
    if len(summary.failures) > 20:
        console.print(f"  … and {len(summary.failures) - 20} more (see the report)")


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))
