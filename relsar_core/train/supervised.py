"""Supervised training of a ReL-SAR classifier into a run folder, resumable after interruption.

A run folder holds: config.yaml, run.json (classes, data, splits), last.keras (latest epoch,
with optimizer state), best.keras (two-output classifier, best validation loss), state.json
(epoch, best, early-stopping counter), metrics.jsonl, tb/ (TensorBoard) and report/.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from relsar_core.config import RunConfig, TrainConfig, dump_config
from relsar_core.data.datasets import Splits, WindowSet, class_weights
from relsar_core.data.report import write_report
from relsar_core.errors import ModelFileError, RelsarError
from relsar_core.files import (
    read_run_file,
    remove_stale_temps,
    trim_jsonl,
    write_json,
)
from relsar_core.train.callbacks import RichProgress, RunCheckpoint
from relsar_core.train.model import (
    build_classifier,
    classifier_from_logits_model,
    keras_problem,
    logits_model,
)
from relsar_core.train.teaching_objective import logits_of, training_model
from relsar_core.train.tfdata import labelled_dataset


@keras.saving.register_keras_serializable(package="relsar")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak`, then cosine decay to `floor` at `total_steps`."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int, floor: float = 0.0):
        self.peak, self.warmup_steps, self.total_steps, self.floor = (
            peak,
            warmup_steps,
            total_steps,
            floor,
        )

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1.0) / max(self.warmup_steps, 1)
        progress = tf.minimum(
            (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 1.0
        )
        cosine = self.floor + (self.peak - self.floor) * 0.5 * (1.0 + tf.cos(math.pi * progress))
        return tf.where(step < self.warmup_steps, warm, cosine)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "floor": self.floor,
        }


def make_optimizer(cfg: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    schedule = WarmupCosine(
        cfg.learning_rate, int(cfg.warmup_epochs * steps_per_epoch), cfg.epochs * steps_per_epoch
    )
    ema = {"use_ema": cfg.ema_momentum is not None, "ema_momentum": cfg.ema_momentum or 0.99}
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, **ema)
    if cfg.optimizer == "nadam":
        return keras.optimizers.Nadam(schedule, weight_decay=cfg.weight_decay or None, **ema)
    return keras.optimizers.SGD(
        schedule, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay or None, **ema
    )


def compile_for_training(model: keras.Model, cfg: TrainConfig, steps_per_epoch: int) -> None:
    model.compile(
        optimizer=make_optimizer(cfg, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=cfg.label_smoothing
        ),
        metrics=["accuracy"],
    )


def refreeze(model: keras.Model) -> keras.Model:
    """Freeze every layer inside a frozen one, in place. Keras 3 loads a frozen encoder with its
    MultiHeadAttention's query/key/value/output sublayers trainable (built after the flag is
    set), so a resumed linear probe would train them."""
    for layer in model._flatten_layers(include_self=False):
        if not layer.trainable:
            for inner in layer._flatten_layers(include_self=False):
                inner.trainable = False
    return model


def load_model(path: str | os.PathLike, compile: bool = False) -> keras.Model:
    """Load a .keras checkpoint of this project; a missing or broken file is one clear error."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        model = refreeze(keras.models.load_model(path, compile=False))
        if compile:
            compile_as_saved(model, path)
        return model
    except Exception as exc:  # Keras raises many types for a bad file; the user needs one line
        raise ModelFileError(
            f"{path}: not a loadable .keras model ({keras_problem(exc)})"
        ) from None


