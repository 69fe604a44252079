"""A test split stays held out from every model that learns on the other side: a --test-data
folder that is the training data, an encoder (BYOL or classifier run) that learnt from the
test clips; and a run that started from an encoder resumes from any folder."""

from __future__ import annotations

import json

import pytest

from relsar_core.config import DataConfig
from relsar_core.data.datasets import load_splits
from relsar_core.errors import DataError
from relsar_core.train.protocols import pretraining_leak_check
from training.train_cli import main as train_main


def _train(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        train_main(argv)
    return done.value.code


@pytest.fixture(scope="module")
def supervised_seed7(toy_data, tmp_path_factory):
    """A tiny supervised run whose split (data.seed 7) trains on clips the default split tests."""
    root = tmp_path_factory.mktemp("sup7")
    config = root / "seed7.yaml"
    config.write_text("model: {size: tiny}\ndata: {seed: 7}\n")
    run = root / "sup7"
    argv = ["supervised", "--data", str(toy_data), "--config", str(config), "--out", str(run)]
    assert _train([*argv, "--epochs", "1"]) == 0
    return run


def test_a_test_folder_that_is_the_training_data_is_refused(toy_data):
    with pytest.raises(DataError, match="60 test clip\\(s\\) are also training clips"):
        load_splits(toy_data, 30, 5, 0.2, 0.2, 0, test_data=toy_data)


def test_an_encoder_that_trained_on_the_test_clips_is_refused(
    supervised_seed7, toy_data, tmp_path, capsys
):
    own = load_splits(toy_data, 30, 5, 0.2, 0.2, 7)
    assert pretraining_leak_check(supervised_seed7, own) is True  # its own split: checked, apart
    argv = ["--data", str(toy_data), "--encoder", str(supervised_seed7), "--out"]
    assert _train(["knn", *argv, str(tmp_path / "knn")]) == 2  # the default split, data.seed 0
    err = " ".join(capsys.readouterr().err.split())
    assert "it learnt from" in err and "data.seed" in err and "Traceback" not in err
    assert not (tmp_path / "knn").exists()


def test_a_run_on_an_encoder_resumes_from_another_folder(
    supervised_seed7, toy_data, tmp_path, monkeypatch
):
    config = tmp_path / "seed7.yaml"
    config.write_text("data: {seed: 7}\n")  # the encoder's own split: no leak
    monkeypatch.chdir(supervised_seed7.parent)
    argv = ["linear", "--data", str(toy_data), "--encoder", supervised_seed7.name]
    run = tmp_path / "lin"
    assert _train([*argv, "--config", str(config), "--out", str(run), "--epochs", "1"]) == 0
    assert json.loads((run / "run.json").read_text())["encoder"] == str(supervised_seed7)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert _train(["linear", "--resume", str(run), "--epochs", "2"]) == 0
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    assert "epochs: 2" in (run / "config.yaml").read_text()  # as resumed: the next resume's


def test_knn_names_the_training_flags_it_ignores(supervised_seed7, toy_data, tmp_path, capsys):
    config = tmp_path / "seed7.yaml"
    config.write_text("data: {seed: 7}\n")
    argv = ["knn", "--data", str(toy_data), "--encoder", str(supervised_seed7), "--config"]
    assert _train([*argv, str(config), "--out", str(tmp_path / "k"), "--epochs", "3"]) == 0
    assert "--epochs: k-NN trains nothing, ignored" in capsys.readouterr().err


def test_an_encoder_of_an_interrupted_byol_run_is_named_as_unfinished(tmp_path):
    from relsar_core.train.protocols import unfinished_byol

    run = tmp_path / "byol"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"mode": "byol"}))
    (run / "config.yaml").write_text("byol: {epochs: 5}\n")
    lines = [{"epoch": 3, "step": 9}] + [{"type": "epoch", "epoch": e} for e in (1, 2)]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    note = unfinished_byol(run / "encoder.keras")
    assert note and "stopped after epoch 2 of 5" in note and "--resume" in note
    lines += [{"type": "epoch", "epoch": e} for e in (3, 4, 5)]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    assert unfinished_byol(run) is None and unfinished_byol(tmp_path / "nothing") is None


def test_a_data_folder_given_twice_is_refused(toy_data, tmp_path):
    from relsar_core.train.pretrain import load_pretraining_windows

    again = tmp_path / "toy_link"
    again.symlink_to(toy_data)
    with pytest.raises(
        DataError, match="toy_link: the same folder as .*toy.*, given twice in --data"
    ):
        load_pretraining_windows([toy_data, again], 30, 5, False, DataConfig())


def test_resume_in_another_mode_names_the_runs_own(supervised_seed7, capsys):
    assert _train(["linear", "--resume", str(supervised_seed7)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        f"a supervised run; resume it with `relsar-train supervised --resume {supervised_seed7}`"
        in err
    )
