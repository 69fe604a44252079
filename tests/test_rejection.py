"""The open-set gate (relsar_core.runtime.rejection): the gate itself, its sidecar entry, that
the app's default path (open_classifier: app, headless, relsar-eval) applies it, and that its
tuning on validation data picks the weakest gate meeting the target."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from relsar_core.runtime.rejection import (
    REJECTION_SPACE,
    GatedClassifier,
    read_rejection,
    rejection_entry,
    with_rejection,
)

NAMES = ["wave", "clap", "other"]


def test_gate_keeps_windows_near_their_class_and_rejects_far_ones(toy_gate):
    _, gate = toy_gate(NAMES)
    probs = np.array([[0.9, 0.05, 0.05]] * 3 + [[0.1, 0.1, 0.8]], np.float32)
    emb = np.stack([np.eye(8)[0], np.eye(8)[5], np.eye(8)[1], np.eye(8)[5]]).astype(np.float32)
    out = gate.gate(probs, emb)
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    assert out[0].argmax() == 0 and out[0, 0] > 0.85  # at its class mean: (almost) untouched
    assert out[1].argmax() == 2 and out[1, 2] > 0.99  # far from every class: rejected
    assert out[2].argmax() == 2  # near another class's mean than the one it picks: rejected
    assert np.allclose(out[3], probs[3])  # already the rejection class: never gated


def test_a_rest_class_is_never_gated(toy_gate):
    """`idle` is "no action" already: the gate leaves it alone (it only stops actions being named)."""
    _, gate = toy_gate(["wave", "idle", "other"])
    far = np.eye(8, dtype=np.float32)[[5, 5]]
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]], np.float32)
    out = gate.gate(probs, far)
    assert out[0].argmax() == 2  # a far "wave": rejected
    assert np.allclose(out[1], probs[1])  # a far "idle": kept


def test_sidecar_entry_is_checked_and_a_model_without_one_is_left_alone():
    rng = np.random.default_rng(1)
    good = rejection_entry(rng.normal(size=(6, 4)), np.array([0, 0, 1, 1, 2, 2]), NAMES, 0.7)
    assert good["space"] == REJECTION_SPACE and good["labels"] == [n for n in NAMES for _ in "ab"]
    assert read_rejection({"rejection": good}, NAMES, 4).threshold == pytest.approx(0.7)
    assert read_rejection({"rejection": good}, NAMES, 5) is None  # another embedding size
    assert read_rejection({"rejection": good}, ["wave", "clap"], 4) is None  # no rejection class
    assert read_rejection({"rejection": {**good, "space": "old/0"}}, NAMES, 4) is None
    assert read_rejection({"rejection": {**good, "float16_base64": "%%"}}, NAMES, 4) is None
    assert read_rejection({}, NAMES, 4) is None

    class Plain:
        class_names, embedding_dim, metadata = NAMES, 4, {}

    plain = Plain()
    assert with_rejection(plain) is plain
    plain.metadata = {"rejection": good}
    assert isinstance(with_rejection(plain), GatedClassifier)


@pytest.fixture()
def other_model(tmp_path, tiny_tflite_model, toy_data):
    """The tiny toy model with its `still` class renamed `other` (the rejection class), and a
    toy training folder to match."""
    model = tmp_path / "m" / "tiny.tflite"
    model.parent.mkdir()
    shutil.copy(tiny_tflite_model, model)
    meta = json.loads(tiny_tflite_model.with_suffix(".json").read_text())
    meta["class_names"] = ["other" if n == "still" else n for n in meta["class_names"]]
    meta.pop("base_centroids", None)
    model.with_suffix(".json").write_text(json.dumps(meta))
    train = tmp_path / "train"
    shutil.copytree(toy_data, train)
    (train / "still").rename(train / "other")
    return model, train


def _set_gate(model, train, threshold):
    from relsar_core.data.datasets import load_clip_folder
    from relsar_core.runtime.tflite import TfliteClassifier

    base = TfliteClassifier(model)
    data = load_clip_folder(train, 30, 5, base.class_names)
    emb = base.predict_batch(data.windows).embedding
    meta = dict(base.metadata)
    meta["rejection"] = rejection_entry(emb, data.labels, base.class_names, threshold)
    model.with_suffix(".json").write_text(json.dumps(meta))
    return data


def test_the_apps_default_path_applies_the_gate(other_model, tmp_path):
    from relsar_core.data.evaluate import evaluate_folder
    from relsar_core.live.pipeline import open_classifier
    from relsar_core.runtime.tflite import TfliteClassifier

    model, train = other_model
    data = _set_gate(model, train, threshold=1.01)  # nothing is that near: all rejected
    gated, _ = open_classifier(model)
    assert isinstance(gated, GatedClassifier)
    # The app strips taught actions with getattr(classifier, "base", classifier) and teaches on
    # that: it must still be the gated classifier.
    assert getattr(gated, "base", gated) is gated
    out = gated.predict_batch(data.windows)
    assert (out.probabilities.argmax(axis=1) == gated.class_names.index("other")).all()
    one = gated.predict(data.windows[0])
    assert one.probabilities.shape == (len(gated.class_names),) and one.embedding.ndim == 1
    report = evaluate_folder(gated, train, tmp_path / "r")  # relsar-eval's scoring
    assert report["per_class"]["wave"]["recall"] == 0.0
    from relsar_core.cli import run_cli
    from training.eval_cli import _main

    for extra, gate in (([], True), (["--no-gate"], False)):
        out = tmp_path / f"eval_{gate}.json"
        assert run_cli(_main, [str(model), "--data", str(train), "--out", str(out), *extra]) == 0
        r = json.loads(out.read_text())
        assert r["open_set_gate"] is gate
        assert (r["per_class"]["wave"]["recall"] > 0.9) is not gate

    _set_gate(model, train, threshold=-1.01)  # everything is nearer: the gate does nothing
    gated, _ = open_classifier(model)
    raw = TfliteClassifier(model).predict_batch(data.windows).probabilities
    assert np.allclose(gated.predict_batch(data.windows).probabilities, raw, atol=1e-6)


def _noise_clips(folder, count=8, frames=60, seed=3):
    """Out-of-set motion: joints wandering at random, nothing like the toy classes."""
    from relsar_core.skeleton.clip import Clip, save_clip

    rng = np.random.default_rng(seed)
    for i in range(count):
        xy = (
            320 + np.cumsum(rng.normal(0, 12, (frames, 15, 2)), axis=0) + rng.normal(0, 60, (15, 2))
        )
        kp = np.concatenate([np.clip(xy, 5, 470), np.full((frames, 15, 1), 0.9)], axis=-1)
        save_clip(folder / "noise" / f"noise_{i}.npz", Clip(kp.astype(np.float32), fps=30.0))


def test_tuning_picks_the_weakest_gate_that_meets_the_target_on_validation(other_model, tmp_path):
    from relsar_core.data.rejection_tuning import THRESHOLDS, tune_rejection, write_rejection
    from relsar_core.live.pipeline import open_classifier

    model, train = other_model
    _noise_clips(tmp_path / "oos")
    entry = tune_rejection(model, train, tmp_path / "oos", 0.25, 0, target=0.2)
    t = entry["tuning"]
    assert t["ungated"]["val_out_of_set_shown_as_action"] > 0.5  # without it, noise is named
    chosen = t["chosen"]
    assert chosen["val_out_of_set_shown_as_action"] <= 0.2
    assert entry["threshold"] == chosen["threshold"] in THRESHOLDS
    earlier = [r for r in t["table"] if r["threshold"] < chosen["threshold"]]
    assert all(r["val_out_of_set_shown_as_action"] > 0.2 for r in earlier)
    assert chosen["val_macro_f1"] > 0.8  # the separable toy classes still come through
    write_rejection(model, entry)
    gated, _ = open_classifier(model)
    assert isinstance(gated, GatedClassifier)
    assert gated.rejection.threshold == pytest.approx(chosen["threshold"])


def test_relsar_gate_command_fits_the_gate_into_the_sidecar_and_refuses_a_missing_folder(
    other_model, tmp_path, capsys
):
    import tomllib

    from training import rejection_cli

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "scripts"
    ]
    assert scripts["relsar-gate"] == "training.rejection_cli:main"
    model, train = other_model
    with pytest.raises(SystemExit) as bad:
        rejection_cli.main(
            [str(model), "--train", str(train), "--val-out-of-set", str(tmp_path / "nope")]
        )
    assert bad.value.code == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "nope: no such data folder" in err and "Traceback" not in err
    assert "rejection" not in json.loads(model.with_suffix(".json").read_text())  # nothing written

    _noise_clips(tmp_path / "oos")
    argv = [str(model), "--train", str(train), "--val-out-of-set", str(tmp_path / "oos")]
    with pytest.raises(SystemExit) as ok:
        rejection_cli.main([*argv, "--config", "tiny", "--target", "0.2"])
    assert ok.value.code == 0
    entry = json.loads(model.with_suffix(".json").read_text())["rejection"]
    assert entry["tuning"]["chosen"]["val_out_of_set_shown_as_action"] <= 0.2
