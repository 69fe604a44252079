"""relsar-train: train ReL-SAR models. One subcommand per training mode.

Each mode is added by an `add_<mode>(subparsers)` function listed in MODES; it sets
`func`, which receives the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.cli_common import (
    add_overwrite_argument,
    console,
    quiet_tensorflow,
    read_run_info,
    run_cli,
)
from training.ssl_modes import SSL_MODES


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        type=Path,
        help="labelled data set: a folder <root>/<class>/<clip>.npz "
        "(or per-class .npy files with --format upstream-npy)",
    )
    g.add_argument(
        "--format",
        choices=["folder", "upstream-npy"],
        default="folder",
        help="folder of clips (default) or the upstream per-class .npy files, cut into 30-frame blocks",
    )
    g.add_argument(
        "--protocol",
        choices=["random", "nwucla-cross-view"],
        default="random",
        help="random: stratified split by clip with the config's seed and fractions (default); "
        "nwucla-cross-view: views 1, 2 train / view 3 test, views read from file names (…_v03)",
    )
    g.add_argument(
        "--test-data",
        type=Path,
        help="a separate labelled folder used as the test set "
        "(e.g. held-out cameras); then --data is split into train/val only",
    )


def add_run_arguments(p: argparse.ArgumentParser, default_config: str) -> None:
    p.add_argument(
        "--config",
        default=default_config,
        help=f"YAML config file or the name of a shipped one (default: {default_config}; "
        "shipped configs live in training/configs/)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="run folder to create: checkpoints, metrics.jsonl, TensorBoard logs, report/",
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an interrupted run from its last finished epoch (other options are read from the run)",
    )
    add_overwrite_argument(p)
    o = p.add_argument_group("overrides of the config's train section")
    o.add_argument("--epochs", type=int)
    o.add_argument("--batch-size", type=int)
    o.add_argument("--learning-rate", type=float)
    o.add_argument("--seed", type=int)


def train_overrides(args: argparse.Namespace) -> dict:
    names = {
        "epochs": "epochs",
        "batch_size": "batch_size",
        "learning_rate": "learning_rate",
        "seed": "seed",
    }
    return {
        key: getattr(args, attr)
        for attr, key in names.items()
        if getattr(args, attr, None) is not None
    }


def resolve_run(args: argparse.Namespace):
    """(config, data arguments, run folder, resuming?) from fresh arguments or from a run to resume."""
    from relsar_core.config import load_config
    from relsar_core.errors import RelsarError
    from relsar_core.files import prepare_new_run
    from relsar_core.train.model import resolve_size

    if args.resume:
        info = read_run_info(args.resume)
        config = load_config(args.resume / "config.yaml", train=train_overrides(args))
        return config, info.get("data_args", {}), args.resume, True
    if args.data is None or args.out is None:
        raise RelsarError("--data and --out are required (or --resume RUN_DIR)")
    config = load_config(args.config, train=train_overrides(args))
    resolve_size(config.model)  # a model that cannot be built fails now, not after loading data
    if getattr(args, "folds", 0) and args.folds < 2:
        raise RelsarError(f"--folds {args.folds}: use 0 (one split) or at least 2 folds")
    prepare_new_run(args.out, args.overwrite)
    data_args = {
        "data": str(args.data.resolve()),
        "data_format": args.format,
        "protocol": args.protocol,
        "test_data": str(args.test_data.resolve()) if args.test_data else None,
    }
    return config, data_args, args.out, False


def load_data(config, data_args: dict):
    from relsar_core.data.datasets import load_splits

    with console.status("loading clips and cutting windows…"):
        splits = load_splits(
            window=config.data.window,
            stride=config.data.stride,
            val_fraction=config.data.val_fraction,
            test_fraction=config.data.test_fraction,
            seed=config.data.seed,
            **data_args,
        )
    if splits.train.num_classes < 2:
        from relsar_core.errors import DataError

        raise DataError(
            f"{data_args['data']}: only one class ({splits.train.class_names[0]}); "
            "a classifier needs at least two class folders"
        )
    sizes = {k: (len(v) if v is not None else 0) for k, v in vars(splits).items()}
    console.print(
        f"{len(splits.train.class_names)} classes {splits.train.class_names}; windows: {sizes}"
    )
    return splits


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
        console.print(f"report, confusion matrix and checkpoints in {run_dir}")
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
    data = load_clip_folder(data_args["data"], config.data.window, config.data.stride)
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
