"""relsar-eval on toy data: the numbers, the files it writes and its one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from relsar_core.cli import run_cli
from relsar_core.data.datasets import load_clip_folder
from training.eval_cli import _main


def test_eval_scores_a_toy_folder_and_writes_every_output(tiny_tflite_model, toy_data, tmp_path):
    out = tmp_path / "results.json"
    assert run_cli(_main, [str(tiny_tflite_model), "--data", str(toy_data), "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["accuracy"] > 0.9 and r["macro_f1"] > 0.9  # the toy classes are separable
    assert set(r["per_class"]) == set(r["class_names"])
    assert all({"precision", "recall"} <= set(m) for m in r["per_class"].values())
    assert len(r["clip_predictions"]) == r["clips"] and r["clip_accuracy"] > 0.9
    matrix = np.array(r["confusion_matrix"])
    assert matrix.sum() == r["windows"] and np.trace(matrix) / matrix.sum() == pytest.approx(
        r["accuracy"]
    )
    folder = tmp_path / "results"
    assert (folder / "confusion_matrix.csv").read_text().startswith("true \\ predicted")
    assert (folder / "confusion_matrix.png").stat().st_size > 1000


def test_eval_measures_out_of_set_rates(tiny_tflite_model, toy_data, tmp_path):
    other = tmp_path / "other"
    first = sorted(p for p in toy_data.iterdir() if p.is_dir())[0]
    shutil.copytree(first, other / "unknown_motion")
    out = tmp_path / "r.json"
    args = [
        str(tiny_tflite_model),
        "--data",
        str(toy_data),
        "--out",
        str(out),
        "--out-of-set",
        str(other),
    ]
    assert run_cli(_main, args) == 0
    rates = json.loads(out.read_text())["out_of_set"]
    # These clips are really of a known class: the model shows them as one almost always.
    # Every window of the copied clips is counted: 12 clips of 60 frames, window 30, stride 5.
    assert rates["windows"] == len(load_clip_folder(other, 30, 5).windows) == 12 * 7
    assert rates["shown_as_any_class"] > 0.5
    assert set(rates["per_motion"]) == {"unknown_motion"}


def test_eval_bad_inputs_are_one_line_errors(tiny_tflite_model, toy_data, tmp_path, capsys):
    extra = tmp_path / "data"
    shutil.copytree(toy_data, extra)
    shutil.copytree(next(p for p in extra.iterdir() if p.is_dir()), extra / "backflip")
    cases = [
        ([str(tiny_tflite_model), "--data", str(extra)], "not among the model's classes"),
        ([str(tiny_tflite_model), "--data", str(tmp_path / "nope")], "no such data folder"),
        ([str(tmp_path / "missing.tflite"), "--data", str(toy_data)], "no such model file"),
        ([str(tiny_tflite_model), "--data", str(toy_data), "--stride", "0"], "--stride"),
    ]
    for argv, message in cases:
        assert run_cli(_main, [*argv, "--out", str(tmp_path / "x.json")]) == 2
        err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
        assert message in err and "Traceback" not in err, err


def test_eval_refuses_an_unwritable_out_before_scoring(
    tiny_tflite_model, toy_data, tmp_path, capsys
):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "taken").mkdir()
    (tmp_path / "res").write_text("a file where the report folder goes")
    cases = [
        (tmp_path / "taken", "is a folder; give a file name"),
        (tmp_path / "a_file" / "x.json", "a_file is a file, not a folder"),
        (tmp_path / "res.json", "exists and is not a folder"),
    ]
    for out, message in cases:
        assert (
            run_cli(_main, [str(tiny_tflite_model), "--data", str(toy_data), "--out", str(out)])
            == 2
        )
        captured = capsys.readouterr()
        err = " ".join(captured.err.split())
        assert message in err and "Traceback" not in err, err
        assert "accuracy" not in captured.out  # refused before any scoring
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "res", "taken"]
