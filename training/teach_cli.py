"""relsar-teach: teach actions to a model from clip folders (the app's Teach, headless)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.table import Table

from relsar_core.cli import console, run_cli, warn


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relsar-teach",
        description="Teach new actions to a .tflite model from example clips, as the app's Teach "
        "does: every <action>/ folder of --data (clips .npz) is taught, replacing that action's "
        "earlier examples; the result is saved as MODEL's .taught.npz beside it.",
    )
    p.add_argument(
        "model", type=Path, metavar="MODEL", help="the .tflite model (its .json beside it)"
    )
    p.add_argument("--data", type=Path, help="folder of <action>/<clip>.npz example clips to teach")
    p.add_argument(
        "--forget", metavar="NAME", action="append", help="forget a taught action (repeatable)"
    )
    p.add_argument("--forget-all", action="store_true", help="forget every taught action")
    p.add_argument("--list", action="store_true", help="list the taught actions and their examples")
    p.add_argument(
        "--base-data",
        type=Path,
        help="<class>/<clip>.npz clips of the model's own classes (e.g. its training data): store "
        "base-class centroids in the sidecar, for a model converted before it held them (a model "
        "converted before the teaching embedding existed gets that output first)",
    )
    p.add_argument(
        "--stride", type=int, default=5, help="frames between example windows (default 5)"
    )
    return p


def _show(model: Path) -> None:
    from relsar_core.live.pipeline import open_classifier

    classifier, warning = open_classifier(model)
    if warning:
        warn(warning)
    if not hasattr(classifier, "head"):
        console.print(f"{model}: no taught actions", markup=False)
        return
    table = Table(title=f"taught actions of {model.name}")
    cols = ("action", "clips", "windows", "outliers left out", "radius", "held-out score", "note")
    for col in cols:
        table.add_column(col)
    scores = classifier.loco_scores()  # what the app's Teach shows before switching
    for s in classifier.summaries():
        note = f"looks like {s.looks_like}" if s.looks_like else ""
        held = "— (one clip)" if scores[s.name] is None else f"{scores[s.name]:.0%}"
        table.add_row(
            s.name, str(s.clips), str(s.windows), str(s.outliers), f"{s.radius:.3f}", held, note
        )
    console.print(table)
    console.print(
        "held-out score: the share of an action's example windows named that action when "
        "their clip is left out of teaching"
    )
    score = classifier.separability()
    if score is not None:
        console.print(f"leave-one-clip-out separability of the taught actions: {score:.0%}")
    if not classifier.has_base_gate:
        console.print(
            "[yellow]warning:[/] the model's sidecar has no base-class centroids, so taught actions "
            "may take base-class windows: re-convert it, or pass --base-data"
        )
    for s in classifier.summaries():
        if s.looks_like:
            warn(f"“{s.name}” looks like {s.looks_like}")
    for name in sorted(set(classifier.taught_classes) & set(classifier.base_classes)):
        console.print(
            f"note: “{name}” is one of the model's own actions: its examples add to it "
            "(it is named as before, and also where the examples are nearer)",
            markup=False,
        )


def _check_before_changing(args: argparse.Namespace) -> None:
    """Every argument that can fail is checked before the first change: an unknown --forget
    name or an empty --data folder never leaves the other actions half forgotten."""
    from relsar_core.data import teaching
    from relsar_core.errors import DataError
    from relsar_core.runtime import fewshot

    if args.data:
        teaching.example_folders(args.data)
    if args.base_data and not args.base_data.is_dir():
        raise DataError(f"{args.base_data}: no such data folder (--base-data)")
    if args.forget and not args.forget_all:
        old = fewshot.load_taught(args.model)
        unknown = [n for n in args.forget if old is None or n not in old.labels.tolist()]
        if unknown:
            names = ", ".join(f"“{name}”" for name in unknown)
            raise DataError(f"{fewshot.taught_path(args.model)}: no taught action {names}")


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    from relsar_core.data import teaching
    from relsar_core.errors import DataError
    from relsar_core.runtime import fewshot

    if args.stride < 1:
        raise DataError(f"--stride must be at least 1, got {args.stride}")
    if not (args.data or args.forget or args.forget_all or args.list or args.base_data):
        raise DataError(
            f"{args.model}: nothing to do: give --data, --forget, --list or --base-data"
        )
    from relsar_core.runtime.tflite import TfliteClassifier

    TfliteClassifier(args.model)  # a bad model fails here, with one line, before anything changes
    _check_before_changing(args)
    if args.base_data:
        taught = fewshot.taught_path(args.model).is_file()
        n, added = teaching.add_base_centroids(args.model, args.base_data, args.stride)
        if added:
            again = "; the actions taught before must be taught again" if taught else ""
            console.print(f"added the teaching embedding output (teach_embedding){again}")
        console.print(
            f"stored base-class centroids from {n} windows of {args.base_data}", markup=False
        )
    if args.forget_all:
        if fewshot.forget_taught(args.model):
            console.print("forgot every taught action")
        else:
            console.print(f"{args.model}: no taught actions to forget", markup=False)
    for name in [] if args.forget_all else args.forget or []:
        if not fewshot.forget_taught(args.model, name):
            raise DataError(f"{fewshot.taught_path(args.model)}: no taught action “{name}”")
        console.print(f"forgot “{name}”", markup=False)
    if args.data:
        classifier = teaching.teach_folder(args.model, args.data, args.stride)
        console.print(
            f"taught {', '.join(classifier.taught_classes)} → {fewshot.taught_path(args.model)}",
            markup=False,
        )
    if args.list or args.data:
        _show(args.model)
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()
