"""Evaluation protocols on a BYOL-pre-trained encoder: the linear probe beats the same probe on a
random encoder; fine-tuning with a frozen stem; k-NN; semi-supervised label fractions."""

import json

import keras
import numpy as np
import pytest

from relsar_core.config import BYOLRunConfig, ModelConfig, RunConfig, load_config
from relsar_core.data.datasets import load_splits
from relsar_core.errors import ConfigError, ModelFileError
from relsar_core.train.model import build_encoder, stem_layers
from relsar_core.train.protocols import finetune, label_fraction_subset, linear_probe, load_encoder


@pytest.fixture(scope="module")
def pretrained(toy_data, tmp_path_factory):
    """A tiny encoder pre-trained with BYOL on the toy clips (their test clips held out)."""
    from relsar_core.train.pretrain import load_pretraining_windows, pretrain_byol

    cfg = load_config(
        "byol",
        BYOLRunConfig,
        model={"size": "tiny"},
        byol={"epochs": 10, "batch_size": 32, "learning_rate": 2e-3, "warmup_epochs": 1},
    )
    windows, info = load_pretraining_windows([toy_data], 30, 5, False, cfg.data)
    run = tmp_path_factory.mktemp("byol_run")
    summary = pretrain_byol(windows, cfg, run, show_progress=False, run_info={"data_info": info})
    assert summary["epochs"] == 10 and not summary["collapse_warning"]
    return run


@pytest.fixture(scope="module")
def splits(toy_data):
    data = load_config("linear", RunConfig).data
    return load_splits(toy_data, 30, 5, data.val_fraction, data.test_fraction, data.seed)


