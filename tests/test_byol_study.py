"""`relsar-bench byol-study --quick`: the label-efficiency study's plumbing on toy clips (tiny
model, a few steps): every method × fraction row, seeds aggregated, sane values, the files."""

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    from relsar_core.bench.byol_study import run

    work = tmp_path_factory.mktemp("study")
    return work, run(quick=True, work=work)


@pytest.mark.slow
def test_quick_study_has_every_row_with_sane_values(quick_study):
    work, measurements = quick_study
    result = json.loads((work / "byol_study.json").read_text())
    rows = {(r["method"], r["fraction"]): r for r in result["rows"]}
    methods = ("supervised", "byol_finetune", "byol_linear", "byol_knn")
    assert set(rows) == {(m, f) for m in methods for f in (0.01, 0.05, 0.1, 1.0)}
    assert len(result["runs"]) == 4 * 4 * 2  # methods × fractions × seeds
    for r in rows.values():
        assert r["seeds"] == 2
        assert 0.0 <= r["accuracy_min"] <= r["accuracy_mean"] <= r["accuracy_max"] <= 1.0
        assert r["accuracy_std"] >= 0.0
    # 1 %: one clip per class (5 toy classes); 100 %: every training clip (10 per class, less
    # the 15 % validation clips).
    assert rows[("supervised", 0.01)]["labelled_clips"] == 5
    assert rows[("supervised", 1.0)]["labelled_clips"] == 5 * 10 - len(
        result["split"]["val"]["clips"]
    )
    # The toy classes are separable: k-NN and the probe on all labels are far above chance
    # (0.2); a mix-up of embeddings and labels would land near chance.
    assert rows[("byol_knn", 1.0)]["accuracy_mean"] >= 0.6
    assert rows[("byol_linear", 1.0)]["accuracy_mean"] >= 0.6
    # BYOL never saw the test folder; every run scored the same test windows.
    assert result["byol"]["windows"] > 0 and len(result["split"]["test"]["clips"]) == 5 * 3
    names = [m.name for m in measurements]
    assert "linear probe / supervised, 100% labels" in names
    gains = [n for n in names if n.startswith("BYOL + fine-tune − supervised")]
    assert len(gains) == 6 and sum(n.endswith("last epoch's weights") for n in gains) == 3
    # every supervised and fine-tune run is also scored with its last epoch's weights
    for r in result["runs"]:
        trained = r["method"] in ("supervised", "byol_finetune")
        assert ("accuracy_last" in r) == trained
        assert not trained or 0.0 <= r["accuracy_last"] <= 1.0
    table = (work / "byol_study.md").read_text()
    # the table (2 + 4 methods + clips) and the last-weights table (blank, title, blank, 2 + 2)
    assert "BYOL + fine-tune" in table and table.count("\n") == 2 + 4 + 1 + 3 + 2 + 2
    assert (work / "byol_study.png").read_bytes()[:4] == b"\x89PNG"


def test_cut_takes_the_same_fraction_of_training_and_validation_clips(toy_data):
    from relsar_core.data.datasets import load_splits
    from relsar_core.train.label_study import cut

    splits = load_splits(toy_data, 30, 10, 0.3, 0.15, 42)
    part = cut(splits, 0.01, seed=0)
    for full, few in ((splits.train, part.train), (splits.val, part.val)):
        assert len(np.unique(few.clip_ids)) == full.num_classes  # one clip per class
        assert set(np.unique(few.clip_ids)) <= set(np.unique(full.clip_ids))
    assert part.test is splits.test
    other = cut(splits, 0.01, seed=1)  # another seed, another draw of labelled clips
    assert set(np.unique(other.train.clip_ids)) != set(np.unique(part.train.clip_ids))


def test_probe_head_gives_the_probes_logits_on_raw_embeddings():
    """LP-FT's starting head: a Dense layer on the raw embeddings with the standardised
    probe's logits (the standardisation folded in); a class the probe never saw is never
    predicted. Without the fold (the probe's weights used as they are) the logits differ."""
    from relsar_core.train.study_fit import linear_probe_embeddings, probe_head_weights

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 8))
    labels = np.repeat([0, 2, 3], 20)  # classes 1 and 4 have no labelled windows
    bank = centres[np.searchsorted([0, 2, 3], labels)] + rng.normal(0, 1, (60, 8)) + 5.0
    probe, _ = linear_probe_embeddings(bank, labels, bank, labels)
    kernel, bias = probe_head_weights(probe, 5)
    assert kernel.shape == (8, 5) and bias.shape == (5,)
    logits = bank @ kernel + bias
    np.testing.assert_allclose(logits[:, [0, 2, 3]], probe.decision_function(bank), atol=1e-3)
    assert set(logits.argmax(1)) <= {0, 2, 3}
    np.testing.assert_array_equal(logits.argmax(1), probe.predict(bank))
    raw = probe.steps[-1][1]
    assert not np.allclose(bank @ raw.coef_.T + raw.intercept_, logits[:, [0, 2, 3]], atol=1e-3)


