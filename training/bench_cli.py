"""relsar-bench: measure the classifier, pose, pipeline and training speed on this machine."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from rich.table import Table

from relsar_core.bench import EXTRA_PARTS, PARTS
from relsar_core.cli import console, run_cli
from relsar_core.errors import RelsarError
from relsar_core.files import write_json, write_text
from relsar_core.train.tf_setup import quiet_tensorflow

# relsar_core.train.label_study.METHODS, spelt here so --help needs no TensorFlow import
STUDY_METHODS = ("supervised", "byol_finetune", "byol_linear", "byol_knn")
STUDY_OPTIONS = ("validation", "fractions", "seeds", "methods", "finetune_lr_scale")


def study_plan_changes(args: argparse.Namespace) -> dict:
    """The StudyPlan fields the byol-study options set; a bad value is a one-line error."""
    changes: dict = {}
    try:
        if args.fractions:
            changes["fractions"] = tuple(float(f) for f in args.fractions.split(","))
        if args.seeds:
            if "-" in args.seeds:
                first, last = (int(s) for s in args.seeds.split("-"))
                changes["seeds"] = tuple(range(first, last + 1))
            else:
                changes["seeds"] = tuple(int(s) for s in args.seeds.split(","))
    except ValueError:
        raise RelsarError(
            f"--fractions {args.fractions!r} / --seeds {args.seeds!r}: comma-separated numbers "
            "(seeds also as a range S-T)"
        ) from None
    if not all(0 < f <= 1 for f in changes.get("fractions", (1,))):
        raise RelsarError(f"--fractions {args.fractions}: each must be in (0, 1]")
    if "seeds" in changes and (not changes["seeds"] or min(changes["seeds"]) < 0):
        raise RelsarError(f"--seeds {args.seeds}: give at least one seed, none negative")
    if args.methods:
        methods = tuple(m.strip() for m in args.methods.split(","))
        unknown = sorted(set(methods) - set(STUDY_METHODS))
        if unknown:  # a split of a non-empty string is never empty
            raise RelsarError(f"--methods: unknown {unknown}; some of {', '.join(STUDY_METHODS)}")
        changes["methods"] = methods
    if args.finetune_lr_scale is not None:
        if not args.finetune_lr_scale > 0:
            raise RelsarError(f"--finetune-lr-scale {args.finetune_lr_scale}: must be > 0")
        changes["finetune_lr_scale"] = args.finetune_lr_scale
    return changes


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relsar-bench",
        description="Measure speed on this machine against the targets in DESIGN.md. Prints one "
        "table (median and p95, ratios against baselines, pass/fail per target) and writes JSON.",
    )
    p.add_argument(
        "part",
        choices=["all", *PARTS, *EXTRA_PARTS],
        help="what to measure: all = classifier, pose, pipeline and train in one run; scaling = "
        "cost vs window length, BYOL batch size and video resolution (not part of all); teach = "
        "few-shot teaching of motions the shipped model never saw (not part of all); tracking = "
        "identity switches on synthetic crossings; people = several people on the sample video "
        "(neither part of all); byol-study = the BYOL label-efficiency study (1/5/10/100 %% labels, "
        "3 seeds; about 15 min on 2 quiet CPU cores, 22 on a busy one; not part of all)",
    )
    p.add_argument(
        "--quick", action="store_true", help="fewer repetitions: a rough number in seconds"
    )
    p.add_argument(
        "--people",
        type=int,
        default=1,
        metavar="N",
        help="pipeline: people mode with up to N people on the sample video's walkers, against "
        "one person (frames/s, frame-to-label p95, cost per person, how long each id lasts)",
    )
    p.add_argument(
        "--out", type=Path, help="write all measurements and machine info to this JSON file"
    )
    p.add_argument(
        "--data",
        type=Path,
        help="byol-study: a `relsar-data webcam` folder (train/ and test/); default: a subset "
        "generated into WORK/data",
    )
    p.add_argument(
        "--work",
        type=Path,
        help="byol-study: folder for its data, runs, byol_study.{json,md,png} (default "
        "build/byol-study, build/byol-study-quick with --quick)",
    )
    p.add_argument(
        "--validation",
        action="store_true",
        help="byol-study: run on the training folder alone, its validation clips standing in "
        "for the test side (which is never read): for tuning, not for the results",
    )
    p.add_argument(
        "--fractions",
        metavar="F,..",
        help="byol-study: label fractions in (0, 1] (default 0.01,0.05,0.1,1)",
    )
    p.add_argument(
        "--seeds", metavar="S-T|S,..", help="byol-study: seeds, e.g. 0-9 or 0,3 (default 0-2)"
    )
    p.add_argument(
        "--methods",
        metavar="M,..",
        help="byol-study: some of " + ", ".join(STUDY_METHODS) + " (default: all)",
    )
    p.add_argument(
        "--finetune-lr-scale",
        type=float,
        metavar="X",
        help="byol-study: fine-tuning's learning rate as a multiple of supervised training's "
        "(default 2, chosen on validation)",
    )
    p.add_argument(
        "--model",
        type=Path,
        help="teach: the .tflite (with its .json) to measure (default: the shipped model)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="teach: the seed of its generated clips (0: the one the head was tuned on; others "
        "are unseen clips for an untuned check)",
    )
    p.add_argument(
        "--markdown", type=Path, help="also write the table as Markdown (for docs/BENCHMARKS.md)"
    )
    return p


def _print_table(measurements) -> None:
    table = Table(title="relsar-bench")
    for col in ("part", "measure", "value", "target", "ok"):
        table.add_column(col, justify="right" if col in ("value", "target") else "left")
    for m in measurements:
        ok = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: ""}[m.passed]
        table.add_row(
            m.part,
            m.name,
            f"{m.value:,.3g} {m.unit}",
            f"{m.target} {m.unit}" if m.target else "",
            ok,
        )
    console.print(table)


def markdown_table(measurements) -> str:
    rows = ["| part | measure | value | target | ok |", "|---|---|---:|---:|---|"]
    for m in measurements:
        ok = {True: "pass", False: "**FAIL**", None: ""}[m.passed]
        target = f"{m.target} {m.unit}" if m.target else ""
        rows.append(f"| {m.part} | {m.name} | {m.value:,.3g} {m.unit} | {target} | {ok} |")
    return "\n".join(rows) + "\n"


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    quiet_tensorflow(load=args.part not in ("pose", "teach"))  # these run without TensorFlow
    from relsar_core.bench.common import machine_info
    from relsar_core.files import check_output_file

    for path, flag in ((args.out, "--out"), (args.markdown, "--markdown")):
        if path:
            check_output_file(path, flag)  # before minutes of measuring, not after
    if args.model is not None and args.part != "teach":
        raise RelsarError(f"--model is for `relsar-bench teach` only, not {args.part}")
    if args.seed != 0 and args.part != "teach":
        raise RelsarError(f"--seed is for `relsar-bench teach` only, not {args.part}")
    for option in STUDY_OPTIONS:
        value = getattr(args, option)
        if value not in (None, False) and args.part != "byol-study":
            flag = "--" + option.replace("_", "-")
            raise RelsarError(f"{flag} is for `relsar-bench byol-study` only, not {args.part}")
    plan_changes = study_plan_changes(args)
    if args.model is not None and not args.model.is_file():
        raise RelsarError(f"{args.model}: no such model file")
    parts = PARTS if args.part == "all" else (args.part,)
    measurements, seconds = [], {}
    for part in parts:
        console.print(f"[bold]{part}[/] …")
        start = time.perf_counter()
        module = importlib.import_module(f"relsar_core.bench.{part.replace('-', '_')}")
        extra = {"people": args.people} if part == "pipeline" and args.people > 1 else {}
        if part == "byol-study":
            extra = {
                "data": args.data,
                "work": args.work,
                "validation": args.validation,
                "plan_changes": plan_changes,
            }
        if part == "teach":
            extra = {"seed": args.seed, **({"model": args.model} if args.model else {})}
        measurements += module.run(quick=args.quick, **extra)
        seconds[part] = round(time.perf_counter() - start, 1)
        console.print(f"  done in {seconds[part]} s")
    _print_table(measurements)
    if args.out:
        report = {
            "machine": machine_info(),
            "command": " ".join(["relsar-bench", *(sys.argv[1:] if argv is None else argv)]),
            "quick": args.quick,
            "seconds": seconds,
            "measurements": [m.to_json() for m in measurements],
        }
        write_json(args.out, report)
        console.print(f"wrote {args.out}", markup=False)
    if args.markdown:
        write_text(args.markdown, markdown_table(measurements))
        console.print(f"wrote {args.markdown}", markup=False)
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))
