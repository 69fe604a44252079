"""relsar-train modes for self-supervised learning: `byol` (pre-training) and the evaluation
protocols `linear`, `finetune` and `knn` on a pre-trained encoder. Registered in
training/train_cli.py's MODES; they share the data and run arguments of training/run_args.py."""

from __future__ import annotations

import argparse
from pathlib import Path

from relsar_core.cli import console, given_flags, warn
from relsar_core.config import DEFAULT_PROBE_FEATURES, MODEL_SIZES, PROBE_FEATURES, STRATEGIES
from relsar_core.train.tf_setup import quiet_tensorflow
from training.run_args import (
    add_data_arguments,
    add_overwrite_argument,
    add_resume_argument,
    add_run_arguments,
    add_test_split_arguments,
    load_data,
    read_run_info,
    resolve_run,
    train_overrides,
)


def _add_strategy_argument(p: argparse.ArgumentParser, default: str | None) -> None:
    """--strategy; default None = the config's (byol)."""
    text = (
        "tf.distribute strategy: default (one device), mirrored (all local GPUs), multiworker "
        "(MultiWorkerMirroredStrategy from TF_CONFIG; see docs/DISTRIBUTED.md)"
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=default,
        help=text + ("; default: the config's" if default is None else ""),
    )


def _strategy(name: str):
    # Before any other TensorFlow work: a strategy fixes the devices it runs on.
    from relsar_core.train.distribute import make_strategy

    return make_strategy(name)


# --- byol -------------------------------------------------------------------------------------


def _byol_config(args: argparse.Namespace, source):
    from relsar_core.config import BYOLRunConfig, load_config

    byol = train_overrides(args)
    model = {"size": args.size} if args.size else {}
    return load_config(source, BYOLRunConfig, byol=byol, model=model)


def run_byol(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from relsar_core.errors import RelsarError
    from relsar_core.files import prepare_new_run
    from relsar_core.train.model import resolve_size

    if args.resume:
        info = read_run_info(args.resume)
        if not isinstance(info.get("data_args"), dict) or "dirs" not in info["data_args"]:
            raise RelsarError(f"{args.resume / 'run.json'}: not a BYOL run (no data_args.dirs)")
        config = _byol_config(args, args.resume / "config.yaml")
        data_args, run_dir = info["data_args"], args.resume
    else:
        if not args.data or args.out is None:
            raise RelsarError("--data and --out are required (or --resume RUN_DIR)")
        config = _byol_config(args, args.config)
        resolve_size(config.model)  # a model that cannot be built fails before any work
        prepare_new_run(args.out, args.overwrite)
        data_args = {
            "dirs": [str(d.resolve()) for d in args.data],
            "unlabeled": args.unlabeled,
            "protocol": args.protocol,
            "test_data": str(args.test_data.resolve()) if args.test_data else None,
        }
        run_dir = args.out
    strategy = _strategy(args.strategy or config.byol.strategy)
    from relsar_core.train.augment import view_source_frames
    from relsar_core.train.byol import resolve_precision
    from relsar_core.train.pretrain import load_pretraining_windows, pretrain_byol

    with console.status("loading clips and cutting windows…"):
        windows, data_info = load_pretraining_windows(
            data_args["dirs"],
            config.data.window,
            config.data.stride,
            data_args["unlabeled"],
            config.data,
            protocol=data_args.get("protocol", "random"),
            test_data=data_args.get("test_data"),
            source_frames=view_source_frames(config.data.window, config.augment),
        )
    console.print(
        f"{data_info['windows']} windows from {len(data_info['sources'])} folder(s); "
        f"{strategy.num_replicas_in_sync} replica(s); {resolve_precision(config.byol.precision)} "
        f"(byol.precision: {config.byol.precision})"
    )
    summary = pretrain_byol(
        windows,
        config,
        run_dir,
        bool(args.resume),
        strategy,
        run_info={"data_args": data_args, "data_info": data_info},
    )
    console.print(
        f"BYOL done: {summary['epochs']} epochs, loss {summary['loss']:.4f}, embedding spread "
        f"{summary['embedding_spread']:.3f}; encoder in {summary['encoder']}"
    )
    return 0


def add_byol(sub) -> None:
    p = sub.add_parser(
        "byol",
        help="self-supervised BYOL pre-training of the encoder (labels optional)",
        description="BYOL pre-training: online encoder → projector → predictor against an EMA target "
        "(τ 0.996 → 1, every step), symmetric loss, two on-graph augmented views. Progress bar, a "
        "checkpoint every epoch, --resume after an interruption, metrics.jsonl (loss and the collapse "
        "monitor: std of normalized embeddings × √E per step), loss.png, and RUN_DIR/encoder.keras for "
        "`relsar-train linear|finetune|knn --encoder RUN_DIR`. Labelled folders keep the test clips of "
        "--protocol/--test-data out of pre-training (the split the evaluation modes use; run.json lists "
        "the clips), and the evaluation modes refuse an encoder that saw their test clips.",
    )
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="one or more folders: <root>/<class>/<clip>.npz, upstream per-class .npy files, or "
        "(with --unlabeled) any folder tree of .npz clips",
    )
    p.add_argument(
        "--unlabeled",
        action="store_true",
        help="use every .npz under each folder, ignoring labels and class folders (nothing held out)",
    )
    add_test_split_arguments(
        p,
        "which clips of a labelled folder are the test side, left out of pre-training: as in "
        "`relsar-train linear|finetune|knn --protocol` (random: data.seed/test_fraction split)",
        "the separate test folder the evaluation will use: none of its clips may be in --data",
    )
    p.add_argument(
        "--config",
        default="byol",
        help="YAML config or a shipped name: byol (ours, default) or byol_upstream (the upstream recipe)",
    )
    p.add_argument("--out", type=Path, help="run folder to create")
    add_resume_argument(
        p,
        "continue an interrupted run from its last checkpoint (data and config are read from it; "
        "--epochs may extend it)",
    )
    add_overwrite_argument(p)
    _add_strategy_argument(p, None)
    o = p.add_argument_group("overrides of the config")
    o.add_argument("--size", choices=MODEL_SIZES, help="model size preset (model.size)")
    o.add_argument("--epochs", type=int, help="byol.epochs")
    o.add_argument(
        "--batch-size", type=int, help="byol.batch_size: the global batch over all replicas"
    )
    o.add_argument("--learning-rate", type=float, help="byol.learning_rate (peak, after warm-up)")
    o.add_argument("--seed", type=int, help="byol.seed: weights and shuffling")
    p.set_defaults(func=run_byol)


