"""relsar-eval: score a `.tflite` model (and its taught actions) on a labelled folder of clips.

    relsar-eval MODEL.tflite --data DIR [--out results.json] [--stride 5] [--out-of-set DIR]

Prints window and clip accuracy, macro-F1 and per-class precision/recall; writes results.json
(also per-clip predictions) and, in a folder beside it, the confusion matrix as CSV and PNG.
`--out-of-set DIR` also measures how often motions that are no class are shown as one with the
app's default threshold and smoothing. The model is scored as the app runs it, with the open-set
gate its sidecar may hold (relsar_core.runtime.rejection); `--no-gate` scores the model alone.
Flip test-time averaging (relsar_core.runtime.flip_average) is on when the sidecar says so;
`--no-flip-average` scores one view per window.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from relsar_core.cli import console, run_cli, warn


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relsar-eval",
        description="Score a .tflite action model (with its taught actions) on a labelled clip "
        "folder <DIR>/<class>/<clip>.npz: window and clip accuracy, macro-F1, per-class "
        "precision/recall, confusion matrix (CSV + PNG) and per-clip predictions.",
    )
    p.add_argument("model", type=Path, help="the .tflite model (its .json beside it)")
    p.add_argument("--data", type=Path, required=True, help="labelled folder <class>/<clip>.npz")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("eval_results.json"),
        help="results JSON (default eval_results.json); the confusion matrix goes in a folder beside it",
    )
    p.add_argument(
        "--stride", type=int, default=5, help="frames between windows (default 5, as the app)"
    )
    p.add_argument(
        "--out-of-set",
        type=Path,
        default=None,
        help="folder <motion>/<clip>.npz of motions that are no class: rate shown as a class",
    )
    p.add_argument(
        "--no-gate",
        action="store_true",
        help="leave out the model's open-set gate (the app uses it): the classifier alone",
    )
    p.add_argument(
        "--no-flip-average",
        action="store_true",
        help="leave out the flip test-time averaging the sidecar may ask for: one view per window",
    )
    return p


def _main(argv: list[str] | None = None) -> int:
    from relsar_core.data.datasets import find_clips
    from relsar_core.data.evaluate import evaluate_folder, out_dir_for, shown_rates
    from relsar_core.data.report import format_report
    from relsar_core.errors import DataError
    from relsar_core.files import check_output_dir, check_output_file, write_json
    from relsar_core.live.pipeline import open_classifier

    args = _parser().parse_args(argv)
    if args.stride < 1:
        raise DataError(f"--stride must be at least 1, got {args.stride}")
    if not args.data.is_dir():
        raise DataError(f"{args.data}: no such data folder")
    # Before minutes of scoring: the results file and the folder beside it can be written.
    check_output_file(args.out)
    check_output_dir(out_dir_for(args.out), "--out (its report folder)")
    if args.out_of_set is not None:
        find_clips(args.out_of_set)  # its folders and clips, or one line, before any scoring
    model, warning = open_classifier(
        args.model,
        None,
        gate=not args.no_gate,
        flip_average=False if args.no_flip_average else None,
    )
    if warning:
        warn(warning)
    report = evaluate_folder(model, args.data, out_dir_for(args.out), args.stride, str(args.data))
    report["model"] = str(args.model)
    report["open_set_gate"] = hasattr(model, "rejection") or hasattr(
        getattr(model, "base", None), "rejection"
    )
    report["flip_average"] = bool(
        getattr(model, "flip_average", None)
        or getattr(getattr(model, "base", None), "flip_average", False)
    )
    console.print(format_report(report), highlight=False, markup=False)
    if args.out_of_set is not None:
        report["out_of_set"] = shown_rates(model, args.out_of_set, args.stride)
        r = report["out_of_set"]
        console.print(
            f"out of set ({r['windows']} windows): shown as an action {r['shown_as_action']:.1%}, "
            f"as any class {r['shown_as_any_class']:.1%}",
            highlight=False,
        )
    write_json(args.out, report, indent=1)
    console.print(
        f"wrote {args.out} and {out_dir_for(args.out)}/confusion_matrix.{{csv,png}}", markup=False
    )
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()