def test_two_class_probe_head_gives_the_probes_decision():
    from relsar_core.train.study_fit import linear_probe_embeddings, probe_head_weights

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 15)
    bank = rng.normal(0, 1, (30, 4)) + labels[:, None] * 2.0
    probe, _ = linear_probe_embeddings(bank, labels, bank, labels)
    kernel, bias = probe_head_weights(probe, 2)
    logits = bank @ kernel + bias
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], probe.decision_function(bank), 1e-4)


def test_study_plan_defaults_are_the_validation_choice_and_lp_ft():
    from relsar_core.train.label_study import StudyPlan, byol_config

    plan = StudyPlan()
    cfg = byol_config(plan)
    assert cfg.byol.batch_size == 64 and cfg.byol.epochs == plan.byol_epochs == 30
    assert tuple(cfg.byol.projector) == tuple(cfg.byol.predictor) == (1024, 256)
    assert cfg.augment.joint_mask == cfg.augment.frame_mask == 0.0
    assert plan.finetune_head == "probe" and plan.finetune_lr_scale == 2.0
    assert plan.probe_features == "embedding_mean_max"
    with pytest.raises(ValueError, match="finetune_head"):
        StudyPlan(finetune_head="linear")


def test_lp_ft_start_has_the_encoder_and_the_probe_head():
    """Fine-tuning's starting weights (LP-FT): the BYOL encoder's and the probe's head; the
    other weights are those of a plain seeded start."""
    from relsar_core.config import AugmentConfig, ModelConfig, TrainConfig
    from relsar_core.train.model import build_encoder
    from relsar_core.train.study_fit import ReusableTrainer

    model_cfg = ModelConfig(size="tiny")
    trainer = ReusableTrainer(model_cfg, 3, 30, TrainConfig(epochs=1), AugmentConfig(), 2)
    encoder = build_encoder(model_cfg, 30).get_weights()
    head = [np.full((trainer.classifier.get_layer("encoder").output_shape[-1], 3), 0.5), np.ones(3)]
    start = trainer.initial_weights(0, encoder, [h.astype(np.float32) for h in head])
    plain = trainer.initial_weights(0, encoder)
    assert len(start) == len(plain) == len(encoder) + 2
    for got, want in zip(start, encoder + head, strict=True):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(plain[-2], head[0])  # without it: the seeded random head


def test_probe_features_pool_the_last_blocks_tokens():
    """The probe's representations: `cls_mean_max` is the CLS token (the embedding layer's
    input: the embedding is that layer on it) and the mean and max of the frame tokens of the
    last block; `embedding` is the encoder's output. Pooling the CLS too, or another block,
    fails the checks."""
    import keras

    from relsar_core.config import ModelConfig
    from relsar_core.train.model import build_encoder
    from relsar_core.train.study_fit import frozen_features

    keras.utils.set_random_seed(0)
    encoder = build_encoder(ModelConfig(size="tiny"), 30)
    windows = np.random.default_rng(0).normal(0, 1, (5, 30, 60)).astype(np.float32)
    d = encoder.get_layer("project").output.shape[-1]
    emb = frozen_features(encoder, windows)
    np.testing.assert_allclose(emb, encoder.predict(windows, verbose=0), atol=1e-5)
    both = frozen_features(encoder, windows, "cls_mean_max")
    assert both.shape == (5, 3 * d)
    cls, mean, mx = both[:, :d], both[:, d : 2 * d], both[:, 2 * d :]
    np.testing.assert_allclose(encoder.get_layer("embedding")(cls).numpy(), emb, atol=1e-4)
    last = keras.Model(encoder.input, encoder.get_layer("block1_ln2").output).predict(
        windows, verbose=0
    )
    np.testing.assert_allclose(mean, last[:, 1:].mean(1), atol=1e-5)
    np.testing.assert_allclose(mx, last[:, 1:].max(1), atol=1e-5)
    assert not np.allclose(mean, last.mean(1), atol=1e-3)  # the CLS token is not pooled
    np.testing.assert_allclose(
        frozen_features(encoder, windows, "mean_max"), both[:, d:], atol=1e-5
    )
    tail = frozen_features(encoder, windows, "embedding_mean_max")
    np.testing.assert_allclose(tail[:, : emb.shape[1]], emb, atol=1e-5)
    with pytest.raises(ValueError, match="probe features"):
        frozen_features(encoder, windows, "cls")


def test_study_plan_refuses_unknown_probe_features():
    from relsar_core.train.label_study import StudyPlan

    with pytest.raises(ValueError, match="probe_features"):
        StudyPlan(probe_features="pooled")


