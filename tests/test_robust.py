"""Kills and bad values at chosen moments (issue #19): each test makes the kill or feeds the
value, then checks the one-line message and that nothing saved before is lost."""

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

from relsar_core.errors import ClipError, DataError, ModelFileError, RelsarError
from relsar_core.files import atomic_write, remove_stale_temps, visible
from relsar_core.skeleton.clip import Clip, load_clip, save_clip
from relsar_core.skeleton.features import MIN_CONFIDENCE, window_features
from relsar_core.skeleton.synthetic import make_toy_dataset, toy_clip

ROOT = Path(__file__).resolve().parents[1]


def _clip(frames: int = 40, seed: int = 0) -> np.ndarray:
    return toy_clip("wave", frames, np.random.default_rng(seed))


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
    assert visible([tmp_path / ".x.npz", tmp_path / "y.npz", tmp_path / ".d" / "z.npz"]) == [
        tmp_path / "y.npz"
    ]


# --- 1: non-finite loss stops training; NaN is never "best" ------------------------------------


class _PoisonAfterFirstEpoch:
    """Callback: every weight NaN at the start of epoch 2 (what a huge learning rate does)."""

    def __new__(cls):
        import keras

        class Poison(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1:
                    for w in self.model.weights:
                        if w.dtype == "float32":
                            w.assign(np.full(w.shape, np.nan, np.float32))

        return Poison()


def test_supervised_stops_on_nan_and_keeps_the_good_epoch(toy_data, tmp_path):
    from relsar_core.config import load_config
    from relsar_core.data.datasets import load_splits
    from relsar_core.train.supervised import train_supervised

    splits = load_splits(toy_data, 30, 5, 0.15, 0.2, seed=3)
    config = load_config("tiny", train={"epochs": 3, "batch_size": 64})
    run = tmp_path / "run"
    with pytest.raises(RelsarError, match="diverged.*learning rate") as err:
        train_supervised(splits, config, run, callbacks=(_PoisonAfterFirstEpoch(),))
    assert "\n" not in str(err.value) and "epoch 2" in str(err.value)
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 1 and np.isfinite(state["best"]) and state["best_epoch"] == 1
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and "NaN" not in lines[0]
    from relsar_core.train.supervised import load_model

    best = load_model(run / "best.keras")
    assert all(np.isfinite(w).all() for w in best.get_weights())


def test_supervised_cli_huge_learning_rate_is_one_line(toy_data, tmp_path, capsys):
    from training.train_cli import main

    run = tmp_path / "run"
    args = ["supervised", "--config", "tiny", "--data", str(toy_data), "--out", str(run)]
    with pytest.raises(SystemExit) as done:
        main([*args, "--epochs", "2", "--learning-rate", "1e30", "--batch-size", "64"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and "diverged" in err and "Traceback" not in err
    state = json.loads((run / "state.json").read_text()) if (run / "state.json").exists() else {}
    assert state.get("best") is None or np.isfinite(state["best"])


BYOL_CONFIG = (
    "model: {size: tiny}\n"
    "byol: {projector: [32, 16], predictor: [32, 16], epochs: 1, batch_size: 64, warmup_epochs: 0}\n"
)


def test_byol_stops_on_nan_before_saving_anything(tmp_path):
    from relsar_core.config import BYOLRunConfig, load_config
    from relsar_core.skeleton.features import clip_features
    from relsar_core.train.pretrain import pretrain_byol

    (tmp_path / "c.yaml").write_text(BYOL_CONFIG)
    config = load_config(tmp_path / "c.yaml", BYOLRunConfig)
    windows = np.concatenate([clip_features(_clip(60, s), 30, 5) for s in range(20)])
    windows[::7] = np.nan  # what 3e38 coordinates made of the features before the fix
    with pytest.raises(DataError, match="BYOL diverged"):
        pretrain_byol(windows, config, tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run" / "encoder.keras").exists()
    assert not (tmp_path / "run" / "ckpt").exists()


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
    import relsar_core.train.supervised as supervised
    from relsar_core.config import load_config
    from relsar_core.data.datasets import load_splits

    splits = load_splits(toy_data, 30, 5, 0.15, 0.2, seed=3)
    config = load_config(
        "tiny", train={"epochs": 3, "batch_size": 64, "early_stopping_patience": 0}
    )
    run = tmp_path / "run"
    real = supervised.write_json

    def killed_at_epoch_2_state(path, data, indent=2):
        if Path(path).name == "state.json" and data.get("epoch") == 2:
            raise KeyboardInterrupt  # the kill lands between the metrics and the state write
        real(path, data, indent)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(supervised, "write_json", killed_at_epoch_2_state)
        with pytest.raises(KeyboardInterrupt):
            supervised.train_supervised(splits, config, run)
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    supervised.train_supervised(splits, config, run, resume=True)
    epochs = [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]  # none lost, none twice


# --- 3: a new run into an existing run folder ------------------------------------------------


def test_overwrite_replaces_only_a_run_folder(tmp_path):
    from relsar_core.files import prepare_new_run

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    (run / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(RelsarError, match="--resume .* or --overwrite"):
        prepare_new_run(run)
    assert (run / "metrics.jsonl").exists()
    prepare_new_run(run, overwrite=True)
    assert not run.exists() or not any(run.iterdir())
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(RelsarError, match="not a run folder"):
        prepare_new_run(other, overwrite=True)
    assert (other / "holiday.jpg").exists()


# --- 4, 14: implausible clips ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"fps": 0.001}, "plausible range"),
        ({"fps": 5000.0}, "plausible range"),
        ({"image_size": (-640, 480)}, "positive"),
    ],
)
def test_implausible_clip_settings_are_refused(tmp_path, fields, words):
    clip = Clip(_clip(), **fields)
    with pytest.raises(ClipError, match=words):
        save_clip(tmp_path / "c.npz", clip)
    assert not list(tmp_path.iterdir())


def test_huge_finite_coordinates_are_refused_by_image_size(tmp_path):
    for value in (3e38, 640 * 10):
        kp = _clip()
        kp[3, 2, 0] = value
        kp[3, 2, 2] = 0.9
        with pytest.raises(ClipError, match="absurd|far outside"):
            save_clip(tmp_path / "c.npz", Clip(kp))
    kp = _clip()
    kp[3, 2, 0] = -300.0  # a hand just outside the frame is a real pose
    save_clip(tmp_path / "ok.npz", Clip(kp))
    assert load_clip(tmp_path / "ok.npz").num_frames == 40


# --- 6: NaN or absurd joints are missing joints ----------------------------------------------


def test_nan_and_huge_joints_are_missing_joints_in_features_and_the_live_window():
    kp = _clip(30)
    missing = kp.copy()
    missing[:, 4, 2] = 0.0
    expected = window_features(missing)
    for bad in (np.nan, np.inf, 3e38):
        broken = kp.copy()
        broken[:, 4, 0] = bad
        got = window_features(broken)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, expected, atol=1e-5)

    from relsar_core.skeleton.window import SkeletonWindow

    window = SkeletonWindow(30)
    nan_person = np.full((15, 3), np.nan, np.float32)
    nan_person[:, 2] = 0.95  # NaN x, y with "good" confidence
    for t in range(30):
        window.push(nan_person, t / 30)
    assert window.missing_run == 30 and window.person_fraction == 0.0
    assert np.isfinite(window.array()).all() and (window.array()[..., 2] < MIN_CONFIDENCE).all()


def test_runtime_refuses_non_finite_features(tiny_tflite_model):
    from relsar_core.runtime.tflite import TfliteClassifier

    classifier = TfliteClassifier(tiny_tflite_model)
    x = np.zeros((classifier.window, 60), np.float32)
    x[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        classifier.predict(x)
    with pytest.raises(ValueError, match="NaN"):
        classifier.predict_batch(x[None])


# --- 7: byol --unlabeled at the model's rate -------------------------------------------------


def test_unlabeled_pretraining_resamples_to_the_model_rate(tmp_path):
    from relsar_core.config import DataConfig
    from relsar_core.skeleton.features import resample_frames
    from relsar_core.train.pretrain import load_pretraining_windows

    kp = _clip(60)
    save_clip(tmp_path / "a" / "x30.npz", Clip(kp, fps=30.0))
    save_clip(tmp_path / "b" / "x60.npz", Clip(resample_frames(kp, 119), fps=60.0))
    w30, _ = load_pretraining_windows([tmp_path / "a"], 30, 5, True, DataConfig())
    w60, _ = load_pretraining_windows([tmp_path / "b"], 30, 5, True, DataConfig())
    assert w30.shape == w60.shape  # a 60 fps clip is the same second of movement, not half


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

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(export, "atomic_write", killed_before_model)
        with pytest.raises(KeyboardInterrupt):
            export.convert_run(tiny_run_dir, out, ["dynamic"])
    assert TfliteClassifier(out).quantization == "fp16"  # the old pair, intact


# --- 9: corrupt graph, taught file, action names ---------------------------------------------


def test_a_graph_the_interpreter_cannot_prepare_is_one_line(tiny_tflite_model, monkeypatch):
    from ai_edge_litert.interpreter import Interpreter

    from relsar_core.runtime.tflite import TfliteClassifier

    def broken(self):
        raise RuntimeError("tensorflow/lite/kernels/fully_connected.cc:360 bad shape\nnode 3")

    monkeypatch.setattr(Interpreter, "allocate_tensors", broken)
    with pytest.raises(ModelFileError, match=r"cannot prepare its graph.*bad shape\)$"):
        TfliteClassifier(tiny_tflite_model)


@pytest.mark.parametrize("problem", ["size", "nan"])
def test_a_broken_taught_file_is_a_warning_not_a_crash(tiny_tflite_model, tmp_path, problem):
    import shutil

    from relsar_core.live.pipeline import open_classifier
    from relsar_core.runtime.fewshot import save_taught

    model = tmp_path / "m.tflite"
    shutil.copy(tiny_tflite_model, model)
    shutil.copy(tiny_tflite_model.with_suffix(".json"), model.with_suffix(".json"))
    dim = json.loads(model.with_suffix(".json").read_text())["embedding_dim"]
    emb = np.ones((2, dim + 3 if problem == "size" else dim), np.float32)
    if problem == "nan":
        emb[1, 0] = np.nan
    save_taught(model, emb, np.array(["clap", "clap"]))
    classifier, warning = open_classifier(model)
    assert warning and "teach again" in warning and "\n" not in warning
    assert classifier.predict(np.zeros((classifier.window, 60), np.float32)).probabilities.size


def test_long_action_names_are_refused_before_any_file(tmp_path):
    from relsar_core.data.recording import MAX_ACTION_NAME, ClipRecorder, check_action_name

    for n in (240, 256, 300):
        with pytest.raises(DataError, match=f"at most {MAX_ACTION_NAME}"):
            ClipRecorder(tmp_path, "a" * n, "body15")
    assert not list(tmp_path.iterdir())
    assert check_action_name("b" * MAX_ACTION_NAME) == "b" * MAX_ACTION_NAME


# --- 11: extract never writes outside --out ---------------------------------------------------


def test_extract_plan_stays_inside_out(tmp_path):
    from relsar_core.data.extract import plan_jobs

    videos = tmp_path / "videos"
    (videos / "wave").mkdir(parents=True)
    (videos / "wave" / "a.mp4").write_bytes(b"x")
    (videos / ".hidden.mp4").write_bytes(b"x")
    out = tmp_path / "out"
    jobs = plan_jobs([videos / "wave" / ".." / "wave" / "a.mp4", videos / "wave" / ".."], out)
    assert {j.label for j in jobs} == {"wave"}
    for job in jobs:
        assert job.out.resolve().is_relative_to(out.resolve())


# --- 15: no native noise in the terminal -----------------------------------------------------


def test_loading_a_model_prints_nothing_natively(tiny_tflite_model, capfd):
    from relsar_core.runtime.tflite import TfliteClassifier

    capfd.readouterr()
    classifier = TfliteClassifier(tiny_tflite_model)
    classifier.predict(np.zeros((classifier.window, 60), np.float32))
    out, err = capfd.readouterr()
    assert "XNNPACK" not in err and err == ""


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
    assert _gone_within(workers, 2.0), "orphaned workers kept running"


def test_extract_stops_within_a_second_of_ctrl_c(tmp_path):
    import time

    proc, workers = _start_extract(tmp_path)
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    code = proc.wait(30)
    assert _gone_within(workers, 1.0)
    assert time.monotonic() - start < 2.0 and code == 130
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "interrupted" in err
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]


# --- 14, 15: truncated videos are noted; FFmpeg stays quiet ----------------------------------


def _write_avi(path: Path, frames: int) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 40 + 4 * i, np.uint8))
    writer.release()
    return path