# --- linear / finetune / knn --------------------------------------------------------------------


def _protocol_args(p: argparse.ArgumentParser, default_config: str) -> None:
    add_data_arguments(p)
    add_run_arguments(p, default_config)
    p.add_argument(
        "--encoder",
        type=Path,
        metavar="RUN_DIR_OR_KERAS",
        help="the pre-trained encoder: a `relsar-train byol` run folder, its encoder.keras, or any "
        "ReL-SAR classifier .keras (its encoder is used)",
    )
    p.add_argument(
        "--label-fraction",
        type=float,
        default=1.0,
        help="semi-supervised: use only this fraction of each class's training clips as labels, "
        "e.g. 0.01 or 0.1 (at least one clip per class; default 1 = all)",
    )


def _protocol_setup(args: argparse.Namespace):
    from relsar_core.errors import RelsarError

    config, data_args, run_dir, resuming = resolve_run(args)
    encoder = args.encoder
    if resuming:
        info = read_run_info(run_dir)
        encoder, args.label_fraction = Path(info["encoder"]), info.get("label_fraction", 1.0)
    if encoder is None:
        raise RelsarError(
            "--encoder is required: a `relsar-train byol` run folder or an encoder .keras file"
        )
    from relsar_core.train.protocols import unfinished_byol

    note = unfinished_byol(encoder)
    if note:
        warn(note)
    # Before the data loads (minutes on a large set): values that cannot work.
    if not 0 < args.label_fraction <= 1:
        raise RelsarError(f"--label-fraction must be in (0, 1], got {args.label_fraction}")
    if getattr(args, "k", 1) < 1:
        raise RelsarError(f"--k must be at least 1, got {args.k}")
    return config, data_args, run_dir, resuming, encoder


def _finish(report: dict, run_dir: Path) -> int:
    from relsar_core.data.report import format_report

    console.print(format_report(report), highlight=False)
    console.print(f"report, confusion matrix and checkpoints in {run_dir}", markup=False)
    return 0


