"""Keras callbacks of a supervised run: the run-folder checkpoint (resumable, with early stopping
and divergence detection) and one rich progress bar for the whole run."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import keras
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from relsar_core.files import write_json
from relsar_core.train.model import save_model


class RunCheckpoint(keras.callbacks.Callback):
    """After every epoch: last.keras + state.json; best.keras when validation loss improves;
    metrics.jsonl; early stopping whose counter survives a resume."""

    def __init__(
        self,
        run_dir: Path,
        classifier: keras.Model,
        patience: int,
        state: dict,
        ema: keras.callbacks.SwapEMAWeights | None = None,
    ):
        super().__init__()
        self.run_dir, self.classifier, self.patience, self.state = (
            run_dir,
            classifier,
            patience,
            state,
        )
        self.ema = ema  # with it, best.keras holds the averaged weights (validated with them)

    def _save_best(self) -> None:
        if self.ema is None:
            save_model(self.classifier, self.run_dir / "best.keras")
            return
        self.ema.on_test_begin()  # averaged weights in (the public swap of SwapEMAWeights)
        try:
            save_model(self.classifier, self.run_dir / "best.keras")
        finally:
            self.ema.on_test_end()

    diverged: str | None = None  # why training stopped on a non-finite loss (nothing was saved)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged = f"loss {float(loss)} at step {batch + 1}"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        monitor = logs.get("val_loss", logs.get("loss"))
        bad = [k for k, v in logs.items() if k.endswith("loss") and not math.isfinite(float(v))]
        if self.diverged or bad:
            # Nothing of this epoch is kept: a NaN never becomes "best" or a resumable state.
            self.diverged = f"epoch {epoch + 1}: " + (self.diverged or f"{bad[0]} {logs[bad[0]]}")
            self.model.stop_training = True
            return
        improved = self.state.get("best") is None or monitor < self.state["best"]
        if improved:
            self._save_best()
            self.state.update(best=float(monitor), best_epoch=epoch + 1, wait=0)
        else:
            self.state["wait"] = self.state.get("wait", 0) + 1
        save_model(self.model, self.run_dir / "last.keras")
        lr = self.model.optimizer.learning_rate
        entry = {
            "epoch": epoch + 1,
            "time": time.time(),
            "learning_rate": float(np.asarray(lr)),
            **{k: float(v) for k, v in logs.items() if k != "learning_rate"},
        }
        with open(self.run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(entry) + "\n")
        # state.json is the commit point: written last, so a kill before it leaves at most a
        # metrics line past the recorded epoch, which a resume drops (files.trim_jsonl).
        self.state["epoch"] = epoch + 1
        write_json(self.run_dir / "state.json", self.state)
        if self.patience and self.state["wait"] >= self.patience:
            self.model.stop_training = True


class RichProgress(keras.callbacks.Callback):
    """One progress bar for the whole run, with the latest metrics beside it."""

    def __init__(self, epochs: int, steps_per_epoch: int, initial_epoch: int):
        super().__init__()
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeRemainingColumn(),
        )
        self.epochs, self.steps = epochs, steps_per_epoch
        self.task = self.progress.add_task(
            "train",
            total=epochs * steps_per_epoch,
            completed=initial_epoch * steps_per_epoch,
            epoch=initial_epoch,
            epochs=epochs,
            metrics="",
        )

    def on_train_begin(self, logs=None):
        self.progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        self.progress.update(self.task, epoch=epoch + 1, completed=epoch * self.steps)

    def on_train_batch_end(self, batch, logs=None):
        self.progress.advance(self.task)

    def on_epoch_end(self, epoch, logs=None):
        shown = ("loss", "accuracy", "val_loss", "val_accuracy")
        text = "  ".join(f"{k} {logs[k]:.3f}" for k in shown if logs and k in logs)
        self.progress.update(self.task, metrics=text, completed=(epoch + 1) * self.steps)
        self.progress.console.print(f"epoch {epoch + 1}/{self.epochs}  {text}", highlight=False)

    def on_train_end(self, logs=None):
        self.progress.stop()
