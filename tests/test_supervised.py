"""Supervised training end to end: accuracy on a separable toy set, resume, CLI."""

import json
import math

import keras
import numpy as np
import pytest

from relsar_core.config import load_config
from relsar_core.data.datasets import load_splits
from relsar_core.train.supervised import fit_classifier, load_model, train_supervised
from training.train_cli import main as train_main


@pytest.fixture(scope="module")
def splits(toy_data):
    return load_splits(toy_data, 30, 5, 0.15, 0.2, seed=3)


def test_cli_trains_a_tiny_model_that_learns_the_toy_motions(toy_data, tmp_path):
    """One run, through the CLI (data loading, run.json) into train_supervised."""
    run = tmp_path / "run"
    argv = ["--data", str(toy_data), "--config", "tiny", "--out", str(run), "--epochs", "6"]
    with pytest.raises(SystemExit) as code:
        train_main(["supervised", *argv])
    assert code.value.code == 0
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["epochs_run"] == 6 and report["accuracy"] >= 0.9, report
    data = load_config("tiny").data
    test = load_splits(toy_data, 30, 5, data.val_fraction, data.test_fraction, data.seed).test
    assert report["split"] == "test" and report["windows"] == len(test)
    for name in (
        "best.keras",
        "last.keras",
        "metrics.jsonl",
        "run.json",
        "config.yaml",
        "report/report.json",
        "report/confusion_matrix.csv",
        "report/confusion_matrix.png",
    ):
        assert (run / name).is_file(), name
    assert any((run / "tb").rglob("*tfevents*"))
    assert json.loads((run / "run.json").read_text())["data_args"]["data"] == str(
        toy_data.resolve()
    )
    best = load_model(run / "best.keras")
    assert set(best.output) == {"logits", "embedding"}


class StopAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_without_losing_anything(splits, tmp_path):
    run = tmp_path / "run"
    config = load_config(
        "tiny", train={"epochs": 2, "batch_size": 32, "early_stopping_patience": 0}
    )
    with pytest.raises(KeyboardInterrupt):
        train_supervised(splits, config, run, callbacks=(StopAfter(1),))
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    assert (run / "best.keras").is_file() and (run / "last.keras").is_file()
    optimizer_steps = int(load_model(run / "last.keras", compile=True).optimizer.iterations)
    assert optimizer_steps == math.ceil(len(splits.train) / 32)  # the first epoch's steps, saved
    train_supervised(splits, config, run, resume=True)
    epochs = [
        json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    assert epochs == [1, 2]
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 2 and not state["stopped_early"]
    assert (
        int(load_model(run / "last.keras", compile=True).optimizer.iterations)
        == 2 * optimizer_steps
    )


class RecordWeights(keras.callbacks.Callback):
    """At each epoch's end (after the run's checkpoint): the classifier's raw and averaged weights."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier, self.raw, self.averaged = classifier, [], []

    def on_epoch_end(self, epoch, logs=None):
        opt = self.model.optimizer
        average = {
            id(v): a
            for v, a in zip(
                opt._trainable_variables, opt._model_variables_moving_average, strict=True
            )
        }
        weights = self.classifier.trainable_weights
        self.raw.append([np.array(w) for w in weights])
        self.averaged.append([np.array(average[id(w)]) for w in weights])


def test_ema_validates_and_keeps_the_averaged_weights_and_resumes(splits, tmp_path):
    """train.ema_momentum: best.keras holds the moving average (not the raw weights) of its
    epoch, last.keras the raw ones with the optimizer's average, so a resumed run goes on."""
    from relsar_core.train.model import build_classifier

    config = load_config(
        "tiny",
        train={"epochs": 3, "batch_size": 32, "early_stopping_patience": 0, "ema_momentum": 0.9},
    )
    classifier = build_classifier(config.model, splits.train.num_classes, 30)
    record = RecordWeights(classifier)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        fit_classifier(classifier, splits, config, run, callbacks=(record, StopAfter(2)))
    state = json.loads((run / "state.json").read_text())
    best = load_model(run / "best.keras").trainable_weights
    epoch = state["best_epoch"] - 1
    gap = max(
        np.abs(r - a).max() for r, a in zip(record.raw[epoch], record.averaged[epoch], strict=True)
    )
    assert gap > 1e-4  # the average is not the raw weights...
    # ...and best.keras is the average
    for saved, averaged in zip(best, record.averaged[epoch], strict=True):
        np.testing.assert_allclose(np.array(saved), averaged, atol=1e-6)
    last = load_model(run / "last.keras", compile=True)
    assert last.optimizer.use_ema
    for saved, raw in zip(last.trainable_weights, record.raw[1], strict=True):
        np.testing.assert_allclose(np.array(saved), raw, atol=1e-6)
    report = train_supervised(splits, config, run, resume=True)
    assert report["epochs_run"] == 3 and report["accuracy"] >= 0.9, report


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/no/such/folder"], "/no/such/folder: data folder does not exist"),
        (["--config", "/no/such.yaml"], "no such config file"),
        (["--resume", "/no/run"], "not a run folder"),
    ],
)
def test_cli_user_errors_are_one_line(toy_data, tmp_path, capsys, args, message):
    base = {"--data": str(toy_data), "--out": str(tmp_path / "r"), "--config": "tiny"}
    argv = ["supervised"]
    for flag, value in base.items():
        if flag not in args and "--resume" not in args:
            argv += [flag, value]
    with pytest.raises(SystemExit) as code:
        train_main(argv + args)
    err = capsys.readouterr().err
    assert code.value.code == 2 and message in err and "Traceback" not in err


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        train_main(["supervised", "--help"])
    out = capsys.readouterr().out
    for flag in (
        "--data",
        "--format",
        "--protocol",
        "--test-data",
        "--config",
        "--out",
        "--resume",
        "--folds",
        "--epochs",
    ):
        assert flag in out
    assert np.char.count(out, "nwucla-cross-view") >= 1


def test_kfold_cross_validation_by_clip(toy_data, tmp_path):
    with pytest.raises(SystemExit) as code:
        train_main(
            [
                "supervised",
                "--data",
                str(toy_data),
                "--config",
                "tiny",
                "--out",
                str(tmp_path / "k"),
                "--epochs",
                "1",
                "--folds",
                "2",
            ]
        )
    assert code.value.code == 0
    summary = json.loads((tmp_path / "k" / "kfold.json").read_text())
    assert summary["folds"] == 2 and len(summary["fold_accuracies"]) == 2
    tested = [
        set(json.loads((tmp_path / "k" / f"fold_{k}" / "splits.json").read_text())["test"]["clips"])
        for k in (1, 2)
    ]
    assert not tested[0] & tested[1]  # each clip is tested once: the folds split by clip
    assert sum(map(len, tested)) == 60
    with pytest.raises(SystemExit) as code:  # resuming a finished k-fold run retrains nothing
        train_main(["supervised", "--resume", str(tmp_path / "k")])
    assert code.value.code == 0
