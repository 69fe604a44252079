"""Command-line arguments as users type them: relative and hidden parent folders, brackets in
paths, and bad arguments refused before anything saved changes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from relsar_core.assets import ASSETS_DIR
from relsar_core.cli import run_cli
from relsar_core.errors import DataError, ModelFileError
from relsar_core.runtime import fewshot
from relsar_core.runtime.tflite import TfliteClassifier
from relsar_core.skeleton.clip import load_clip, save_clip
from training.eval_cli import _main as eval_main
from training.teach_cli import _main as teach_main


@pytest.fixture
def taught_copy(tmp_path, toy_data):
    """A private copy of the shipped model with two taught actions, hop and wave2."""
    model = tmp_path / "m" / "default.tflite"
    model.parent.mkdir()
    shutil.copy(ASSETS_DIR / "models" / "default.tflite", model)
    shutil.copy(ASSETS_DIR / "models" / "default.json", model.with_suffix(".json"))
    data = tmp_path / "examples"
    for action, source in (("hop", "jump"), ("wave2", "wave")):
        for i, path in enumerate(sorted((toy_data / source).glob("*.npz"))[:3]):
            save_clip(data / action / f"{i}.npz", load_clip(path))
    assert run_cli(teach_main, [str(model), "--data", str(data)]) == 0
    return model


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error:"), err
    return " ".join(err.split())


def test_data_under_a_relative_or_hidden_parent_folder_is_found(
    tiny_tflite_model, toy_data, tmp_path, monkeypatch
):
    hidden = tmp_path / ".cache" / "toy"
    shutil.copytree(toy_data, hidden)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    for data in ("../.cache/toy", str(hidden)):
        out = tmp_path / f"r{len(data)}.json"
        args = [str(tiny_tflite_model), "--data", data, "--out", str(out)]
        assert run_cli(eval_main, args) == 0
        assert json.loads(out.read_text())["clips"] == 5 * 12  # every clip, none taken as hidden


def test_errors_and_warnings_print_brackets_as_typed(capsys):
    def fails(argv):
        raise DataError("my[/data]/take[bold]2: no such data folder")

    assert run_cli(fails, []) == 2
    assert _one_line_error(capsys) == "error: my[/data]/take[bold]2: no such data folder"


def test_relsar_teach_checks_every_forget_before_forgetting_any(taught_copy, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for args, message in (
        (["--forget", "hop", "--forget", "zzz"], "no taught action “zzz”"),
        (["--forget", "hop", "--data", str(tmp_path / "empty")], "no <action>/<clip>.npz"),
        (["--forget", "hop", "--base-data", str(tmp_path / "nope")], "no such data folder"),
    ):
        assert run_cli(teach_main, [str(taught_copy), *args]) == 2
        assert message in _one_line_error(capsys)
        assert fewshot.load_taught(taught_copy).counts() == {"hop": 3, "wave2": 3}
    assert run_cli(teach_main, [str(taught_copy), "--forget", "hop", "--forget", "wave2"]) == 0
    assert fewshot.load_taught(taught_copy) is None
    assert run_cli(teach_main, [str(taught_copy), "--forget-all"]) == 0
    assert "no taught actions to forget" in capsys.readouterr().err


def test_forgetting_beside_a_read_only_model_is_one_line(taught_copy, monkeypatch, capsys):
    def read_only(self, missing_ok=False):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", read_only)  # root ignores chmod: a read-only mount
    assert run_cli(teach_main, [str(taught_copy), "--forget-all"]) == 2
    assert "cannot remove the taught actions (Read-only file system)" in _one_line_error(capsys)
    monkeypatch.undo()
    assert fewshot.load_taught(taught_copy).counts() == {"hop": 3, "wave2": 3}


def test_relsar_eval_checks_out_of_set_before_scoring(
    tiny_tflite_model, toy_data, tmp_path, capsys
):
    out = tmp_path / "res.json"
    for bad in (tmp_path / "nope", toy_data / "wave"):  # missing; clips but no class folders
        args = [str(tiny_tflite_model), "--data", str(toy_data), "--out", str(out)]
        assert run_cli(eval_main, [*args, "--out-of-set", str(bad)]) == 2
        assert str(bad) in _one_line_error(capsys)
        assert sorted(os.listdir(tmp_path)) == []  # no report folder, no matrix, no results


def test_convert_keeps_a_model_with_taught_actions_unless_told(tiny_run_dir, tmp_path):
    from relsar_core.train.export import convert_run

    out = tmp_path / "m"
    convert_run(tiny_run_dir, out, ["none"])
    convert_run(tiny_run_dir, out, ["none"])  # no taught actions: replaced, as before
    first = (tmp_path / "m.tflite").read_bytes()
    taught = tmp_path / "m.taught.npz"
    np.savez(taught, labels=np.array(["hop"]))
    with pytest.raises(ModelFileError, match="m.taught.npz.*--replace-taught"):
        convert_run(tiny_run_dir, out, ["none"])
    assert (tmp_path / "m.tflite").read_bytes() == first and taught.is_file()
    (result,) = convert_run(tiny_run_dir, out, ["none"], replace_taught=True)
    assert result.tflite_path == tmp_path / "m.tflite"


def test_headless_follows_a_several_people_replay_and_says_when_nothing_was_named(
    tiny_tflite_model, toy_data, tmp_path, capsys
):
    from app.main import _headless, _parser

    a, b = (sorted((toy_data / c).glob("*.npz"))[0] for c in ("squat", "arms_up"))
    out = tmp_path / "r.jsonl"
    argv = ["--headless", "--model", str(tiny_tflite_model), "--out", str(out)]
    assert run_cli(_headless, _parser().parse_args([*argv, "--source", f"{a}+{b}"])) == 0
    named = [json.loads(x) for x in out.read_text().splitlines()]
    assert {x["raw_label"] for x in named if x["probabilities"]} == {"squat", "arms_up"}
    assert "nothing was classified" not in capsys.readouterr().err
    short = tmp_path / "short.npz"
    save_clip(short, type(load_clip(a))(load_clip(a).keypoints[:10]))
    assert run_cli(_headless, _parser().parse_args([*argv, "--source", str(short)])) == 0
    assert "nothing was classified in 10 frames (a window needs 30" in capsys.readouterr().err


def test_a_folder_given_as_the_model_is_named_as_a_folder(tmp_path, capsys):
    assert run_cli(teach_main, [str(tmp_path), "--list"]) == 2
    assert "is a folder, not a .tflite model file" in _one_line_error(capsys)


def test_flags_that_do_not_apply_are_named_not_silently_dropped(
    tiny_tflite_model, tiny_run_dir, toy_data, tmp_path, capsys
):
    from app.main import _main as app_main
    from relsar_core.train.export import convert_run
    from training.extract_cli import _main as extract_main

    (tmp_path / "videos").mkdir()
    args = [str(tmp_path / "videos"), "--out", str(tmp_path / "o"), "--min-track-frames", "5"]
    assert run_cli(extract_main, args) == 2  # no videos: but the flag was named first
    assert "--min-track-frames applies with --people only: ignored" in capsys.readouterr().err
    clip = sorted((toy_data / "wave").glob("*.npz"))[0]
    argv = ["--headless", "--model", str(tiny_tflite_model), "--source", str(clip)]
    assert (
        run_cli(app_main, [*argv, "--out", str(tmp_path / "r.jsonl"), "--screenshot", "s.png"]) == 0
    )
    assert "--screenshot: for the window only, ignored with --headless" in capsys.readouterr().err
    with pytest.raises(ModelFileError, match="--classes is for a bare .keras file"):
        convert_run(tiny_run_dir, tmp_path / "m", ["none"], classes=list("abcde"))


def test_teaching_a_name_of_the_models_own_class_says_it_adds_to_it(taught_copy, tmp_path, capsys):
    data = tmp_path / "own"
    shutil.copytree(tmp_path / "examples" / "wave2", data / "wave")
    assert run_cli(teach_main, [str(taught_copy), "--data", str(data)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "note: “wave” is one of the model's own actions: its examples add to it" in err
    classifier = fewshot.with_taught(TfliteClassifier(taught_copy), taught_copy)
    assert classifier.class_names.count("wave") == 1
    assert "“wave” is one of the model's own actions" in classifier.describe()


def test_a_bad_command_line_override_is_named_not_the_config_file(toy_data, tmp_path, capsys):
    from training.train_cli import _main as train_main

    argv = ["supervised", "--data", str(toy_data), "--config", "tiny", "--out", str(tmp_path / "r")]
    for flag, value in (("--epochs", "0"), ("--batch-size", "0")):
        assert run_cli(train_main, [*argv, flag, value]) == 2
        err = _one_line_error(capsys)
        assert (
            err.startswith(f"error: {flag} 0: Input should be greater") and "tiny.yaml" not in err
        )


def test_protocol_values_are_checked_before_the_data_loads(toy_data, tmp_path, monkeypatch, capsys):
    import training.ssl_modes as modes
    from training.train_cli import _main as train_main

    monkeypatch.setattr(modes, "load_data", lambda *a: pytest.fail("loaded the data first"))
    base = ["--data", str(toy_data), "--encoder", str(tmp_path), "--out", str(tmp_path / "r")]
    for argv, message in (
        (["linear", *base, "--label-fraction", "1.5"], "--label-fraction must be in (0, 1]"),
        (["knn", *base, "--k", "0"], "--k must be at least 1"),
    ):
        assert run_cli(train_main, argv) == 2
        assert message in _one_line_error(capsys)
