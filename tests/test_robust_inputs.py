"""Bad values (issue #19): NaN losses, absurd joints, implausible clips, broken files; each test
checks the one-line message and that nothing saved before is lost. Kills: test_robust_kills.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relsar_core.errors import ClipError, DataError, ModelFileError, RelsarError
from relsar_core.skeleton.clip import Clip, load_clip, save_clip
from relsar_core.skeleton.features import MIN_CONFIDENCE, window_features
from relsar_core.skeleton.synthetic import toy_clip

ROOT = Path(__file__).resolve().parents[1]


def _clip(frames: int = 40, seed: int = 0) -> np.ndarray:
    return toy_clip("wave", frames, np.random.default_rng(seed))


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
    from relsar_core.runtime.fewshot import TaughtExamples, save_taught

    model = tmp_path / "m.tflite"
    shutil.copy(tiny_tflite_model, model)
    shutil.copy(tiny_tflite_model.with_suffix(".json"), model.with_suffix(".json"))
    dim = json.loads(model.with_suffix(".json").read_text())["embedding_dim"]
    emb = np.ones((2, dim + 3 if problem == "size" else dim), np.float32)
    if problem == "nan":
        emb[1, 0] = np.nan
    from relsar_core.skeleton.descriptors import DESCRIPTOR_DIM

    desc = np.ones((2, DESCRIPTOR_DIM), np.float32)
    save_taught(model, TaughtExamples(emb, desc, np.array(["clap", "clap"]), np.array([0, 1])))
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


@pytest.mark.parametrize("kind", ["broken video", "rtsp stream"])
def test_headless_on_a_broken_source_is_one_line_without_ffmpeg_noise(tmp_path, kind):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video" * 20)
    source = str(broken) if kind == "broken video" else "rtsp://127.0.0.1:9/none"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    done = subprocess.run(
        [sys.executable, "-c", "from app.main import main; main()", "--headless"]
        + ["--source", source, "--out", str(tmp_path / "r.jsonl")],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert (
        "moov" not in done.stderr and "WARN" not in done.stderr and "Traceback" not in done.stderr
    )
