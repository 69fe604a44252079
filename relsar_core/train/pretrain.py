"""`relsar-train byol`: BYOL pre-training into a run folder, resumable after interruption.

RUN_DIR holds config.yaml, run.json, ckpt/ (networks + optimizer, every epoch), metrics.jsonl
(one line per step: loss and embedding spread; one `"type": "epoch"` line per epoch), loss.png,
and encoder.keras (the online encoder, refreshed every epoch, its BatchNorm statistics
re-estimated with the final weights, `byol.bn_statistics`) for the evaluation protocols.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from relsar_core.config import BYOLRunConfig, DataConfig, dump_config
from relsar_core.data.datasets import folder_clips, split_indices, upstream_clips
from relsar_core.data.held_out import refuse_overlap
from relsar_core.errors import ClipError, DataError, ModelFileError, first_line
from relsar_core.files import atomic_write, remove_stale_temps, visible, write_json, write_text
from relsar_core.skeleton.clip import load_clip
from relsar_core.skeleton.features import clip_features, padded_to
from relsar_core.train.byol import BYOL
from relsar_core.train.distribute import is_chief, replica_batch, worker_dir
from relsar_core.train.tfdata import unlabelled_dataset

console = Console(stderr=True)


def padded_windows(keypoints: np.ndarray, window: int, stride: int) -> np.ndarray:
    """clip_features of a body15 clip, a clip shorter than `window` first padded by repeating
    its last frame (pre-training source windows are longer than the model's window)."""
    return clip_features(padded_to(keypoints, window), window, stride)


def load_pretraining_windows(
    dirs: list[str | os.PathLike],
    window: int,
    stride: int,
    unlabeled: bool,
    data: DataConfig,
    protocol: str = "random",
    test_data: str | os.PathLike | None = None,
    source_frames: int | None = None,
) -> tuple[np.ndarray, dict]:
    """Source windows of `source_frames` (default `window`) frames from one or more folders →
    (windows (N, source_frames, 60), what was used). Source windows longer than the model's
    window let the speed augmentation speed motion up (augment.source_window).

    A labelled folder (`<root>/<class>/<clip>.npz`, or upstream per-class .npy files) keeps its
    test clips out: the split of `protocol` (seed and fractions of `data`), exactly the one the
    evaluation modes use, so their test reports stay honest; with `test_data` (a separate test
    folder) nothing of the folder is held out, and no test clip may be among the pre-training
    clips. With `unlabeled`, every .npz under each folder is used, labels or not. The returned
    info lists every pre-training clip and every held-out clip (run.json keeps them, and
    linear/finetune/knn refuse an encoder that saw their test clips). Clips shorter than one
    window are skipped (unlabeled) or are an error (labelled); shorter than the source, padded."""
    source_frames = source_frames or window
    parts, info, used, held_out = [], [], [], []
    real = [os.path.realpath(d) for d in dirs]
    for j in range(len(dirs)):  # its clips would count twice: a silently different data set
        if real[j] in real[:j]:
            first = dirs[real.index(real[j])]
            raise DataError(f"{dirs[j]}: the same folder as {first}, given twice in --data")
    for root in map(Path, dirs):
        if not root.is_dir():
            raise DataError(f"{root}: data folder does not exist")
        if unlabeled:
            paths = visible(root.rglob("*.npz"), root)
            if not paths:
                raise DataError(f"{root}: no .npz clips found (searched sub-folders too)")
            clips = [(p, load_clip(p).body15_at_model_rate()) for p in paths]
            usable = [(p, kp) for p, kp in clips if len(kp) >= window]
            if not usable:
                raise ClipError(f"{root}: every clip is shorter than one window of {window} frames")
            parts += [padded_windows(kp, source_frames, stride) for _, kp in usable]
            used += [str(p) for p, _ in usable]
            info.append(
                {"data": str(root), "clips": len(usable), "skipped_short": len(clips) - len(usable)}
            )
            continue
        clips = upstream_clips(root) if visible(root.glob("*.npy"), root) else folder_clips(root)
        for kp, path in zip(clips.keypoints, clips.clip_paths, strict=True):
            if len(kp) < window:
                raise ClipError(f"{path}: {len(kp)} frames is too short for one window of {window}")
        train, val, test = split_indices(
            clips,
            protocol,
            data.val_fraction,
            data.test_fraction,
            data.seed,
            separate_test=test_data is not None,
            source=root,
        )
        kept = np.sort(np.concatenate([train, val]))
        parts += [padded_windows(clips.keypoints[i], source_frames, stride) for i in kept]
        used += [clips.clip_paths[i] for i in kept]
        held_out += [clips.clip_paths[i] for i in test]
        info.append({"data": str(root), "clips": len(kept), "held_out_test_clips": len(test)})
    if test_data is not None:
        test_clips = folder_clips(test_data).clip_paths
        refuse_overlap(test_data, used, test_clips, "pre-training")
        held_out += test_clips
    windows = np.concatenate(parts).astype(np.float32, copy=False)
    return windows, {
        "sources": info,
        "windows": len(windows),
        "source_frames": source_frames,
        "protocol": protocol,
        "test_data": str(test_data) if test_data is not None else None,
        "pretraining_clips": used,
        "held_out_clips": held_out,
    }


def _plot_curves(records: list[dict], path: Path, threshold: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r for r in records if "step" in r]
    if not steps:
        return
    x = [r["step"] for r in steps]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    ax1.plot(x, [r["loss"] for r in steps], lw=0.8)
    ax1.set_ylabel("BYOL loss")
    ax2.plot(x, [r["embedding_spread"] for r in steps], lw=0.8, color="tab:green")
    ax2.axhline(threshold, color="tab:red", ls="--", lw=0.8, label="collapse warning")
    ax2.set_ylim(bottom=0)
    ax2.set_ylabel("embedding std × √E")
    ax2.set_xlabel("step")
    ax2.legend(loc="lower left")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


def _write_lines(path: Path, records: list[dict]) -> None:
    write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def _read_lines(path: Path) -> list[dict]:
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if path.is_file()
        else []
    )