def compile_as_saved(model: keras.Model, path: Path) -> None:
    """Compile a loaded (and refrozen) model as it was saved, with its optimizer's state (the
    step count and moments). Keras' own compile=True builds the optimizer before `refreeze`, over
    the attention sublayers it reloaded trainable, so the saved state no longer matches its
    variables and is skipped with a warning: a resumed linear probe restarted Adam's moments and
    its learning-rate schedule from step 0."""
    import io
    import json
    import zipfile

    import h5py

    with zipfile.ZipFile(path) as archive:
        compile_config = json.loads(archive.read("config.json")).get("compile_config")
        if not compile_config:
            return
        model.compile_from_config(compile_config)
        weights = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights, "r") as store:
        saved = store.get("optimizer/vars")
        if saved is None or getattr(model, "optimizer", None) is None:
            return
        model.optimizer.build(model.trainable_variables)
        if len(saved) != len(model.optimizer.variables):  # e.g. a run resumed before this fix
            warnings.warn(
                f"{path}: optimizer state not restored (saved {len(saved)} variables, the model "
                f"trains {len(model.optimizer.variables)}); it restarts from step 0",
                stacklevel=2,
            )
            return
        for i, variable in enumerate(model.optimizer.variables):
            variable.assign(saved[str(i)][()])


def predict_probabilities(
    classifier: keras.Model, windows: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    logits = classifier.predict(windows, batch_size=batch_size, verbose=0)["logits"]
    return tf.nn.softmax(logits).numpy()


def fit_classifier(
    classifier: keras.Model,
    splits: Splits,
    config: RunConfig,
    run_dir: Path,
    resume: bool = False,
    callbacks: tuple[keras.callbacks.Callback, ...] = (),
    extra_run_info: dict | None = None,
) -> dict:
    """Train `classifier` (two outputs) on splits.train, keep the best on splits.val, then write the
    report on splits.test (or val). With resume=True, continue the run in run_dir from its last epoch."""
    cfg = config.train
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    train, val = splits.train, splits.val
    steps = math.ceil(len(train) / cfg.batch_size)
    state = read_run_file(run_dir / "state.json") if resume else {}
    if resume and (run_dir / "last.keras").is_file():
        remove_stale_temps(run_dir)
        trim_jsonl(run_dir / "metrics.jsonl", int(state.get("epoch", 0)))
        model = load_model(run_dir / "last.keras", compile=True)
        classifier = classifier_from_logits_model(logits_of(model))
        dump_config(config, run_dir / "config.yaml")  # as resumed (a new --epochs)
    else:
        keras.utils.set_random_seed(cfg.seed)
        model = training_model(logits_model(classifier), config.augment, cfg)
        compile_for_training(model, cfg, steps)
        state = {"epoch": 0}
        dump_config(config, run_dir / "config.yaml")
        write_json(
            run_dir / "run.json",
            {
                **(extra_run_info or {}),
                "class_names": train.class_names,
                "window": int(train.windows.shape[1]),
                "layout": "body15",
                "config": config.model_dump(mode="json"),
            },
        )
        write_json(run_dir / "splits.json", splits.describe())
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    initial_epoch = int(state.get("epoch", 0))
    if initial_epoch < cfg.epochs and not state.get("stopped_early"):
        weights = (
            class_weights(train.labels, train.num_classes)[train.labels]
            if cfg.class_weights
            else None
        )
        train_ds = labelled_dataset(
            train.training_windows,
            train.labels,
            train.num_classes,
            cfg.batch_size,
            True,
            None if cfg.teaching.enabled else config.augment,  # it augments in its own step
            weights,
            cfg.seed,
            out_steps=int(train.windows.shape[1]),
        )
        val_ds = None
        if val is not None and len(val):
            val_ds = labelled_dataset(
                val.windows, val.labels, val.num_classes, cfg.batch_size, False
            )
        # Swaps the averaged weights in for validation; the checkpoint saves best.keras with them.
        ema = keras.callbacks.SwapEMAWeights() if model.optimizer.use_ema else None
        checkpoint = RunCheckpoint(
            run_dir, classifier, cfg.early_stopping_patience if val_ds else 0, state, ema
        )
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=cfg.epochs,
            initial_epoch=initial_epoch,
            verbose=0,
            shuffle=False,
            callbacks=[
                *([ema] if ema else []),
                checkpoint,
                keras.callbacks.TensorBoard(str(run_dir / "tb"), write_graph=False),
                RichProgress(cfg.epochs, steps, initial_epoch),
                *callbacks,
            ],
        )
        if checkpoint.diverged:
            raise RelsarError(
                f"{run_dir}: training diverged ({checkpoint.diverged}); the learning rate "
                f"({cfg.learning_rate:g}) is probably too high, or the data holds extreme values. "
                f"Epochs up to {state['epoch']} are kept"
            )
        state["stopped_early"] = state["epoch"] < cfg.epochs
        write_json(run_dir / "state.json", state)
    best = load_model(run_dir / "best.keras")
    evaluation = splits.test if splits.test is not None else val if val is not None else train
    title = "test" if splits.test is not None else "val" if val is not None else "train"
    report = write_report(
        predict_probabilities(best, evaluation.windows), evaluation, run_dir / "report", title
    )
    report.update(epochs_run=state["epoch"], best_epoch=state.get("best_epoch"))
    write_json(run_dir / "report" / "report.json", report)
    return report