def run_linear(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    strategy = _strategy(args.strategy)
    from relsar_core.train.protocols import linear_probe

    config, data_args, run_dir, resuming, encoder = _protocol_setup(args)
    if resuming:  # the run's own head input; runs from before the option read the embedding
        args.probe_features = read_run_info(run_dir).get("probe_features", "embedding")
    splits = load_data(config, data_args, args.label_fraction)
    report = linear_probe(
        encoder,
        splits,
        config,
        run_dir,
        resuming,
        args.label_fraction,
        strategy,
        run_info={"data_args": data_args},
        probe_features=args.probe_features,
    )
    return _finish(report, run_dir)


def run_finetune(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    strategy = _strategy(args.strategy)
    from relsar_core.train.protocols import finetune

    config, data_args, run_dir, resuming, encoder = _protocol_setup(args)
    if resuming:
        args.freeze_stem = read_run_info(run_dir).get("freeze_stem", False)
    splits = load_data(config, data_args, args.label_fraction)
    report = finetune(
        encoder,
        splits,
        config,
        run_dir,
        resuming,
        args.label_fraction,
        args.freeze_stem,
        strategy,
        run_info={"data_args": data_args},
    )
    return _finish(report, run_dir)


KNN_UNUSED = ("epochs", "batch_size", "learning_rate")


def run_knn(args: argparse.Namespace) -> int:
    given = given_flags(args, KNN_UNUSED)
    if given:
        warn(f"{' '.join(given)}: k-NN trains nothing, ignored")
    quiet_tensorflow()
    from relsar_core.train.protocols import knn_eval

    config, data_args, run_dir, _, encoder = _protocol_setup(args)
    splits = load_data(config, data_args, args.label_fraction)
    report = knn_eval(
        encoder,
        splits,
        config,
        run_dir,
        args.k,
        args.label_fraction,
        run_info={"data_args": data_args},
    )
    console.print(
        f"nearest-class-mean accuracy {report['nearest_class_mean_accuracy']:.3f} (saved as best.keras)"
    )
    return _finish(report, run_dir)


def add_linear(sub) -> None:
    p = sub.add_parser(
        "linear",
        help="linear probe: a linear head on the frozen pre-trained encoder",
        description="Linear evaluation protocol: the encoder is frozen (BatchNorm in inference mode) and "
        "only a Dense head is trained, with the supervised loop (checkpoints, resume, early stopping). "
        "Writes the same run folder and report/ as `relsar-train supervised`.",
    )
    _protocol_args(p, "linear")
    p.add_argument(
        "--probe-features",
        choices=PROBE_FEATURES,
        default=DEFAULT_PROBE_FEATURES,
        help="what the head reads from the frozen encoder: embedding (its output alone), or the "
        "last transformer block's frame tokens mean- and max-pooled, after the embedding "
        "(embedding_mean_max, the default: what `relsar-bench byol-study` probes, chosen on "
        "validation), after the CLS token (cls_mean_max) or alone (mean_max)",
    )
    _add_strategy_argument(p, "default")
    p.set_defaults(func=run_linear)


def add_finetune(sub) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune the whole pre-trained network with a new head",
        description="Fine-tuning protocol: encoder initialised from BYOL, a new Dense head, everything "
        "trained (or all but the Conv1D stem with --freeze-stem, as the paper studies). Writes the same "
        "run folder and report/ as `relsar-train supervised`.",
    )
    _protocol_args(p, "finetune")
    p.add_argument(
        "--freeze-stem",
        action="store_true",
        help="keep the Conv1D stem (conv1, conv2 and their BatchNorm) fixed",
    )
    _add_strategy_argument(p, "default")
    p.set_defaults(func=run_finetune)


def add_knn(sub) -> None:
    p = sub.add_parser(
        "knn",
        help="k-NN accuracy on the pre-trained encoder's embeddings",
        description="k-NN protocol: test windows are classified by a distance-weighted vote of their k "
        "nearest (cosine) training windows in embedding space. Writes report/ like the other modes, and "
        "best.keras: the encoder with a nearest-class-mean head (the app can load it).",
    )
    _protocol_args(p, "linear")
    p.add_argument("--k", type=int, default=20, help="neighbours that vote (default 20)")
    for action in p._actions:  # k-NN trains nothing: these are not its flags
        if action.dest in KNN_UNUSED:
            action.help = argparse.SUPPRESS
    p.set_defaults(func=run_knn)


SSL_MODES = [add_byol, add_linear, add_finetune, add_knn]