# Training windows that re-estimate the saved encoder's BatchNorm statistics (a random sample).
CALIBRATION_WINDOWS = 2048


def save_encoder(byol: BYOL, path: Path, windows: np.ndarray | None = None) -> None:
    """The online encoder as a plain float32 .keras model, its BatchNorm statistics
    re-estimated on (views of) the source `windows` when given (BYOL.export_encoder)."""
    encoder = byol.export_encoder(windows)
    atomic_write(path, lambda tmp: encoder.save(tmp), keep_suffix=True)


def pretrain_byol(
    windows: np.ndarray,
    config: BYOLRunConfig,
    run_dir: str | os.PathLike,
    resume: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    run_info: dict | None = None,
    show_progress: bool = True,
) -> dict:
    """Pre-train an encoder with BYOL on `windows`; returns a summary. With resume=True, continue
    from the last finished epoch saved in run_dir (same config and data)."""
    cfg = config.byol
    run_dir = Path(run_dir)
    strategy = strategy or tf.distribute.get_strategy()
    replica_batch(cfg.batch_size, strategy)  # checks that the global batch splits evenly
    steps_per_epoch = len(windows) // cfg.batch_size
    if steps_per_epoch == 0:
        raise DataError(
            f"only {len(windows)} windows: fewer than one batch of {cfg.batch_size}; lower byol.batch_size"
        )
    chief = is_chief(strategy)
    ckpt_dir = worker_dir(run_dir, strategy) / "ckpt"
    if resume and tf.train.latest_checkpoint(str(ckpt_dir)) is None:
        # Interrupted in its first epoch: nothing was trained yet, so start that epoch again.
        console.print(
            f"{run_dir}: no finished epoch to resume from; starting at epoch 1", markup=False
        )
        resume = False
    if not resume:
        keras.utils.set_random_seed(cfg.seed)
    window = config.data.window
    if windows.shape[1] < window:
        raise DataError(
            f"windows of {windows.shape[1]} frames are shorter than data.window {window}"
        )
    byol = BYOL(config.model, cfg, config.augment, window, steps_per_epoch, strategy)
    sample = np.random.default_rng(cfg.seed).permutation(len(windows))[:CALIBRATION_WINDOWS]
    calibration = windows[np.sort(sample)]
    with strategy.scope():
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    nets = {
        "encoder": byol.encoder,
        "projector": byol.projector,
        "target_encoder": byol.target_encoder,
        "target_projector": byol.target_projector,
    }
    if byol.predictor is not None:
        nets["predictor"] = byol.predictor
    checkpoint = tf.train.Checkpoint(optimizer=byol.optimizer, epoch=epoch_var, **nets)
    manager = tf.train.CheckpointManager(checkpoint, str(ckpt_dir), max_to_keep=2)
    records: list[dict] = []
    if resume:
        try:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        except Exception as exc:  # TF raises OpError, IndexError, ValueError… for a bad file
            first = first_line(exc, 200)
            raise ModelFileError(
                f"{manager.latest_checkpoint}: BYOL checkpoint is damaged, cannot resume ({first})"
            ) from None
        remove_stale_temps(run_dir)
        if chief:  # as resumed (a new --epochs): the next --resume reads it
            dump_config(config, run_dir / "config.yaml")
        records = [
            r
            for r in _read_lines(run_dir / "metrics.jsonl")
            if r.get("epoch", 0) <= int(epoch_var.numpy())
        ]
    elif chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        dump_config(config, run_dir / "config.yaml")
        info = {
            "mode": "byol",
            "layout": "body15",
            "window": window,
            "source_frames": int(windows.shape[1]),
            "stride": config.data.stride,
            "windows": int(len(windows)),
            "replicas": strategy.num_replicas_in_sync,
            "precision": byol.precision,
            **(run_info or {}),
            "config": config.model_dump(mode="json"),
        }
        write_json(run_dir / "run.json", info)
    start_epoch = int(epoch_var.numpy())

    dataset = unlabelled_dataset(windows, cfg.batch_size, seed=cfg.seed)
    dataset = (
        strategy.experimental_distribute_dataset(dataset)
        if strategy.num_replicas_in_sync > 1
        else dataset
    )

    progress = Progress(
        TextColumn("[bold]BYOL epoch {task.fields[epoch]}/{task.fields[epochs]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeRemainingColumn(),
        console=console,
        disable=not (show_progress and chief),
    )
    task = progress.add_task(
        "byol",
        total=cfg.epochs * steps_per_epoch,
        completed=start_epoch * steps_per_epoch,
        epoch=start_epoch,
        epochs=cfg.epochs,
        metrics="",
    )
    warned = False
    with progress:
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            progress.update(task, epoch=epoch)
            started = time.perf_counter()
            losses, spreads = [], []
            for batch in dataset:
                loss, spread = byol.train_step(batch)
                if not math.isfinite(float(loss)):
                    # Stop before anything of this epoch is saved: the last checkpoint stays good.
                    raise DataError(
                        f"{run_dir}: BYOL diverged (loss {float(loss)} at epoch {epoch}); the learning "
                        f"rate ({cfg.learning_rate:g}) is probably too high, or the data holds extreme "
                        f"values. Epochs up to {epoch - 1} are kept"
                    )
                losses.append(float(loss))
                spreads.append(float(spread))
                step = int(byol.optimizer.iterations.numpy())
                records.append(
                    {
                        "epoch": epoch,
                        "step": step,
                        "loss": losses[-1],
                        "embedding_spread": spreads[-1],
                    }
                )
                progress.update(
                    task, advance=1, metrics=f"loss {losses[-1]:.3f}  spread {spreads[-1]:.2f}"
                )
            byol.end_of_epoch()
            epoch_var.assign(epoch)
            seconds = time.perf_counter() - started
            summary = {
                "type": "epoch",
                "epoch": epoch,
                "loss": float(np.mean(losses)),
                "embedding_spread": float(np.mean(spreads)),
                "embedding_spread_min": float(np.min(spreads)),
                "tau": float(byol.tau(byol.optimizer.iterations)),
                "learning_rate": float(np.asarray(byol.optimizer.learning_rate)),
                "seconds": seconds,
                "windows_per_s": len(losses) * cfg.batch_size / seconds,
            }
            # Written so that NaN counts as collapsed (NaN < threshold is False).
            collapsing = not summary["embedding_spread"] >= cfg.collapse_threshold
            summary["collapse_warning"] = bool(collapsing)
            records.append(summary)
            # metrics.jsonl first, then the checkpoint as the commit point: a kill between them
            # leaves a metrics line past the checkpoint's epoch, which a resume drops.
            if chief:
                _write_lines(run_dir / "metrics.jsonl", records)
            manager.save(checkpoint_number=epoch)  # every worker takes part; the chief's is kept
            if chief:
                _plot_curves(records, run_dir / "loss.png", cfg.collapse_threshold)
                save_encoder(byol, run_dir / "encoder.keras", calibration)
                line = (
                    f"epoch {epoch}/{cfg.epochs}  loss {summary['loss']:.4f}  spread "
                    f"{summary['embedding_spread']:.3f}  tau {summary['tau']:.5f}  "
                    f"{summary['windows_per_s']:.0f} windows/s"
                )
                progress.console.print(line, highlight=False)
                if collapsing:
                    warned = True
                    progress.console.print(
                        f"[bold red]warning: representations are collapsing[/] — embedding std × √E "
                        f"{summary['embedding_spread']:.3f} < {cfg.collapse_threshold} (≈1 is healthy, 0 is a "
                        "constant output). Try a lower learning rate, a larger batch or stronger augmentation.",
                        highlight=False,
                    )
    last = next((r for r in reversed(records) if r.get("type") == "epoch"), {})
    return {
        "run_dir": str(run_dir),
        "epochs": int(epoch_var.numpy()),
        "loss": last.get("loss", math.nan),
        "embedding_spread": last.get("embedding_spread", math.nan),
        "collapse_warning": warned,
        "encoder": str(run_dir / "encoder.keras"),
    }
