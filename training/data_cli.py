"""relsar-data: make skeleton data sets. `relsar-data mocap` builds the default model's data from
the motion capture shipped in pybullet_data (see relsar_core.data.mocap)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from relsar_core.cli import console, run_cli


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relsar-data", description="Make labelled skeleton data sets.")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser(
        "mocap",
        help="2-D skeleton clips from DeepMimic motion capture seen by many virtual cameras",
        description="Pose DeepMimic's motion-capture clips (pybullet_data) with pybullet, vary the "
        "body, tempo and mirroring, project them through many virtual cameras, add pose-estimator "
        "errors, and write OUT/train/<class>/*.npz and OUT/test/<class>/*.npz (the test side uses "
        "camera set-ups, cycle phases and still poses never seen in training) plus OUT/manifest.json. "
        "Deterministic from --seed.",
    )
    m.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder to write train/, test/ and manifest.json into",
    )
    m.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed; the same seed gives the same files (default 0)",
    )
    m.add_argument(
        "--cameras",
        type=int,
        default=48,
        help="camera set-ups in all, a quarter for the test side (default 48)",
    )
    m.add_argument(
        "--train-clips", type=int, default=240, help="training clips per class (default 240)"
    )
    m.add_argument("--test-clips", type=int, default=60, help="test clips per class (default 60)")
    m.add_argument(
        "--min-frames",
        type=int,
        default=45,
        help="shortest clip of a repeated motion or still, frames (default 45)",
    )
    m.add_argument(
        "--max-frames",
        type=int,
        default=90,
        help="longest clip of a repeated motion or still, frames (default 90)",
    )
    m.add_argument(
        "--fps", type=float, default=30.0, help="frame rate of the written clips (default 30)"
    )
    m.add_argument(
        "--noise",
        type=float,
        nargs=2,
        default=(0.2, 1.5),
        metavar=("LOW", "HIGH"),
        help="range of the pose-estimator error level per clip; 0 0 writes clean skeletons (default 0.2 1.5)",
    )
    m.add_argument(
        "--mirror",
        type=float,
        default=0.5,
        help="probability that a clip is mirrored (default 0.5)",
    )
    m.add_argument(
        "--overwrite", action="store_true", help="replace OUT/train and OUT/test if they exist"
    )
    w = sub.add_parser(
        "webcam",
        help="the default model's webcam data: 14 actions + `other`, whole / upper-body / partial "
        "framings",
        description="Keyframed actions (and DeepMimic takes, training only) on the DeepMimic "
        "humanoid, randomised in amplitude, timing, handedness, repetitions, style, idle motion and "
        "base posture (standing or seated), seen by laptop/desk/room cameras whole, upper body only "
        "or partly out of frame, with pose-estimator errors calibrated on BlazePose. Writes "
        "OUT/{train,test,test_whole,test_upper,out_of_set,val_out_of_set}/ and OUT/manifest.json; the test holds "
        "out viewpoints (closed under mirroring), styles and body proportions.",
    )
    w.add_argument("--out", type=Path, required=True, help="folder to write the data set into")
    w.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    w.add_argument(
        "--train-clips",
        type=int,
        default=200,
        help="training clips per class (default 200; the `other` class gets 1.5x as many)",
    )
    w.add_argument("--test-clips", type=int, default=50, help="test clips per class (default 50)")
    w.add_argument(
        "--out-of-set-clips", type=int, default=24, help="clips per out-of-set motion (default 24)"
    )
    w.add_argument("--overwrite", action="store_true", help="replace an existing data set in OUT")
    t = sub.add_parser(
        "toy",
        help="a small separable toy data set of synthetic motions (seconds; for tries and tests)",
        description="Write OUT/<class>/<clip>.npz for five synthetic motions of a standing figure "
        "(wave, squat, jump, arms_up, still), varied in position, size, tempo and noise. Made in "
        "seconds; good for trying every tool end to end, not for a real model.",
    )
    t.add_argument("--out", type=Path, required=True, help="data-set folder to write")
    t.add_argument("--clips", type=int, default=12, help="clips per class (default 12)")
    t.add_argument("--frames", type=int, default=60, help="frames per clip (default 60)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the clips of an existing toy data set in OUT: every .npz in OUT's toy "
        "class folders (wave/, squat/, …) is deleted first, recordings of your own there "
        "included; other folders are kept (default: refuse)",
    )
    return p


def _check(args: argparse.Namespace) -> None:
    from relsar_core.errors import DataError

    problems = [
        (args.cameras < 2, f"--cameras must be at least 2, got {args.cameras}"),
        (
            args.train_clips < 1 or args.test_clips < 1,
            "--train-clips and --test-clips must be at least 1",
        ),
        (
            args.min_frames < 30,
            f"--min-frames must be at least the model window (30), got {args.min_frames}",
        ),
        (args.max_frames < args.min_frames, "--max-frames must not be below --min-frames"),
        (args.fps <= 0, f"--fps must be positive, got {args.fps}"),
        (
            not 0 <= args.noise[0] <= args.noise[1],
            f"--noise needs 0 <= LOW <= HIGH, got {args.noise}",
        ),
        (not 0 <= args.mirror <= 1, f"--mirror is a probability in [0, 1], got {args.mirror}"),
    ]
    for bad, message in problems:
        if bad:
            raise DataError(f"{args.out}: {message}")


def _mocap(args: argparse.Namespace) -> int:
    from relsar_core.data.mocap.classes import CLASS_NAMES
    from relsar_core.data.mocap.generate import GeneratorConfig, generate_dataset
    from relsar_core.errors import DataError
    from relsar_core.files import check_output_dir

    _check(args)
    check_output_dir(args.out)
    config = GeneratorConfig(
        seed=args.seed,
        cameras=args.cameras,
        train_clips=args.train_clips,
        test_clips=args.test_clips,
        min_frames=args.min_frames,
        max_frames=args.max_frames,
        fps=args.fps,
        noise=tuple(args.noise),
        mirror=args.mirror,
    )
    total = (args.train_clips + args.test_clips) * len(CLASS_NAMES)
    start = time.perf_counter()
    columns = (TextColumn("mocap clips"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("clips", total=total)
        try:
            manifest = generate_dataset(
                args.out, config, args.overwrite, lambda: progress.advance(task)
            )
        except OSError as exc:  # a read-only or full disk: one line, not a traceback
            raise DataError(
                f"{exc.filename or args.out}: cannot write ({exc.strerror or exc})"
            ) from None
    seconds = time.perf_counter() - start
    console.print(
        f"wrote {len(manifest['clips']['train'])} training and {len(manifest['clips']['test'])} test clips "
        f"of {len(CLASS_NAMES)} classes ({', '.join(CLASS_NAMES)}) to {args.out} in {seconds:.1f} s",
        markup=False,
    )
    return 0


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "mocap":
        return _mocap(args)
    if args.command == "webcam":
        return _webcam(args)
    return _toy(args)


def _webcam(args: argparse.Namespace) -> int:
    from relsar_core.data.mocap.webcam import WebcamConfig, generate_webcam_dataset, total_clips
    from relsar_core.errors import DataError
    from relsar_core.files import check_output_dir

    if min(args.train_clips, args.test_clips, args.out_of_set_clips) < 1:
        raise DataError(f"{args.out}: clip counts must be at least 1")
    check_output_dir(args.out)  # a file or an unwritable place: say so before any clip is made
    cfg = WebcamConfig(
        args.seed,
        args.train_clips,
        args.test_clips,
        args.out_of_set_clips,
        other_clips=max(1, round(1.5 * args.train_clips)),
    )
    start = time.perf_counter()
    columns = (TextColumn("webcam clips"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("clips", total=total_clips(cfg))
        try:
            m = generate_webcam_dataset(
                args.out, cfg, args.overwrite, lambda: progress.advance(task)
            )
        except OSError as exc:
            raise DataError(
                f"{exc.filename or args.out}: cannot write ({exc.strerror or exc})"
            ) from None
    c = m["clips"]
    console.print(
        f"wrote {len(c['train'])} training, {len(c['test'])} test, {len(c['out_of_set'])} "
        f"out-of-set and {len(c['val_out_of_set'])} validation out-of-set clips to {args.out} in {time.perf_counter() - start:.1f} s",
        markup=False,
    )
    return 0


def _toy(args: argparse.Namespace) -> int:
    from relsar_core.errors import DataError
    from relsar_core.files import check_output_dir
    from relsar_core.skeleton.synthetic import TOY_CLASSES, make_toy_dataset

    if args.clips < 1 or args.frames < 30:
        raise DataError(f"{args.out}: need --clips >= 1 and --frames >= 30 (one model window)")
    out = check_output_dir(args.out)
    if out.is_dir() and any(out.iterdir()):
        if not args.overwrite:
            raise DataError(
                f"{out}: folder is not empty; old clips would mix with the new set "
                "(pass --overwrite to replace the toy classes' clips)"
            )
        for stale in (c for cls in TOY_CLASSES for c in (out / cls).glob("*.npz")):
            stale.unlink()
    make_toy_dataset(args.out, clips_per_class=args.clips, frames=args.frames, seed=args.seed)
    console.print(
        f"wrote {args.clips * len(TOY_CLASSES)} clips of {', '.join(TOY_CLASSES)} to {args.out}",
        markup=False,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    sys.exit(run_cli(_main, argv))