def test_a_truncated_video_is_extracted_with_a_note(tmp_path):
    from relsar_core.data.extract import ExtractJob, extract_video
    from relsar_core.pose.base import PoseEstimator, Skeleton

    class Centre(PoseEstimator):
        layout = "body15"

        def estimate(self, frame):
            kp = np.tile(np.array([[32.0, 24.0, 0.9]], np.float32), (15, 1))
            return Skeleton(kp, "body15")

    video = _write_avi(tmp_path / "wave" / "v.avi", 40)
    whole = extract_video(ExtractJob(video, "wave", tmp_path / "out" / "a.npz"), Centre())
    assert whole.status == "done" and whole.frames == 40 and whole.message == ""
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])  # a copy that stopped half-way
    cut = extract_video(ExtractJob(video, "wave", tmp_path / "out" / "b.npz"), Centre())
    assert cut.status == "done" and cut.frames < 40
    assert f"read {cut.frames} of 40 frames" in cut.message


def test_headless_on_a_broken_video_is_one_line_without_ffmpeg_noise(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video" * 20)
    done = subprocess.run(
        [sys.executable, "-c", "from app.main import main; main()", "--headless"]
        + ["--source", str(broken), "--out", str(tmp_path / "r.jsonl")],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "moov" not in done.stderr and "Traceback" not in done.stderr
