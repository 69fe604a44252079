"""The live pipeline without Qt: smoothing, the skeleton window, the threaded runner,
recording, the few-shot head, headless mode, and live == offline (no train/serve skew)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from relsar_core.data.recording import ClipRecorder, check_action_name
from relsar_core.errors import DataError, ModelFileError
from relsar_core.files import sha256_file
from relsar_core.live.pipeline import (
    FrameSlot,
    LivePipeline,
    PipelineRunner,
    open_classifier,
)
from relsar_core.live.sources import Frame, ReplaySource, SourceError
from relsar_core.pose.base import Skeleton
from relsar_core.runtime.smoothing import NO_ACTION, LabelSmoother
from relsar_core.skeleton.clip import Clip, load_clip
from relsar_core.skeleton.features import clip_features
from relsar_core.skeleton.layouts import to_body15


# ---------------------------------------------------------------- smoothing
def test_smoother_threshold_and_hysteresis():
    s = LabelSmoother(["a", "b", "c"], alpha=1.0, threshold=0.4, margin=0.1, hold=2)
    assert s.update(np.array([0.35, 0.35, 0.3])).label == NO_ACTION  # below the threshold
    first = s.update(np.array([0.9, 0.1, 0.0]))
    assert (first.label, first.index) == ("a", 0)
    # b leads by the margin once: a is kept (hysteresis); twice in a row: b takes over.
    assert s.update(np.array([0.45, 0.55, 0.0])).label == "a"
    assert s.update(np.array([0.45, 0.55, 0.0])).label == "b"
    # a leading by less than the margin never switches back; by more, only after `hold` windows.
    assert s.update(np.array([0.54, 0.46, 0.0])).label == "b"
    assert s.update(np.array([0.6, 0.4, 0.0])).label == "b"
    assert s.update(np.array([0.6, 0.4, 0.0])).label == "a"
    # The current class falling below the threshold hands over at once.
    assert s.update(np.array([0.1, 0.2, 0.7])).label == "c"
    assert s.nobody().label == NO_ACTION


def test_smoother_ema_and_close_classes_do_not_flicker():
    s = LabelSmoother(["a", "b"], alpha=0.5, threshold=0.3, margin=0.1, hold=2)
    s.update(np.array([1.0, 0.0]))
    out = s.update(np.array([0.0, 1.0]))
    np.testing.assert_allclose(out.probabilities, [0.5, 0.5])
    labels = [s.update(np.array(p)).label for p in ([0.45, 0.55], [0.55, 0.45]) * 5]
    assert set(labels) == {"a"}, labels  # alternating near-ties keep the current label
    with pytest.raises(ValueError):
        LabelSmoother(["a"], alpha=0.0)


def test_smoother_shows_the_rejection_class_as_no_action():
    s = LabelSmoother(["wave", "other"], alpha=1.0, threshold=0.5, margin=0.1, hold=2)
    assert s.update(np.array([0.9, 0.1])).label == "wave"
    out = s.update(np.array([0.2, 0.8]))  # `other` on top: no action, at once
    assert (out.label, out.index) == (NO_ACTION, None) and out.confidence == pytest.approx(0.8)
    assert s.update(np.array([0.9, 0.1])).label == "wave"


# ---------------------------------------------------------------- window and slot
def test_skeleton_window_keeps_time_order_and_counts_people():
    from relsar_core.skeleton.window import SkeletonWindow

    w = SkeletonWindow(4)
    for i in range(6):
        kp = np.full((15, 3), i, np.float32)
        kp[:, 2] = 1.0
        w.push(kp if i != 4 else None)
    arr = w.array()
    assert w.full and arr.shape == (4, 15, 3)
    np.testing.assert_array_equal(arr[:, 0, 0], [2, 3, 0, 5])
    assert w.person_fraction == 0.75
    assert w.missing_run == 0
    w.push(None)
    w.push(None)
    assert w.missing_run == 2 and w.person_fraction == 0.25


def test_frame_slot_drops_old_frames_and_blocks_when_lossless():
    slot = FrameSlot(drop=True)
    for i in range(5):
        slot.put(Frame(i, 0.0, None, (1, 1)))
    assert slot.get(0.1).index == 4 and slot.dropped == 4

    lossless = FrameSlot(drop=False)
    taken: list[int] = []

    def consume():
        while (f := lossless.get(1.0)) is not None:
            taken.append(f.index)
            time.sleep(0.002)

    t = threading.Thread(target=consume)
    t.start()
    for i in range(20):
        lossless.put(Frame(i, 0.0, None, (1, 1)))
    time.sleep(0.05)
    lossless.close()
    t.join(2)
    assert taken == list(range(20)) and lossless.dropped == 0


# ---------------------------------------------------------------- live == offline
def test_live_pipeline_equals_offline_features_and_classifier(tiny_tflite_model, toy_data):
    from relsar_core.runtime.tflite import TfliteClassifier

    clip_path = sorted((toy_data / "squat").glob("*.npz"))[1]
    clip = load_clip(clip_path)
    classifier = TfliteClassifier(tiny_tflite_model)
    stride = 5
    pipeline = LivePipeline(classifier, stride=stride, alpha=1.0, threshold=0.0)
    results = []
    runner = PipelineRunner(ReplaySource(clip_path, loop=False), pipeline, results.append)
    runner.start()
    assert runner.wait(20)
    preds = [r.prediction for r in results if r.prediction is not None]

    offline = classifier.predict_batch(
        clip_features(to_body15(clip.keypoints, clip.layout), 30, stride)
    )
    assert len(results) == clip.num_frames  # a file is never dropped from
    assert len(preds) == len(offline.logits) == (clip.num_frames - 30) // stride + 1
    assert [p.frame_index for p in preds] == [29 + stride * i for i in range(len(preds))]
    live_logits = np.stack([p.logits for p in preds])
    np.testing.assert_array_equal(live_logits, offline.logits)  # bit for bit: one feature path
    np.testing.assert_array_equal(np.stack([p.embedding for p in preds]), offline.embedding)
    assert all(p.raw_label == "squat" for p in preds)
    assert all(0 <= p.latency_ms < 1000 for p in preds)


def test_runner_reports_source_errors_and_nobody(tiny_tflite_model):
    from relsar_core.runtime.tflite import TfliteClassifier

    classifier = TfliteClassifier(tiny_tflite_model)

    class Broken(ReplaySource):
        def _read(self):
            if self._frame >= 35:
                raise SourceError("camera 0: lost (unplugged)")
            return super()._read()

    empty = Clip(np.zeros((40, 15, 3), np.float32))  # nobody in view at all
    results, errors = [], []
    runner = PipelineRunner(
        Broken([empty], loop=False),
        LivePipeline(classifier, stride=5),
        results.append,
        errors.append,
    )
    runner.start()
    runner.wait(10)
    assert errors and "lost" in str(errors[0])
    preds = [r.prediction for r in results if r.prediction is not None]
    assert preds and all(p.smoothed.label == NO_ACTION and p.logits is None for p in preds)


def test_label_turns_to_nobody_soon_after_the_person_leaves(toy_data):
    from types import SimpleNamespace

    class FixedClassifier:  # the rule under test is the pipeline's, not the model's
        class_names, window = ["a", "b"], 30

        def predict(self, features):
            assert features.shape == (30, 60) and np.isfinite(features).all()
            p = np.array([0.9, 0.1], np.float32)
            return SimpleNamespace(
                logits=np.log(p), probabilities=p, embedding=np.zeros(4, np.float32)
            )

    kp = load_clip(toy_clip_path(toy_data)).keypoints
    pipeline = LivePipeline(FixedClassifier(), stride=5, alpha=1.0, threshold=0.5)
    labels = {}
    for i in range(55):
        skeleton = Skeleton(kp[i], "body15") if i < 40 else None  # the person leaves at frame 40
        result = pipeline.process(Frame(i, time.perf_counter(), None, (640, 480), skeleton))
        if result.prediction is not None:
            labels[i] = result.prediction.smoothed.label
    assert labels == {29: "a", 34: "a", 39: "a", 44: "a", 49: NO_ACTION, 54: NO_ACTION}


def toy_clip_path(toy_data):
    return sorted((toy_data / "wave").glob("*.npz"))[0]


# ---------------------------------------------------------------- recording
def test_recorder_writes_a_training_ready_clip(tmp_path):
    with pytest.raises(DataError):
        check_action_name("../escape")
    rec = ClipRecorder(
        tmp_path, "clap hands", "coco17", fps=25.0, image_size=(320, 240), record_video=True
    )
    rng = np.random.default_rng(0)
    for i in range(12):
        kp = np.concatenate([rng.uniform(0, 200, (17, 2)), rng.uniform(0.5, 1, (17, 1))], 1).astype(
            np.float32
        )
        rec.add(Skeleton(kp, "coco17") if i != 5 else None, np.full((240, 320, 3), 80, np.uint8))
    path = rec.stop()
    assert path.parent == tmp_path / "clap hands" and path.suffix == ".npz"
    clip = load_clip(path)
    assert (
        clip.keypoints.shape == (12, 17, 3)
        and clip.layout == "coco17"
        and clip.label == "clap hands"
    )
    assert clip.fps == 25.0 and clip.keypoints[5, :, 2].max() == 0.0
    assert rec.video_path.is_file() and not list(tmp_path.rglob(".*tmp*"))
    cap = cv2.VideoCapture(str(rec.video_path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    second = ClipRecorder(tmp_path, "clap hands", "coco17")
    assert second.path != path
    with pytest.raises(DataError, match="too short"):
        second.stop()


# ---------------------------------------------------------------- few-shot
def test_teach_adds_an_action_and_keeps_the_others(tiny_tflite_model, toy_data, tmp_path):
    import shutil

    from relsar_core.runtime import fewshot
    from relsar_core.runtime.tflite import TfliteClassifier

    model = tmp_path / "m.tflite"
    shutil.copy(tiny_tflite_model, model)
    shutil.copy(tiny_tflite_model.with_suffix(".json"), model.with_suffix(".json"))
    base = TfliteClassifier(model)
    examples = sorted((toy_data / "jump").glob("*.npz"))[:5]
    start = time.perf_counter()
    taught = fewshot.teach(base, model, {"hop": examples})
    assert time.perf_counter() - start < 1.0  # "feels instant"
    assert taught.class_names == [*base.class_names, "hop"]
    assert fewshot.taught_path(model).is_file()

    def top(cls: str, i: int = 10) -> set[str]:
        clip = load_clip(sorted((toy_data / cls).glob("*.npz"))[i])
        out = taught.predict_batch(clip_features(clip.keypoints, 30, 5))
        np.testing.assert_allclose(out.probabilities.sum(1), 1.0, atol=1e-5)
        return {taught.class_names[j] for j in out.probabilities.argmax(1)}

    # "hop" is taught from clips of the base class jump: held-out jump windows stay jump or hop.
    # The gate against the base classes (#15) keeps a window nearer a base centroid with that
    # class, so the taught copy of a base class never takes another class.
    held_out = taught.predict_batch(
        clip_features(load_clip(sorted((toy_data / "jump").glob("*.npz"))[10]).keypoints, 30, 5)
    )
    names = [taught.class_names[j] for j in held_out.probabilities.argmax(1)]
    assert set(names) <= {"hop", "jump"} and len(names) >= 5, names
    for other in ("wave", "squat", "still"):
        assert top(other) == {other}
    # Saved beside the model: a new launch gets it back; another model version refuses it.
    reloaded, warning = open_classifier(model)
    assert warning is None and reloaded.class_names == taught.class_names
    clip = Clip(load_clip(examples[0]).keypoints[:12])  # shorter than a window: padded
    assert fewshot.clip_embeddings(base, clip).shape == (1, base.teach_embedding_dim)
    np.savez(
        fewshot.taught_path(model),
        embeddings=np.zeros((2, 3)),
        descriptors=np.zeros((2, fewshot.DESCRIPTOR_DIM)),  # this version's, for another model
        labels=np.array(["a", "b"]),
        clips=np.array([0, 1]),
        model_sha256=np.str_("0" * 64),
    )
    with pytest.raises(ModelFileError, match="different version"):
        fewshot.load_taught(model)
    clf, warning = open_classifier(model)
    assert "different version" in warning and clf.class_names == base.class_names
    np.savez(  # taught before the pose descriptors grew: refused, with what to do
        fewshot.taught_path(model),
        embeddings=np.zeros((2, 3)),
        descriptors=np.zeros((2, 4)),
        labels=np.array(["a", "b"]),
        clips=np.array([0, 1]),
        model_sha256=np.str_(sha256_file(model)),
    )
    with pytest.raises(ModelFileError, match=r"descriptors of 4 values.*teach those actions again"):
        fewshot.load_taught(model)
    assert fewshot.forget_taught(model) and not fewshot.taught_path(model).exists()


# ---------------------------------------------------------------- headless
def test_headless_cli_writes_one_line_per_window(tiny_tflite_model, toy_data, tmp_path, capsys):
    from app.main import main

    clip_path = sorted((toy_data / "arms_up").glob("*.npz"))[0]
    out = tmp_path / "results.jsonl"
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "--headless",
                "--source",
                str(clip_path),
                "--model",
                str(tiny_tflite_model),
                "--out",
                str(out),
                "--smoothing",
                "1",
                "--threshold",
                "0",
            ]
        )
    assert exit_.value.code == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == (60 - 30) // 5 + 1
    assert [x["frame"] for x in lines] == list(range(29, 60, 5))
    assert all(x["label"] == "arms_up" and x["raw_label"] == "arms_up" for x in lines)
    assert set(lines[0]["probabilities"]) == set(
        json.loads(tiny_tflite_model.with_suffix(".json").read_text())["class_names"]
    )

    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "--headless",
                "--source",
                str(tmp_path / "nope.mp4"),
                "--model",
                str(tiny_tflite_model),
            ]
        )
    assert exit_.value.code == 2 and "nope.mp4" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(
            ["--headless", "--source", str(clip_path), "--model", str(tmp_path / "missing.tflite")]
        )
    assert exit_.value.code == 2 and "missing.tflite" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", "--source", str(clip_path), "--stride", "0"])
    assert exit_.value.code == 2


def test_no_display_says_how_to_run_headless(monkeypatch, capsys):
    from app.main import main

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(SystemExit) as exit_:
        main(["--source", "demo"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no display" in err and "--headless" in err


def test_importing_the_live_parts_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, relsar_core.live.pipeline, relsar_core.live.sources, relsar_core.runtime.fewshot, "
        "relsar_core.data.recording, relsar_core.live.headless, relsar_core.runtime.tflite; "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert out.stdout.strip() == "False", out.stderr


def test_pipeline_bench_measures_a_replay_run(tiny_tflite_model, toy_data):
    """The benchmark's measuring loop on a replay (the timings themselves are for relsar-bench)."""
    from relsar_core.bench.pipeline import _run_pipeline
    from relsar_core.runtime.tflite import TfliteClassifier

    stats = _run_pipeline(
        str(toy_data / "wave"), TfliteClassifier(tiny_tflite_model), None, 90, realtime=False
    )
    assert stats["frames"] >= 90 and stats["dropped"] == 0
    assert stats["fps"] >= 30  # a replay (no pose) keeps up with a 30 FPS camera, and more
    assert len(stats["latencies"]) >= 10  # a label every 5 frames after the first window's warm-up
    assert 0 < stats["classify_p50_ms"] < 50 and stats["pose_p50_ms"] == 0  # tiny model, no pose
