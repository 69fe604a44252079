"""Bad input over every command: exit code 2, exactly one line on stderr, no traceback.

To add a command or a case, add a row to CASES: (id, command as in pyproject's
[project.scripts], argv builder, words the one line must contain). The builder gets `Bad`, a
factory of broken inputs made on demand in a temporary folder. Every script in pyproject must
have at least one row (test_every_command_is_fuzzed), so a new command joins the table.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import tomllib

from relsar_core.skeleton.synthetic import toy_clip

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def write_raw_clip(path: Path, keypoints=None, **fields) -> Path:
    """A clip written with numpy directly, so it can hold what save_clip would refuse."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if keypoints is None:
        keypoints = toy_clip("wave", 40, np.random.default_rng(len(str(path))))
    arrays = {"keypoints": keypoints, "layout": np.str_("body15"), "fps": np.float32(30.0)}
    arrays["image_size"] = np.array([640, 480], np.int32)
    arrays.update(fields)
    np.savez(path, **arrays)
    return path


class Bad:
    """Broken inputs, each made when first asked for."""

    def __init__(self, tmp: Path, toy: Path) -> None:
        self.tmp, self.toy = tmp, toy

    def path(self, name: str) -> Path:
        return self.tmp / name

    @property
    def a_file(self) -> Path:
        f = self.tmp / "plain_file"
        f.write_text("not a folder\n")
        return f

    @property
    def under_a_file(self) -> Path:
        return self.a_file / "out"

    @property
    def unwritable(self) -> Path:
        return Path("/proc/relsar_fuzz_out")  # even root cannot create files in /proc

    @property
    def existing_run(self) -> Path:
        run = self.tmp / "old_run"
        run.mkdir(exist_ok=True)
        (run / "run.json").write_text(json.dumps({"mode": "supervised"}))
        (run / "metrics.jsonl").write_text('{"epoch": 1}\n' * 12)
        return run

    @property
    def corrupt_state(self) -> Path:
        run = self.tmp / "corrupt_state"
        run.mkdir(exist_ok=True)
        (run / "run.json").write_text(json.dumps({"data_args": {"data": str(self.toy)}}))
        (run / "config.yaml").write_text("model: {size: tiny}\n")
        (run / "state.json").write_bytes(b'{"epoch": 3, "be')
        return run

    @property
    def corrupt_run(self) -> Path:
        run = self.tmp / "corrupt_run"
        run.mkdir(exist_ok=True)
        (run / "run.json").write_text('{"mode": "supervised", "data_ar')
        return run

    def config(self, text: str | bytes) -> Path:
        f = self.tmp / f"config_{abs(hash(text))}.yaml"
        f.write_bytes(text if isinstance(text, bytes) else text.encode())
        return f

    def dataset(self, name: str, bad_clip: dict | None = None, classes=("wave", "squat")) -> Path:
        """Two classes of three good clips, plus one clip made with `bad_clip` fields."""
        root = self.tmp / name
        for cls in classes:
            for i in range(3):
                write_raw_clip(root / cls / f"{cls}_{i}.npz")
        if bad_clip is not None:
            write_raw_clip(root / classes[0] / "bad.npz", **bad_clip)
        return root

    @property
    def corrupt_keras(self) -> Path:
        f = self.tmp / "model.keras"
        f.write_bytes(b"PK\x03\x04 truncated zip" * 10)
        return f

    @property
    def replay(self) -> Path:
        return write_raw_clip(self.tmp / "replay" / "walk.npz")


def _huge():
    kp = toy_clip("wave", 40, np.random.default_rng(0))
    kp[5, 3, 0] = 3e38
    return kp


def _nobody():
    kp = toy_clip("wave", 40, np.random.default_rng(0))
    kp[..., 2] = 0.0
    return kp


def _train(b: Bad, data: Path, *extra: str) -> list[str]:
    return ["supervised", "--config", "tiny", "--data", str(data), "--out", str(b.path("run"))]