def test_linear_probe_on_byol_encoder_beats_random_encoder(pretrained, splits, tmp_path):
    keras.utils.set_random_seed(0)
    random_path = tmp_path / "random_encoder.keras"
    build_encoder(ModelConfig(size="tiny"), 30).save(random_path)
    # Few labels (one clip per class, so one step per epoch): the probe must rely on the encoder's
    # features, and needs enough steps to converge for the comparison to be stable: 20 epochs at
    # 3 × linear.yaml's learning rate (0.86 vs 0.53, 2026-12-02) cost a third of 60 at 1 × (0.83
    # vs 0.64), each epoch saving its checkpoints.
    config = load_config(
        "linear",
        RunConfig,
        train={"epochs": 20, "learning_rate": 0.03, "early_stopping_patience": 0},
    )
    ours = linear_probe(pretrained, splits, config, tmp_path / "ours", label_fraction=0.1)
    baseline = linear_probe(random_path, splits, config, tmp_path / "random", label_fraction=0.1)
    print(f"linear probe accuracy: BYOL {ours['accuracy']:.3f}, random {baseline['accuracy']:.3f}")
    # BatchNorm statistics re-estimated on clean windows had cut it (1.00 → 0.80 at 60 epochs,
    # with validation cut to one clip per class or not): the encoder's later layers were trained
    # on the views' statistics, which byol.bn_statistics: views now re-estimates.
    assert ours["accuracy"] >= baseline["accuracy"] + 0.15, (ours["accuracy"], baseline["accuracy"])
    assert ours["accuracy"] >= 0.6
    run = json.loads((tmp_path / "ours" / "run.json").read_text())
    assert run["mode"] == "linear" and run["labelled_clips"] == 5
    # Validation is cut by the same fraction: one clip per class, not the 10 of the full split.
    assert run["labelled_val_clips"] == 5 and run["pretraining_leak_checked"] is True
    for name in ("best.keras", "last.keras", "report/report.json", "report/confusion_matrix.png"):
        assert (tmp_path / "ours" / name).is_file(), name
    # The frozen encoder did not move: its weights equal the pre-trained ones.
    for a, b in zip(
        load_encoder(tmp_path / "ours").get_weights(),
        load_encoder(pretrained).get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_finetune_with_frozen_stem_trains_the_rest(pretrained, splits, tmp_path):
    config = load_config("finetune", RunConfig, train={"epochs": 2})
    report = finetune(pretrained, splits, config, tmp_path / "ft", freeze_stem=True)
    # Better than chance (1/5) already: 0.386 measured after these 2 epochs (2026-12-02).
    assert report["epochs_run"] == 2 and report["accuracy"] > 0.2, report["accuracy"]
    before = load_encoder(pretrained)
    after = keras.models.load_model(tmp_path / "ft" / "last.keras").get_layer("encoder")
    stem = {layer.name for layer in stem_layers(before)}
    for layer in before.layers:
        if not layer.weights:
            continue
        pairs = zip(layer.get_weights(), after.get_layer(layer.name).get_weights(), strict=True)
        same = all(np.array_equal(a, b) for a, b in pairs)
        assert same == (layer.name in stem), layer.name
    assert set(json.loads((tmp_path / "ft" / "run.json").read_text())["frozen_layers"]) == stem


def test_knn_cli_writes_report_and_a_loadable_classifier(pretrained, toy_data, tmp_path):
    from training.train_cli import main

    with pytest.raises(SystemExit) as done:
        main(
            [
                "knn",
                "--data",
                str(toy_data),
                "--encoder",
                str(pretrained),
                "--out",
                str(tmp_path / "knn"),
                "--k",
                "5",
            ]
        )
    assert done.value.code == 0
    report = json.loads((tmp_path / "knn" / "report" / "report.json").read_text())
    assert (
        report["k"] == 5
        and report["accuracy"] >= 0.6
        and report["nearest_class_mean_accuracy"] >= 0.6
    )
    classifier = keras.models.load_model(tmp_path / "knn" / "best.keras")
    out = classifier(np.zeros((2, 30, 60), np.float32))
    assert out["logits"].shape == (2, 5) and out["embedding"].shape == (2, 64)


def test_label_fraction_keeps_whole_clips_and_every_class(splits):
    train = splits.train
    few = label_fraction_subset(train, 0.01, seed=0)
    assert sorted(set(few.labels.tolist())) == list(range(train.num_classes))
    assert len(np.unique(few.clip_ids)) == train.num_classes  # one clip per class
    for clip in np.unique(few.clip_ids):  # every window of a chosen clip is kept
        assert (few.clip_ids == clip).sum() == (train.clip_ids == clip).sum()
    with pytest.raises(ConfigError):
        label_fraction_subset(train, 0.0, seed=0)


def test_load_encoder_rejects_missing_and_wrong_files(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_encoder(tmp_path / "nothing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="bad.keras"):
        load_encoder(bad)
    (tmp_path / "data").mkdir()  # a data folder given as --encoder
    with pytest.raises(ModelFileError, match="data: not a run folder \\(no encoder.keras or best"):
        load_encoder(tmp_path / "data")


def test_evaluation_refuses_an_encoder_pretrained_on_its_test_clips(
    pretrained, toy_data, tmp_path, capsys
):
    from relsar_core.train.protocols import pretraining_leak_check
    from training.train_cli import main

    data = load_config("linear", RunConfig).data
    same = load_splits(toy_data, 30, 5, data.val_fraction, data.test_fraction, data.seed)
    assert pretraining_leak_check(pretrained, same) is True  # byol held these test clips out
    other = tmp_path / "other_split.yaml"
    other.write_text("data: {seed: 7}\n")  # another split: its test clips were pre-trained on
    for mode in ("knn", "linear", "finetune"):
        with pytest.raises(SystemExit) as done:
            main([mode, "--data", str(toy_data), "--encoder", str(pretrained), "--config",
                  str(other), "--out", str(tmp_path / mode)])  # fmt: skip
        assert done.value.code == 2
        err = capsys.readouterr().err
        assert "it learnt from" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) <= 3, err  # one error line (the console may wrap it)
        assert not (tmp_path / mode / "best.keras").exists()


@pytest.fixture(scope="module")
def pooled_linear_run(pretrained, toy_data, tmp_path_factory):
    """`relsar-train linear` with its default head input (the study's embedding_mean_max)."""
    from training.train_cli import main

    run = tmp_path_factory.mktemp("pooled") / "linear"
    with pytest.raises(SystemExit) as done:
        main(["linear", "--data", str(toy_data), "--encoder", str(pretrained), "--out", str(run),
              "--epochs", "2"])  # fmt: skip
    assert done.value.code == 0
    return run


def test_linear_head_reads_the_study_probes_features(pretrained, pooled_linear_run, splits):
    """Parity: the saved linear model's head input is study_fit.frozen_features of the same
    windows (one definition, model.probe_features_model), its logits are that head on them,
    its `embedding` output is the encoder's, and its encoder is the pre-trained one, frozen."""
    from relsar_core.config import DEFAULT_PROBE_FEATURES
    from relsar_core.train.study_fit import frozen_features

    assert DEFAULT_PROBE_FEATURES == "embedding_mean_max"
    run = json.loads((pooled_linear_run / "run.json").read_text())
    assert run["mode"] == "linear" and run["probe_features"] == "embedding_mean_max"
    windows = splits.test.windows[:16]
    encoder = load_encoder(pretrained)
    study = frozen_features(encoder, windows, "embedding_mean_max")
    d = encoder.get_layer("project").output.shape[-1]
    assert study.shape == (16, encoder.output_shape[-1] + 2 * d)
    model = keras.models.load_model(pooled_linear_run / "best.keras")
    head_input, embedding = model.get_layer("probe_features").predict(windows, verbose=0)
    np.testing.assert_allclose(head_input, study, atol=1e-5)
    out = model.predict(windows, verbose=0)
    kernel, bias = model.get_layer("logits").get_weights()
    assert kernel.shape[0] == study.shape[1]
    np.testing.assert_allclose(out["logits"], study @ kernel + bias, atol=1e-4)
    np.testing.assert_allclose(out["embedding"], encoder.predict(windows, verbose=0), atol=1e-5)
    # --encoder LINEAR_RUN (finetune, knn) gets the pre-trained encoder back, unchanged.
    for a, b in zip(
        load_encoder(pooled_linear_run).get_weights(), encoder.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_pooled_linear_model_converts_to_tflite(pooled_linear_run, tmp_path):
    """relsar-convert takes the pooled linear run like any classifier: float32 TFLite, builtin
    ops only, same predictions as Keras."""
    from relsar_core.train.export import convert_run, tflite_ops

    (result,) = convert_run(pooled_linear_run, tmp_path / "lin", ["none"])
    assert result.written and result.parity.top1_agreement == 1.0
    assert "CUSTOM" not in tflite_ops(result.tflite_path.read_bytes())


def test_linear_refuses_unknown_probe_features(pretrained, toy_data, splits, tmp_path, capsys):
    from training.train_cli import main

    with pytest.raises(ConfigError, match="probe features: one of"):
        linear_probe(pretrained, splits, load_config("linear", RunConfig), tmp_path / "lib",
                     probe_features="cls")  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(["linear", "--data", str(toy_data), "--encoder", str(pretrained), "--out",
              str(tmp_path / "cli"), "--probe-features", "cls"])  # fmt: skip
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'cls'" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert not (tmp_path / "cli").exists() and not (tmp_path / "lib").exists()


def test_linear_refuses_pooled_features_with_the_teaching_objective(pretrained, splits, tmp_path):
    """The teaching objective trains a head on the embedding: a pooled head input is a one-line
    ConfigError naming the way out, before any run folder is made."""
    config = load_config("linear", RunConfig, train={"teaching": {"enabled": True}})
    with pytest.raises(ConfigError, match="train.teaching needs the head on the embedding") as e:
        linear_probe(pretrained, splits, config, tmp_path / "run", probe_features="mean_max")
    assert "--probe-features embedding" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "run").exists()


def test_pooled_linear_run_resumes_with_its_head_input(pooled_linear_run, tmp_path):
    """--resume rebuilds the pooled classifier from last.keras (not an embedding head): the
    best.keras it writes still reads the pooled features."""
    import shutil

    from training.train_cli import main

    run = tmp_path / "linear"
    shutil.copytree(pooled_linear_run, run)
    with pytest.raises(SystemExit) as done:
        main(["linear", "--resume", str(run), "--epochs", "3"])
    assert done.value.code == 0
    assert json.loads((run / "state.json").read_text())["epoch"] == 3
    # The optimizer continued: its step count went on from epoch 2's (it restarted at 0 before).
    steps = int(_saved_optimizer_state(pooled_linear_run / "last.keras")[0]) // 2
    assert steps > 0 and int(_saved_optimizer_state(run / "last.keras")[0]) == 3 * steps
    for name in ("last.keras", "best.keras"):
        model = keras.models.load_model(run / name)
        assert "probe_features" in {layer.name for layer in model.layers}, name
    # The resumed epochs trained the head only: the encoder is the pre-trained one, bit for bit.
    before = keras.models.load_model(pooled_linear_run / "last.keras")
    after = keras.models.load_model(run / "last.keras")
    frozen = [w for w in before.weights if "logits" not in w.path]
    assert frozen and len(frozen) == len(after.weights) - 2
    for b, a in zip(frozen, [w for w in after.weights if "logits" not in w.path], strict=True):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=b.path)


@pytest.mark.parametrize("kind", ["embedding", "embedding_mean_max"])
def test_a_frozen_encoder_stays_frozen_through_save_and_load(kind, tmp_path):
    from relsar_core.train.model import (
        build_encoder,
        classifier_from_parts,
        classifier_from_probe,
        logits_model,
        probe_features_model,
    )
    from relsar_core.train.supervised import load_model

    encoder = build_encoder(ModelConfig(size="tiny"), 30)
    encoder.trainable = False
    head = keras.layers.Dense(5, name="logits")
    if kind == "embedding":
        classifier = classifier_from_parts(encoder, head)
    else:
        features = probe_features_model(encoder, kind)
        features.trainable = False
        classifier = classifier_from_probe(features, head)
    model = logits_model(classifier)
    assert len(model.trainable_weights) == 2
    model.save(tmp_path / "m.keras")
    # Keras alone brings the attention's sublayers back trainable; the project's loader (the
    # one `--resume` uses) freezes them again.
    assert len(keras.models.load_model(tmp_path / "m.keras").trainable_weights) > 2
    assert len(load_model(tmp_path / "m.keras").trainable_weights) == 2
    assert len(load_model(tmp_path / "m.keras", compile=True).trainable_weights) == 2


def _saved_optimizer_state(path) -> list:
    """The optimizer variables stored in a .keras file (step count first), read with h5py."""
    import io
    import zipfile

    import h5py

    with (
        zipfile.ZipFile(path) as archive,
        h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as store,
    ):
        saved = store["optimizer/vars"]
        return [np.asarray(saved[str(i)]) for i in range(len(saved))]


def test_resuming_a_frozen_encoder_keeps_the_optimizer_state(tmp_path):
    """load_model(compile=True), what `--resume` uses, restores the step count and the Adam
    moments of a model with a frozen encoder (Keras alone skipped them: it built the optimizer
    over the attention sublayers it reloaded trainable, so the learning-rate schedule and the
    moments restarted from step 0)."""
    import warnings

    from relsar_core.config import TrainConfig
    from relsar_core.train.model import classifier_from_parts, logits_model
    from relsar_core.train.supervised import compile_for_training, load_model

    encoder = build_encoder(ModelConfig(size="tiny"), 30)
    encoder.trainable = False
    model = logits_model(classifier_from_parts(encoder, keras.layers.Dense(5, name="logits")))
    compile_for_training(model, TrainConfig(epochs=2), 2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, *model.input_shape[1:])).astype("float32")
    model.fit(x, np.eye(5)[rng.integers(0, 5, 16)], epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    saved = _saved_optimizer_state(tmp_path / "m.keras")
    assert len(saved) == 5 and int(saved[0]) == 2  # step count + 2 moments × (kernel, bias)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras' "Skipping variable loading for optimizer"
        loaded = load_model(tmp_path / "m.keras", compile=True)
    restored = [np.asarray(v) for v in loaded.optimizer.variables]
    assert len(restored) == len(saved)
    for got, want in zip(restored, saved, strict=True):
        np.testing.assert_array_equal(got, want)
    assert np.abs(restored[1]).sum() > 0  # the moments are there, not zeros


def test_finetune_from_a_pooled_linear_run(pooled_linear_run, pretrained, splits, tmp_path):
    """`finetune --encoder LINEAR_RUN` starts from the pre-trained encoder and saves a plain
    classifier (the pooled head is not carried over)."""
    config = load_config("finetune", RunConfig, train={"epochs": 1})
    finetune(pooled_linear_run, splits, config, tmp_path / "ft")
    model = keras.models.load_model(tmp_path / "ft" / "best.keras")
    assert {"encoder", "logits"} <= {layer.name for layer in model.layers}
    assert (
        model.get_layer("logits").get_weights()[0].shape[0]
        == load_encoder(pretrained).output_shape[-1]
    )
