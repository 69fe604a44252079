"""relsar-train: train ReL-SAR models. One subcommand per training mode.

Each mode is added by an `add_<mode>(subparsers)` function listed in MODES; it sets
`func`, which receives the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import sys

from relsar_core.cli import console, run_cli
from relsar_core.train.tf_setup import quiet_tensorflow
from training.run_args import (
    add_data_arguments,
    add_run_arguments,
    load_data,
    read_run_info,
    resolve_run,
)
from training.ssl_modes import SSL_MODES


def run_supervised(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from relsar_core.data.report import format_report
    from relsar_core.train.supervised import cross_validate, train_supervised

    config, data_args, run_dir, resuming = resolve_run(args)
    folds = read_run_info(run_dir).get("folds", 0) if resuming else args.folds
    if not folds:
        splits = load_data(config, data_args)
        report = train_supervised(
            splits, config, run_dir, resuming, run_info={"data_args": data_args}
        )
        console.print(format_report(report), highlight=False)
        console.print(f"report, confusion matrix and checkpoints in {run_dir}", markup=False)
        return 0
    from relsar_core.config import dump_config
    from relsar_core.data.datasets import load_clip_folder
    from relsar_core.files import write_json

    if not resuming:
        run_dir.mkdir(parents=True, exist_ok=True)
        dump_config(config, run_dir / "config.yaml")
        write_json(
            run_dir / "run.json",
            {"mode": "supervised-kfold", "folds": folds, "data_args": data_args},
        )
    from relsar_core.train.augment import view_source_frames

    window = config.data.window
    data = load_clip_folder(
        data_args["data"],
        window,
        config.data.stride,
        source_frames=view_source_frames(window, config.augment),
    )
    summary = cross_validate(data, config, run_dir, folds, resume=resuming)
    console.print(
        f"{folds}-fold accuracy {summary['accuracy_mean']:.3f} ± {summary['accuracy_std']:.3f} "
        f"(per fold: {', '.join(f'{a:.3f}' for a in summary['fold_accuracies'])})"
    )
    return 0


def add_supervised(sub) -> None:
    p = sub.add_parser(
        "supervised",
        help="train a classifier from scratch on labelled clips",
        description="Supervised ReL-SAR training from scratch: warm-up + cosine schedule, label smoothing, "
        "class weights, on-graph augmentation, early stopping on validation loss, best checkpoint kept, "
        "resumable. Writes RUN_DIR/{best,last}.keras, metrics.jsonl, tb/ (TensorBoard) and report/ "
        "(accuracy, per-class precision/recall, confusion matrix CSV + PNG).",
    )
    add_data_arguments(p)
    add_run_arguments(p, "supervised")
    p.add_argument(
        "--folds",
        type=int,
        default=0,
        help="k-fold cross-validation by clip instead of one split (the upstream protocol: 5); "
        "each fold gets RUN_DIR/fold_K, the summary goes to RUN_DIR/kfold.json",
    )
    p.set_defaults(func=run_supervised)


MODES = [add_supervised, *SSL_MODES]


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="relsar-train",
        description="Train ReL-SAR skeleton action models. Run `relsar-train MODE --help` for each mode.",
    )
    sub = parser.add_subparsers(dest="mode", required=True, metavar="MODE")
    for add in MODES:
        add(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))