def test_probe_fits_run_on_one_blas_thread(monkeypatch):
    """On a busy 2-core machine OpenBLAS's second thread made each probe fit ~30× slower; the
    fits run under a one-thread BLAS limit (and leave the limit as it was after)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_info

    from relsar_core.train.study_fit import linear_probe_embeddings

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    seen, fit = [], LogisticRegression.fit

    def spy(self, *args, **kwargs):
        seen.append(blas_threads())
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", spy)
    before = blas_threads()
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 10)
    linear_probe_embeddings(
        rng.normal(0, 1, (30, 4)) + labels[:, None], labels, rng.normal(0, 1, (6, 4)), labels[:6]
    )
    assert len(seen) == 3 and all(threads and set(threads) == {1} for threads in seen)
    assert blas_threads() == before


def test_pretraining_is_reused_only_for_the_same_recipe_and_clips(toy_data, tmp_path):
    """A finished pre-training with the same config and clips is reused (the downstream runs
    can be redone without it); another recipe, or other clips, trains afresh."""
    from dataclasses import replace

    from relsar_core.train.label_study import PRETRAINING_RECORD, pretrain, quick_plan

    plan, out = quick_plan(), tmp_path / "byol"
    first = pretrain(toy_data, None, plan, out, show_progress=False)
    assert not first.get("reused") and (out / PRETRAINING_RECORD).is_file()
    stamp = (out / "encoder.keras").stat().st_mtime_ns
    again = pretrain(toy_data, None, plan, out, show_progress=False)
    assert again["reused"] and again["loss"] == first["loss"]
    assert (out / "encoder.keras").stat().st_mtime_ns == stamp
    other = pretrain(toy_data, None, replace(plan, byol_batch=16), out, show_progress=False)
    assert not other.get("reused") and other["config"]["batch_size"] == 16
    fewer = tmp_path / "fewer"
    for cls in sorted(p for p in toy_data.iterdir() if p.is_dir())[:3]:
        (fewer / cls.name).mkdir(parents=True)
        for clip in sorted(cls.glob("*.npz")):
            (fewer / cls.name / clip.name).symlink_to(clip)
    assert not pretrain(fewer, None, replace(plan, byol_batch=16), out, False).get("reused")
    (out / PRETRAINING_RECORD).write_text("{not json")  # unreadable: trains afresh
    assert not pretrain(fewer, None, replace(plan, byol_batch=16), out, False).get("reused")


def test_pooled_head_trainer_starts_as_the_pooled_probe(toy_data):
    """LP-FT with the head on the probe's pooled features: the trainer built with
    `head_features` and started from an encoder and that probe gives the probe's logits on
    raw windows (encoder weights land in the encoder, the head reads the pooled features)."""
    from relsar_core.config import AugmentConfig, ModelConfig, TrainConfig
    from relsar_core.data.datasets import load_splits
    from relsar_core.train.model import build_encoder
    from relsar_core.train.study_fit import (
        ReusableTrainer,
        frozen_features,
        linear_probe_embeddings,
        probe_head_weights,
    )

    splits = load_splits(toy_data, 30, 10, 0.3, 0.15, 42)
    model_cfg = ModelConfig(size="tiny")
    encoder = build_encoder(model_cfg, 30)
    kind = "embedding_mean_max"
    bank = frozen_features(encoder, splits.train.windows, kind)
    probe, _ = linear_probe_embeddings(bank, splits.train.labels, bank, splits.train.labels)
    k = splits.train.num_classes
    trainer = ReusableTrainer(
        model_cfg, k, 30, TrainConfig(), AugmentConfig(), 2, head_features=kind
    )
    start = trainer.initial_weights(0, encoder.get_weights(), probe_head_weights(probe, k))
    trainer.model.set_weights(start)
    logits = trainer.model.predict(splits.test.windows, verbose=0)
    want = probe.decision_function(frozen_features(encoder, splits.test.windows, kind))
    np.testing.assert_allclose(logits[:, probe.classes_], want, atol=1e-3)
    plain = ReusableTrainer(model_cfg, k, 30, TrainConfig(), AugmentConfig(), 2)
    assert len(plain.model.get_weights()) == len(start)  # same encoder, a wider head
    assert plain.model.get_weights()[-2].shape[0] < start[-2].shape[0]


def test_finetune_features_must_be_the_embedding_or_the_probes():
    from relsar_core.train.label_study import StudyPlan

    assert StudyPlan(finetune_features="embedding_mean_max").finetune_features == (
        "embedding_mean_max"
    )
    with pytest.raises(ValueError, match="finetune_features: 'embedding' or the probe's"):
        StudyPlan(finetune_features="cls_mean_max")


def test_validation_split_is_the_trainers_and_leaves_the_test_side_out(toy_data, tmp_path):
    """--validation: the training folder's validation clips (the split run_study holds out)
    become the stand-in test side, the rest the training side; no clip is on both sides."""
    from relsar_core.bench.byol_study import validation_data
    from relsar_core.config import RunConfig, load_config
    from relsar_core.data.datasets import load_splits

    data = load_config("webcam_model", RunConfig).data
    want = load_splits(toy_data, 30, 10, data.val_fraction, 0.0, data.seed)
    train, test = validation_data(toy_data, tmp_path / "validation")
    names = {side: {p.relative_to(side) for p in side.rglob("*.npz")} for side in (train, test)}
    for side, split in ((test, want.val), (train, want.train)):
        clips = {Path(split.clip_paths[i]).relative_to(toy_data) for i in np.unique(split.clip_ids)}
        assert names[side] == clips
    assert not names[train] & names[test]
    assert sorted(d.name for d in test.iterdir()) == sorted(want.train.class_names)


def test_study_plan_runs_only_the_chosen_methods():
    from relsar_core.train.label_study import StudyPlan, run_order

    assert run_order(StudyPlan(methods=("byol_finetune",))) == ("byol_linear", "byol_finetune")
    assert run_order(StudyPlan(methods=("byol_finetune",), finetune_head="random")) == (
        "byol_finetune",
    )
    assert run_order(StudyPlan(methods=("byol_knn", "supervised"))) == ("supervised", "byol_knn")
    for bad in ((), ("byol_finetune", "byol_svm")):
        with pytest.raises(ValueError, match="methods"):
            StudyPlan(methods=bad)


@pytest.mark.slow
def test_validation_study_with_one_method_never_reads_the_test_folder(tmp_path):
    """The quick study in validation mode with only fine-tuning: the test folder is gone, yet
    the study runs (on the training folder's validation clips) and records only fine-tuning."""
    import shutil

    from relsar_core.bench.byol_study import run, study_data

    work = tmp_path / "work"
    study_data(work, quick=True)
    shutil.rmtree(work / "data" / "test")
    (work / "data" / "test").mkdir()  # present but empty: reading it would fail
    changes = {"methods": ("byol_finetune",), "fractions": (0.1, 1.0), "seeds": (3,)}
    measurements = run(True, work / "data", work, validation=True, plan_changes=changes)
    result = json.loads((work / "byol_study.json").read_text())
    assert result["validation"] is True and result["plan"]["seeds"] == [3]
    assert {(r["method"], r["fraction"]) for r in result["rows"]} == {
        ("byol_finetune", 0.1),
        ("byol_finetune", 1.0),
    }
    assert {r["seed"] for r in result["runs"]} == {3}
    assert str(work / "validation" / "test") == result["data"]["test"]
    assert len(measurements) == 2  # no comparison rows without supervised or the probe
    table = (work / "byol_study.md").read_text()
    assert "BYOL + fine-tune" in table and "k-NN" not in table and "supervised" not in table
    assert (work / "byol_study.png").read_bytes()[:4] == b"\x89PNG"


def test_trainer_keeps_the_last_epochs_weights_beside_the_best(toy_data):
    """The fixed-schedule rule's score comes from the same run: `last_weights` are the weights
    after the last epoch, `predict(windows, weights)` uses them and leaves the best loaded."""
    from dataclasses import replace

    from relsar_core.config import AugmentConfig, ModelConfig, TrainConfig
    from relsar_core.data.datasets import load_splits
    from relsar_core.train.study_fit import ReusableTrainer

    splits = load_splits(toy_data, 30, 10, 0.3, 0.15, 42)
    # validation with every label wrong: learning the training labels makes its loss rise, so
    # the best epoch is an early one and the last weights are others
    wrong = replace(splits.val, labels=(splits.val.labels + 1) % 5)
    cfg = TrainConfig(epochs=3, learning_rate=0.01, warmup_epochs=0)
    trainer = ReusableTrainer(ModelConfig(size="tiny"), 5, 30, cfg, AugmentConfig(), 2)
    info = trainer.run(trainer.initial_weights(0), splits.train, wrong, 0)
    assert info["best_epoch"] < 3
    best = trainer.model.get_weights()
    last = trainer.last_weights
    assert any(not np.array_equal(a, b) for a, b in zip(best, last, strict=True))
    want = trainer.model.predict(splits.test.windows, verbose=0).argmax(1)
    np.testing.assert_array_equal(trainer.predict(splits.test.windows), want)
    trainer.model.set_weights(last)
    want_last = trainer.model.predict(splits.test.windows, verbose=0).argmax(1)
    trainer.model.set_weights(best)
    np.testing.assert_array_equal(trainer.predict(splits.test.windows, last), want_last)
    for got, kept in zip(trainer.model.get_weights(), best, strict=True):
        np.testing.assert_array_equal(got, kept)  # the best weights are loaded again
