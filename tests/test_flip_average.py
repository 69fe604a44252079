"""Flip test-time averaging (relsar_core.runtime.flip_average): the feature-space flip is the
mirrored skeleton's features, the averaged output is the mean of the two single runs with the
unflipped embedding, it is handedness-symmetric, and the sidecar switch reaches every path that
scores a model (TfliteClassifier, open_classifier, relsar-eval, relsar-gate)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from relsar_core.errors import ModelFileError
from relsar_core.skeleton.features import flip_features, window_features
from relsar_core.skeleton.layouts import LAYOUTS
from relsar_core.skeleton.synthetic import toy_clip


def _mirrored(keypoints: np.ndarray, width: float = 640.0) -> np.ndarray:
    """The mirror-image performer in pixels: x → width − x, left and right joints swapped."""
    out = keypoints[..., LAYOUTS["body15"].flip_permutation, :].copy()
    out[..., 0] = width - out[..., 0]
    return out


@pytest.mark.parametrize("hidden", [(), (8, 9, 10, 11, 12, 13, 14)])
def test_flipping_features_equals_the_features_of_the_mirrored_skeleton(hidden):
    """With and without the hips and legs (the upper-body framing: confidence 0)."""
    kp = toy_clip("wave", 30, np.random.default_rng(4))
    kp[:, list(hidden), 2] = 0.0
    kp[5, 4, 2] = 0.0  # one dropped wrist: filled from its last good value on both sides
    np.testing.assert_allclose(
        flip_features(window_features(kp)), window_features(_mirrored(kp)), atol=1e-5
    )
    assert not np.allclose(flip_features(window_features(kp)), window_features(kp), atol=1e-3)


def test_flip_is_its_own_inverse_and_keeps_the_shape():
    x = np.random.default_rng(0).normal(size=(3, 30, 60)).astype(np.float32)
    assert flip_features(x).shape == x.shape and flip_features(x).dtype == np.float32
    np.testing.assert_array_equal(flip_features(flip_features(x)), x)


@pytest.fixture()
def model_copy(tmp_path, tiny_tflite_model):
    model = tmp_path / "tiny.tflite"
    shutil.copy(tiny_tflite_model, model)
    shutil.copy(tiny_tflite_model.with_suffix(".json"), model.with_suffix(".json"))
    return model


def _set_sidecar(model, **fields) -> None:
    meta = json.loads(model.with_suffix(".json").read_text())
    meta.update(fields)
    model.with_suffix(".json").write_text(json.dumps(meta))


def test_averaged_output_is_the_mean_of_the_two_single_runs(model_copy, toy_data):
    from relsar_core.data.datasets import load_clip_folder
    from relsar_core.runtime.tflite import TfliteClassifier, softmax

    windows = load_clip_folder(toy_data, window=30, stride=15).windows[:12]
    plain = TfliteClassifier(model_copy)
    assert plain.flip_average is False  # no key in the sidecar: as before
    both = TfliteClassifier(model_copy, flip_average=True)
    one, mirror = plain.predict_batch(windows), plain.predict_batch(flip_features(windows))
    out = both.predict_batch(windows)
    np.testing.assert_allclose(out.logits, (one.logits + mirror.logits) / 2, atol=1e-6)
    np.testing.assert_allclose(out.probabilities, softmax(out.logits), atol=1e-6)
    # Teaching and the gate's centres need laterality: the embedding is the window's own.
    np.testing.assert_array_equal(out.embedding, one.embedding)
    np.testing.assert_array_equal(out.mirror_embedding, mirror.embedding)  # for the gate only
    assert plain.predict_batch(windows).mirror_embedding is None
    single = both.predict(windows[3])
    np.testing.assert_allclose(single.logits, out.logits[3], atol=1e-6)
    np.testing.assert_array_equal(single.embedding, one.embedding[3])
    assert both.predict_batch(windows[:0]).logits.shape == (0, both.num_classes)
    # Handedness-symmetric: a window and its mirror image get the same class scores (the
    # model alone does not: that is what the averaging removes).
    flipped = both.predict_batch(flip_features(windows))
    np.testing.assert_allclose(flipped.logits, out.logits, atol=1e-5)
    assert not np.allclose(mirror.logits, one.logits, atol=1e-3)


def test_the_sidecar_switch_reaches_the_apps_path_and_relsar_eval(model_copy, toy_data, tmp_path):
    from relsar_core.cli import run_cli
    from relsar_core.live.pipeline import open_classifier
    from relsar_core.runtime.tflite import TfliteClassifier
    from training.eval_cli import _main

    _set_sidecar(model_copy, flip_average="yes")
    with pytest.raises(ModelFileError, match="'flip_average' must be true or false"):
        TfliteClassifier(model_copy)
    _set_sidecar(model_copy, flip_average=True)
    assert TfliteClassifier(model_copy).flip_average is True
    clf, _ = open_classifier(model_copy)
    assert clf.flip_average is True
    assert open_classifier(model_copy, flip_average=False)[0].flip_average is False
    for extra, on in (([], True), (["--no-flip-average"], False)):
        out = tmp_path / f"eval_{on}.json"
        argv = [str(model_copy), "--data", str(toy_data), "--out", str(out), *extra]
        assert run_cli(_main, argv) == 0
        assert json.loads(out.read_text())["flip_average"] is on


def test_relsar_gate_tunes_with_flip_averaging_and_writes_both_together(
    tmp_path, tiny_tflite_model, toy_data
):
    from relsar_core.runtime.tflite import TfliteClassifier
    from training import rejection_cli

    model = tmp_path / "m" / "tiny.tflite"
    model.parent.mkdir()
    shutil.copy(tiny_tflite_model, model)
    meta = json.loads(tiny_tflite_model.with_suffix(".json").read_text())
    meta["class_names"] = ["other" if n == "still" else n for n in meta["class_names"]]
    model.with_suffix(".json").write_text(json.dumps(meta))
    train = tmp_path / "train"
    shutil.copytree(toy_data, train)
    (train / "still").rename(train / "other")
    oos = tmp_path / "oos"
    shutil.copytree(train / "other", oos / "other_motion")  # any folder of clips will do here
    argv = [str(model), "--train", str(train), "--val-out-of-set", str(oos), "--config", "tiny"]
    for flag, on in (("--flip-average", True), ("--no-flip-average", False)):
        with pytest.raises(SystemExit) as done:
            rejection_cli.main([*argv, flag])
        assert done.value.code == 0
        written = json.loads(model.with_suffix(".json").read_text())
        assert written["flip_average"] is on
        assert written["rejection"]["tuning"]["flip_average"] is on
        assert TfliteClassifier(model).flip_average is on
    with pytest.raises(SystemExit):  # neither flag: the sidecar's setting is kept
        rejection_cli.main(argv)
    assert json.loads(model.with_suffix(".json").read_text())["flip_average"] is False


def test_with_flip_averaging_the_gate_takes_the_nearer_of_the_two_views(toy_gate):
    from relsar_core.runtime.rejection import GatedClassifier
    from relsar_core.runtime.tflite import ClassifierOutput

    names = ["wave", "clap", "other"]
    entry, gate = toy_gate(names)
    probs = np.tile(np.array([[0.9, 0.05, 0.05]], np.float32), (2, 1))  # top class: wave
    far, near = np.eye(8)[[5, 5]], np.eye(8)[[0, 5]]  # window 0's mirror image is near `wave`
    alone = gate.similarities(probs, far)
    both = gate.similarities(probs, far, near)
    np.testing.assert_allclose(both, np.maximum(alone, gate.similarities(probs, near)))
    assert both[0] > 0.9 > alone[0] and both[1] == pytest.approx(alone[1])
    gated = gate.gate(probs, far, near)
    assert gated[0].argmax() == 0 and gated[1].argmax() == 2  # only the far-in-both one goes

    class Fake:
        class_names, embedding_dim, metadata = names, 8, {"rejection": entry}

        def predict_batch(self, features):
            return ClassifierOutput(np.log(probs), probs, far, near)

        def predict(self, features):
            return ClassifierOutput(np.log(probs[0]), probs[0], far[0], near[0])

    wrapped = GatedClassifier(Fake(), gate)
    np.testing.assert_allclose(wrapped.predict_batch(None).probabilities, gated, atol=1e-6)
    np.testing.assert_allclose(wrapped.predict(None).probabilities, gated[0], atol=1e-6)