# (id, command, argv builder, the words the error line must contain)
CASES = [
    # relsar-train
    ("train-config-not-utf8", "relsar-train", lambda b: [*_train(b, b.toy), "--config", str(b.config(b"\xff\xfe\x00bad"))], "UTF-8"),
    ("train-heads", "relsar-train", lambda b: [*_train(b, b.toy), "--config", str(b.config("model: {size: tiny, d_model: 100, num_heads: 3}"))], "not divisible"),
    ("train-fractions", "relsar-train", lambda b: [*_train(b, b.toy), "--config", str(b.config("data: {val_fraction: 0.6, test_fraction: 0.5}"))], "below 1"),
    ("train-folds-1", "relsar-train", lambda b: [*_train(b, b.toy), "--folds", "1"], "--folds 1"),
    ("train-folds-neg", "relsar-train", lambda b: [*_train(b, b.toy), "--folds", "-2"], "--folds -2"),
    ("train-corrupt-run-json", "relsar-train", lambda b: ["supervised", "--resume", str(b.corrupt_run)], "corrupt"),
    ("train-corrupt-state-json", "relsar-train", lambda b: ["supervised", "--resume", str(b.corrupt_state)], "state.json: corrupt"),
    ("train-existing-run", "relsar-train", lambda b: ["supervised", "--data", str(b.toy), "--out", str(b.existing_run)], "--overwrite"),
    ("train-out-under-file", "relsar-train", lambda b: ["supervised", "--data", str(b.toy), "--out", str(b.under_a_file)], "is a file"),
    ("train-out-unwritable", "relsar-train", lambda b: ["supervised", "--data", str(b.toy), "--out", str(b.unwritable)], "cannot write"),
    ("train-huge-coordinates", "relsar-train", lambda b: _train(b, b.dataset("huge", {"keypoints": _huge()})), "absurd"),
    ("train-fps-tiny", "relsar-train", lambda b: _train(b, b.dataset("slow", {"fps": np.float32(0.001)})), "plausible range"),
    ("train-negative-size", "relsar-train", lambda b: _train(b, b.dataset("neg", {"image_size": np.array([-640, 480])})), "positive"),
    ("train-pickled-clip", "relsar-train", lambda b: _train(b, b.dataset("pickle", {"extra": np.array([{}], dtype=object), "keypoints": np.array([None], dtype=object)})), "never loaded"),
    ("train-nobody-clip", "relsar-train", lambda b: _train(b, b.dataset("nobody", {"keypoints": _nobody()})), "no joint reaches"),
    ("train-one-class", "relsar-train", lambda b: _train(b, b.dataset("one", classes=("wave",))), "one class"),
    ("byol-existing-run", "relsar-train", lambda b: ["byol", "--data", str(b.toy), "--out", str(b.existing_run)], "--resume"),
    ("byol-corrupt-run-json", "relsar-train", lambda b: ["byol", "--resume", str(b.corrupt_run)], "corrupt"),
    ("byol-heads", "relsar-train", lambda b: ["byol", "--data", str(b.toy), "--out", str(b.path("b")), "--config", str(b.config("model: {size: tiny, d_model: 30, num_heads: 4}"))], "not divisible"),
    # relsar-convert
    ("convert-corrupt-keras", "relsar-convert", lambda b: [str(b.corrupt_keras), "--out", str(b.path("m"))], "corrupt or truncated"),
    ("convert-out-under-file", "relsar-convert", lambda b: [str(b.corrupt_keras), "--out", str(b.under_a_file)], "is a file"),
    ("convert-out-unwritable", "relsar-convert", lambda b: [str(b.corrupt_keras), "--out", str(b.unwritable)], "cannot write"),
    ("convert-out-folder", "relsar-convert", lambda b: [str(b.corrupt_keras), "--out", str(b.tmp)], "is a folder"),
    # relsar-extract
    ("extract-out-file", "relsar-extract", lambda b: [str(b.tmp), "--out", str(b.a_file)], "not a folder"),
    ("extract-out-under-file", "relsar-extract", lambda b: [str(b.tmp), "--out", str(b.under_a_file)], "is a file"),
    ("extract-out-unwritable", "relsar-extract", lambda b: [str(b.tmp), "--out", str(b.unwritable)], "cannot write"),
    ("extract-workers", "relsar-extract", lambda b: [str(b.tmp), "--out", str(b.path("o")), "--workers", "0"], "--workers"),
    ("extract-people-workers", "relsar-extract", lambda b: [str(b.tmp), "--out", str(b.path("o")), "--people", "all", "--workers", "2"], "--people"),
    ("extract-min-track", "relsar-extract", lambda b: [str(b.tmp), "--out", str(b.path("o")), "--people", "all", "--min-track-frames", "0"], "--min-track-frames"),
    # relsar-bench: the output is checked before minutes of measuring
    ("bench-out-under-file", "relsar-bench", lambda b: ["classifier", "--quick", "--out", str(b.under_a_file)], "is a file"),
    ("bench-out-folder", "relsar-bench", lambda b: ["classifier", "--quick", "--out", str(b.tmp)], "is a folder"),
    # relsar-models
    ("models-unknown", "relsar-models", lambda b: ["path", "no-such-bundle"], "no-such-bundle"),
    ("models-fetch-unknown", "relsar-models", lambda b: ["fetch", "no-such-model"], "no-such-model"),
    # relsar-eval
    ("eval-no-model", "relsar-eval", lambda b: [str(b.path("none.tflite")), "--data", str(b.toy)], "no such model file"),
    ("eval-no-data", "relsar-eval", lambda b: [str(b.path("none.tflite")), "--data", str(b.path("nodata"))], "no such data folder"),
    # relsar-data
    ("data-toy-existing", "relsar-data", lambda b: ["toy", "--out", str(b.toy)], "not empty"),
    ("data-toy-under-file", "relsar-data", lambda b: ["toy", "--out", str(b.under_a_file)], "is a file"),
    ("data-mocap-under-file", "relsar-data", lambda b: ["mocap", "--out", str(b.under_a_file)], "is a file"),
    # relsar-gate
    ("gate-target", "relsar-gate", lambda b: [str(b.path("m.tflite")), "--train", str(b.toy), "--val-out-of-set", str(b.toy), "--target", "1.5"], "--target must lie in [0, 1]"),
    ("gate-no-data", "relsar-gate", lambda b: [str(b.a_file), "--train", str(b.path("nodata")), "--val-out-of-set", str(b.toy)], "no such data folder"),
    ("gate-no-model", "relsar-gate", lambda b: [str(b.path("none.tflite")), "--train", str(b.toy), "--val-out-of-set", str(b.toy)], "no such model file"),
    # relsar-teach
    ("teach-stride", "relsar-teach", lambda b: [str(b.path("m.tflite")), "--list", "--stride", "0"], "--stride"),
    ("teach-nothing", "relsar-teach", lambda b: [str(b.path("m.tflite"))], "nothing to do"),
    ("teach-missing-model", "relsar-teach", lambda b: [str(b.path("m.tflite")), "--list"], "no such model file"),
    # relsar-app --headless
    ("app-out-under-file", "relsar-app", lambda b: ["--headless", "--source", str(b.replay), "--out", str(b.under_a_file)], "is a file"),
    ("app-out-folder", "relsar-app", lambda b: ["--headless", "--source", str(b.replay), "--out", str(b.tmp)], "is a folder"),
    ("app-loop-out", "relsar-app", lambda b: ["--headless", "--loop", "--source", str(b.replay), "--out", str(b.path("r.jsonl"))], "--loop"),
    ("app-people-zero", "relsar-app", lambda b: ["--headless", "--source", str(b.replay), "--people", "0"], "--people"),
    ("app-people-missing-clip", "relsar-app", lambda b: ["--headless", "--source", f"{b.replay}+{b.path('gone.npz')}", "--people", "2"], "gone.npz"),
]  # fmt: skip


