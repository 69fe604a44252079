"""Kills at chosen moments (issue #19): a SIGKILL or Ctrl-C at a chosen write, then the one-line
message and that nothing saved before is lost. Bad values are in test_robust_inputs.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from relsar_core.files import atomic_write, remove_stale_temps, visible
from relsar_core.skeleton.synthetic import make_toy_dataset

ROOT = Path(__file__).resolve().parents[1]


BYOL_CONFIG = (
    "model: {size: tiny}\n"
    "byol: {projector: [32, 16], predictor: [32, 16], epochs: 1, batch_size: 64, warmup_epochs: 0}\n"
)


# --- 2: a kill during a clip write -----------------------------------------------------------


def test_a_killed_clip_write_leaves_nothing_any_reader_picks_up(tmp_path):
    data = make_toy_dataset(tmp_path / "data", ("wave", "squat"), clips_per_class=3, frames=40)
    target = data / "wave" / "v2.npz"
    # A real SIGKILL in the middle of the write (after half the bytes, before the rename).
    script = textwrap.dedent(f"""
        import os, signal
        from relsar_core.files import atomic_write
        def write(tmp):
            with open(tmp, "wb") as fh:
                fh.write(b"PK\\x03\\x04" + b"half a clip" * 100)
                fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        atomic_write({str(target)!r}, write)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=60)
    assert done.returncode == -signal.SIGKILL
    left = [p for p in (data / "wave").iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and not target.exists()
    assert left[0] not in list((data / "wave").glob("*.npz"))  # the old temp name matched

    from relsar_core.data.datasets import load_clip_folder
    from relsar_core.live.sources import _clip_paths

    assert len(load_clip_folder(data, 30, 5).clip_paths) == 6  # relsar-train
    assert len(_clip_paths(data)) == 6  # replays
    assert remove_stale_temps(data) == 1 and not any(
        p.name.startswith(".") for p in (data / "wave").iterdir()
    )


def test_temp_names_hide_the_suffix_unless_a_writer_needs_it(tmp_path):
    seen = []
    atomic_write(tmp_path / "a.npz", lambda tmp: (seen.append(tmp), Path(tmp).write_bytes(b"x")))
    atomic_write(
        tmp_path / "m.keras",
        lambda tmp: (seen.append(tmp), Path(tmp).write_bytes(b"x")),
        keep_suffix=True,
    )
    assert Path(seen[0]).name.startswith(".a.npz.") and seen[0].endswith(".tmp")
    assert seen[1].endswith(".tmp.keras") and Path(seen[1]).name.startswith(".")
    listed = [tmp_path / ".x.npz", tmp_path / "y.npz", tmp_path / ".d" / "z.npz"]
    assert visible(listed, tmp_path) == [tmp_path / "y.npz"]
    # Only what lies below the listed folder counts: `../data` or `~/.cache/data` is not hidden.
    up = tmp_path / "a" / ".." / "data"
    assert visible([up / "y.npz", up / ".d" / "z.npz"], up) == [up / "y.npz"]
    cached = tmp_path / ".cache" / "data"
    assert visible([cached / "y.npz", cached / ".y.npz"], cached) == [cached / "y.npz"]


# --- 12, 10, 9: BYOL interrupted in epoch 1, metrics commit point, damaged checkpoint ----------


def test_byol_resume_after_first_epoch_kill_and_damaged_checkpoint(toy_data, tmp_path, capsys):
    from relsar_core.train.byol import BYOL
    from training.train_cli import main

    (tmp_path / "c.yaml").write_text(BYOL_CONFIG)
    run = tmp_path / "run"
    real_step = BYOL.train_step
    calls = {"n": 0}

    def step_then_kill(self, batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of epoch 1
        return real_step(self, batch)

    args = ["byol", "--data", str(toy_data), "--config", str(tmp_path / "c.yaml")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BYOL, "train_step", step_then_kill)
        with pytest.raises(SystemExit) as done:
            main([*args, "--out", str(run)])
    assert done.value.code == 130
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["byol", "--resume", str(run)])
    err = capsys.readouterr().err
    assert done.value.code == 0, err
    assert "starting at epoch 1" in err and "empty" not in err
    epochs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in epochs if r.get("type") == "epoch"] == [1]

    for data_file in (run / "ckpt").glob("ckpt-1.data-*"):
        data_file.write_bytes(data_file.read_bytes()[:100])  # truncated by a full disk
    encoder_before = (run / "encoder.keras").read_bytes()
    with pytest.raises(SystemExit) as done:
        main(["byol", "--resume", str(run), "--epochs", "2"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and "damaged" in err and "Traceback" not in err, err
    assert (run / "encoder.keras").read_bytes() == encoder_before  # the good encoder is kept


def test_supervised_metrics_survive_a_kill_at_the_state_write(toy_data, tmp_path):
    import relsar_core.train.callbacks as callbacks
    import relsar_core.train.supervised as supervised
    from relsar_core.config import load_config
    from relsar_core.data.datasets import load_splits

    splits = load_splits(toy_data, 30, 5, 0.15, 0.2, seed=3)
    config = load_config(
        "tiny", train={"epochs": 3, "batch_size": 64, "early_stopping_patience": 0}
    )
    run = tmp_path / "run"
    real = callbacks.write_json  # the checkpoint callback writes state.json after each epoch

    def killed_at_epoch_2_state(path, data, indent=2):
        if Path(path).name == "state.json" and data.get("epoch") == 2:
            raise KeyboardInterrupt  # the kill lands between the metrics and the state write
        real(path, data, indent)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(callbacks, "write_json", killed_at_epoch_2_state)
        with pytest.raises(KeyboardInterrupt):
            supervised.train_supervised(splits, config, run)
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    supervised.train_supervised(splits, config, run, resume=True)
    epochs = [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]  # none lost, none twice


# --- 8: relsar-convert writes the pair as one commit -----------------------------------------


def test_convert_killed_between_model_and_json_keeps_a_loadable_pair(tiny_run_dir, tmp_path):
    import relsar_core.train.export as export
    from relsar_core.runtime.tflite import TfliteClassifier

    out = tmp_path / "m.tflite"
    export.convert_run(tiny_run_dir, out, ["none"])
    old_json = (tmp_path / "m.json").read_text()
    real_replace = os.replace

    def killed_before_json(src, dst):
        if str(dst).endswith("m.json"):
            raise KeyboardInterrupt
        real_replace(src, dst)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(export.os, "replace", killed_before_json)
        with pytest.raises(KeyboardInterrupt):
            export.convert_run(tiny_run_dir, out, ["fp16"])  # a different model, same name
    assert (tmp_path / "m.json").read_text() == old_json  # the kill left new model + old JSON
    loaded = TfliteClassifier(out)  # rolls forward to the complete new pair
    assert loaded.quantization == "fp16" and not list(tmp_path.glob(".m.json*"))

    def killed_before_model(path, write, keep_suffix=False):
        raise KeyboardInterrupt

    import relsar_core.runtime.tflite as tflite  # where the pair is written (write_model_pair)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tflite, "atomic_write", killed_before_model)
        with pytest.raises(KeyboardInterrupt):
            export.convert_run(tiny_run_dir, out, ["dynamic"])
    assert TfliteClassifier(out).quantization == "fp16"  # the old pair, intact


# --- 5: extract workers die with their parent and stop on Ctrl-C -----------------------------


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found |= {int(p) for p in text.split()}
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie no one reaped has stopped all the same


def _workers(pid: int) -> set[int]:
    return {
        c
        for c in _children(pid)
        if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()
    }


def _start_extract(tmp_path: Path) -> tuple[subprocess.Popen, set[int]]:
    import time

    import cv2

    from relsar_core.pose.model_store import BLAZEPOSE, missing_files

    if missing_files(BLAZEPOSE, check_hash=False):
        pytest.skip("BlazePose models not fetched: run `relsar-models fetch blazepose`")
    rng = np.random.default_rng(0)
    for i in range(6):
        path = tmp_path / "videos" / "wave" / f"v{i}.avi"
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
        for _ in range(400):
            writer.write(rng.integers(0, 255, (120, 160, 3), np.uint8))
        writer.release()
    script = "from training.extract_cli import main; main()"
    argv = [str(tmp_path / "videos"), "--out", str(tmp_path / "out"), "--workers", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *argv, "--pose", "blazepose", "--threads", "1"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a shell gives a command
        # and Ctrl-C's default action, as a terminal gives a foreground command: a suite started
        # in the background (`make test &`) inherits SIGINT ignored, which exec keeps.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while len(_workers(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = _workers(proc.pid)
    assert len(workers) == 2, proc.stderr.read() if proc.poll() is not None else "no workers"
    time.sleep(3.0)  # the workers are extracting now
    return proc, workers


def _gone_within(pids: set[int], seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


def test_extract_workers_die_with_a_killed_parent(tmp_path):
    proc, workers = _start_extract(tmp_path)
    proc.kill()
    proc.wait(10)
    assert _gone_within(workers, 3.0), "orphaned workers kept running"


def test_extract_stops_within_a_second_of_ctrl_c(tmp_path):
    import time

    proc, workers = _start_extract(tmp_path)
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    code = proc.wait(30)
    # ~1 s on an idle machine; the bound leaves room for a loaded CI box (the old code took 11 s
    # and wrote 10 more clips meanwhile).
    assert _gone_within(workers, 2.0)
    assert time.monotonic() - start < 5.0 and code == 130
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "interrupted" in err
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]
