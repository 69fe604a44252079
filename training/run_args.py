"""The arguments the relsar-train modes share, and how a run starts or resumes."""

from __future__ import annotations

import argparse
from pathlib import Path

from relsar_core.cli import console
from relsar_core.data.datasets import DATA_FORMATS, SPLIT_PROTOCOLS


def add_overwrite_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (default: refuse, so no run is lost)",
    )


def read_run_info(run_dir: Path) -> dict:
    """RUN_DIR/run.json of a run to resume; a missing or corrupt one is one clear error."""
    from relsar_core.errors import RelsarError
    from relsar_core.files import read_run_file

    if not (run_dir / "run.json").is_file():
        raise RelsarError(f"{run_dir}: not a run folder to resume (no run.json)")
    read_run_file(run_dir / "state.json")  # checked now, not after the data is loaded
    return read_run_file(run_dir / "run.json")


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
        choices=DATA_FORMATS,
        default=DATA_FORMATS[0],
        help="folder of clips (default) or the upstream per-class .npy files, cut into 30-frame blocks",
    )
    add_test_split_arguments(
        g,
        "random: stratified split by clip with the config's seed and fractions (default); "
        "nwucla-cross-view: views 1, 2 train / view 3 test, views read from file names (…_v03)",
        "a separate labelled folder used as the test set "
        "(e.g. held-out cameras); then --data is split into train/val only",
    )


def add_test_split_arguments(p, protocol_help: str, test_data_help: str) -> None:
    """--protocol and --test-data: which clips are the test side (evaluation modes and byol,
    which must leave exactly those out of pre-training)."""
    p.add_argument(
        "--protocol", choices=SPLIT_PROTOCOLS, default=SPLIT_PROTOCOLS[0], help=protocol_help
    )
    p.add_argument("--test-data", type=Path, help=test_data_help)


def add_resume_argument(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help=help)


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
    add_resume_argument(
        p,
        "continue an interrupted run from its last finished epoch (other options are read from the run)",
    )
    add_overwrite_argument(p)
    o = p.add_argument_group("overrides of the config's train section")
    o.add_argument(
        "--epochs",
        type=int,
        help="train.epochs (with --resume: train on up to this many; the learning-rate "
        "schedule stays the run's)",
    )
    o.add_argument("--batch-size", type=int, help="train.batch_size: windows per step")
    o.add_argument("--learning-rate", type=float, help="train.learning_rate: the peak rate")
    o.add_argument("--seed", type=int, help="train.seed: weights and augmentation (not the split)")


def train_overrides(args: argparse.Namespace) -> dict:
    """The --epochs/--batch-size/--learning-rate/--seed values given, as config keys."""
    names = ("epochs", "batch_size", "learning_rate", "seed")
    return {key: getattr(args, key) for key in names if getattr(args, key, None) is not None}


def resolve_run(args: argparse.Namespace):
    """(config, data arguments, run folder, resuming?) from fresh arguments or from a run to resume."""
    from relsar_core.config import load_config
    from relsar_core.errors import RelsarError
    from relsar_core.files import prepare_new_run
    from relsar_core.train.model import resolve_size

    if args.resume:
        info = read_run_info(args.resume)
        kind = str(info.get("mode", "")).split("-")[0]  # supervised-kfold is resumed as supervised
        if kind and getattr(args, "mode", kind) != kind:
            raise RelsarError(
                f"{args.resume}: a {kind} run; resume it with `relsar-train {kind} --resume "
                f"{args.resume}`"
            )
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


def load_data(config, data_args: dict, label_fraction: float = 1.0):
    from relsar_core.data.datasets import load_splits
    from relsar_core.train.augment import view_source_frames

    with console.status("loading clips and cutting windows…"):
        splits = load_splits(
            source_frames=view_source_frames(config.data.window, config.augment),
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
    labels = (
        f"; labels of {label_fraction:.0%} of the training and validation clips are used"
        if label_fraction < 1
        else ""
    )
    console.print(
        f"{len(splits.train.class_names)} classes {splits.train.class_names}; windows: {sizes}"
        f"{labels}",
        markup=False,
    )
    return splits