def run_command(name: str, argv: list[str], capsys) -> tuple[int, str, str]:
    """Run a command's entry point in this process → (exit code, stdout, stderr)."""
    module, func = SCRIPTS[name].split(":")
    with pytest.raises(SystemExit) as exit_info:
        getattr(importlib.import_module(module), func)(argv)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.fixture
def bad(tmp_path, toy_data):
    return Bad(tmp_path, toy_data)


@pytest.mark.parametrize(
    ("name", "make_argv", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_clear_line(name, make_argv, words, bad, capsys):
    before = sorted(p.relative_to(bad.toy) for p in bad.toy.rglob("*"))
    code, _, err = run_command(name, make_argv(bad), capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err and words in lines[0], err
    assert lines[0].startswith("error:"), err
    assert sorted(p.relative_to(bad.toy) for p in bad.toy.rglob("*")) == before  # nothing lost


def test_an_existing_run_is_kept_when_refused(bad, capsys):
    run = bad.existing_run
    code, _, _ = run_command(
        "relsar-train", ["supervised", "--data", str(bad.toy), "--out", str(run)], capsys
    )
    assert code == 2 and (run / "metrics.jsonl").read_text().count("\n") == 12


def test_every_command_is_fuzzed():
    covered = {c[1] for c in CASES}
    assert set(SCRIPTS) <= covered, f"add rows for {sorted(set(SCRIPTS) - covered)} to CASES"
