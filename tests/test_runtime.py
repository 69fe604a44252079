"""TfliteClassifier on a converted tiny model: outputs, batch API, feature path, and no TensorFlow."""

import json
import subprocess
import sys

import numpy as np
import pytest

from relsar_core.data.datasets import load_clip_folder
from relsar_core.runtime.tflite import TfliteClassifier, default_num_threads, softmax


@pytest.fixture(scope="module")
def classifier(tiny_tflite_model):
    return TfliteClassifier(tiny_tflite_model)


def test_attributes_come_from_the_sidecar(classifier, tiny_tflite_model):
    meta = json.loads(tiny_tflite_model.with_suffix(".json").read_text())
    assert classifier.class_names == meta["class_names"] == sorted(meta["class_names"])
    assert len(classifier.class_names) == 5
    assert classifier.window == 30
    assert classifier.layout == "body15"
    assert classifier.embedding_dim == 64  # the tiny preset
    assert classifier.quantization == "none"


def test_predict_on_feature_windows_classifies_toy_clips(classifier, toy_data):
    """Windows made by the one feature function (as the app makes them) are classified right."""
    data = load_clip_folder(toy_data, window=30, stride=10)
    correct = 0
    for window, label in zip(data.windows, data.labels, strict=True):
        out = classifier.predict(window)
        assert (
            out.logits.shape == (5,)
            and out.probabilities.shape == (5,)
            and out.embedding.shape == (64,)
        )
        assert out.logits.dtype == np.float32
        np.testing.assert_allclose(out.probabilities.sum(), 1.0, rtol=1e-5)
        correct += int(out.probabilities.argmax() == label)
    assert correct / len(data.labels) >= 0.9


def test_predict_batch_equals_single_calls(classifier, toy_data):
    windows = load_clip_folder(toy_data, window=30, stride=15).windows[:20]
    batch = classifier.predict_batch(windows)
    assert batch.logits.shape == (20, 5) and batch.embedding.shape == (20, 64)
    singles = [classifier.predict(w) for w in windows]
    np.testing.assert_allclose(batch.logits, np.stack([s.logits for s in singles]), atol=1e-6)
    np.testing.assert_allclose(batch.embedding, np.stack([s.embedding for s in singles]), atol=1e-6)
    np.testing.assert_allclose(batch.probabilities, softmax(batch.logits))
    assert classifier.predict_batch(windows[:0]).logits.shape == (0, 5)


def test_wrong_feature_shape_is_refused(classifier):
    with pytest.raises(ValueError, match=r"expected features \(30, 60\)"):
        classifier.predict(np.zeros((29, 60), np.float32))
    with pytest.raises(ValueError, match=r"expected features \(N, 30, 60\)"):
        classifier.predict_batch(np.zeros((30, 60), np.float32))


def test_default_threads_are_capped():
    assert 1 <= default_num_threads() <= 4


def test_importing_and_running_the_runtime_never_imports_tensorflow(tiny_tflite_model):
    code = (
        "import sys, numpy as np\n"
        "from relsar_core.runtime.tflite import TfliteClassifier\n"
        f"clf = TfliteClassifier({str(tiny_tflite_model)!r})\n"
        "clf.predict(np.zeros((30, 60), np.float32))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
        "print('LOADED', bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout, result.stdout


def test_a_runtime_only_process_stays_small(tiny_tflite_model, toy_data):
    """The bench's memory probe: a fresh process that only runs TfliteClassifier."""
    from relsar_core.bench.classifier import memory_probe

    windows = load_clip_folder(toy_data, window=30, stride=15).windows
    rss, peak, tf_loaded = memory_probe(tiny_tflite_model, windows, calls=50)
    assert not tf_loaded
    assert 10 < rss <= peak < 150


def test_bench_times_tflite_in_a_process_without_tensorflow(tiny_tflite_model, toy_data):
    """The plumbing of `relsar-bench classifier`'s TFLite half, on the tiny model."""
    from relsar_core.bench.classifier import _run_tflite_timings

    windows = load_clip_folder(toy_data, window=30, stride=15).windows
    timed = _run_tflite_timings(
        {"none": tiny_tflite_model, "none-dynamic-batch": tiny_tflite_model},
        windows,
        rounds=30,
        batch_repeats=1,
    )
    for name in ("none", "none-dynamic-batch", "none, all cores"):
        p50, p95 = timed[name]
        assert 0 < p50 <= p95 < 1000
    # predict_batch per window: never slower than a single call's p95 plus margin
    assert 0 < timed["batch none"] < timed["none"][1] * 2 + 1.0
    assert timed["threads"] == default_num_threads()  # the subprocess runs under this one's cores


def test_one_thread_rule_for_every_inference_engine(monkeypatch):
    import os

    from relsar_core import threads
    from relsar_core.runtime.tflite import default_num_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert threads.default_threads() == threads.MAX_DEFAULT_THREADS == 4
    assert default_num_threads() == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert threads.default_threads() == 2 and default_num_threads() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert threads.default_threads(share=0.5) == 1