def train_supervised(
    splits: Splits,
    config: RunConfig,
    run_dir: str | os.PathLike,
    resume: bool = False,
    callbacks: tuple[keras.callbacks.Callback, ...] = (),
    run_info: dict | None = None,
) -> dict:
    """Supervised training from scratch (a fresh classifier) or resumed from run_dir."""
    if splits.train.num_classes < 2:
        raise RelsarError(
            f"only one class ({', '.join(splits.train.class_names)}): a classifier needs at "
            "least two class folders"
        )
    if len(splits.train) == 0:
        raise RelsarError(
            "no training windows: every clip went to validation/test; add clips or lower the fractions"
        )
    classifier = build_classifier(
        config.model, splits.train.num_classes, splits.train.windows.shape[1]
    )
    return fit_classifier(
        classifier,
        splits,
        config,
        Path(run_dir),
        resume,
        callbacks,
        {"mode": "supervised", **(run_info or {})},
    )


def cross_validate(
    data: WindowSet,
    config: RunConfig,
    run_dir: str | os.PathLike,
    folds: int = 5,
    resume: bool = False,
) -> dict:
    """k-fold cross-validation by clip (the upstream protocol uses 5 folds): fold k is the test
    set, validation is carved from the rest. Finished folds are skipped on resume."""
    from sklearn.model_selection import StratifiedKFold

    from relsar_core.data.datasets import split_clips

    run_dir = Path(run_dir)
    counts = np.bincount(data.clip_labels)
    if counts.min() < folds:
        raise RelsarError(
            f"{folds}-fold cross-validation needs at least {folds} clips per class (smallest class has {counts.min()})"
        )
    kfold = StratifiedKFold(folds, shuffle=True, random_state=config.data.seed)
    reports = []
    for k, (rest, test) in enumerate(
        kfold.split(np.zeros(len(data.clip_labels)), data.clip_labels)
    ):
        fold_dir = run_dir / f"fold_{k + 1}"
        done = read_run_file(fold_dir / "report" / "report.json")
        if resume and done.get("epochs_run") is not None:
            reports.append(done)
            continue
        sub_train, sub_val, _ = split_clips(
            data.clip_labels[rest], config.data.val_fraction, 0.0, config.data.seed
        )
        splits = Splits(
            data.subset(rest[sub_train]),
            data.subset(rest[sub_val]).without_sources(),
            data.subset(test).without_sources(),
        )
        reports.append(
            train_supervised(
                splits,
                config,
                fold_dir,
                resume and fold_dir.exists(),
                run_info={"fold": k + 1, "folds": folds},
            )
        )
    accuracies = np.array([r["accuracy"] for r in reports])
    summary = {
        "folds": folds,
        "accuracy_mean": float(accuracies.mean()),
        "accuracy_std": float(accuracies.std()),
        "macro_f1_mean": float(np.mean([r["macro_f1"] for r in reports])),
        "fold_accuracies": accuracies.tolist(),
    }
    write_json(run_dir / "kfold.json", summary)
    return summary
