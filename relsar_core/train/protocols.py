"""Evaluation protocols for a pre-trained encoder (the paper's): a linear probe on the frozen
encoder, fine-tuning (optionally with the Conv1D stem frozen), semi-supervised variants of both
on a fraction of the labelled clips, and k-NN on the embeddings.

Linear and fine-tune train through the supervised fit loop (relsar_core.train.supervised) and so write
the same run folder: best.keras / last.keras, run.json, metrics.jsonl, report/. k-NN writes
run.json and report/, and a best.keras whose head is the nearest-class-mean classifier on the
embeddings, so the app can load any of the four.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml

from relsar_core.config import DEFAULT_PROBE_FEATURES, RunConfig, dump_config
from relsar_core.data.datasets import Splits, WindowSet
from relsar_core.data.held_out import clip_key
from relsar_core.data.report import write_report
from relsar_core.errors import ConfigError, ModelFileError
from relsar_core.files import write_json
from relsar_core.train.model import (
    check_probe_features,
    classifier_from_parts,
    classifier_from_probe,
    encoder_of,
    probe_features_model,
    save_model,
    stem_layers,
)
from relsar_core.train.supervised import fit_classifier, load_model


def load_encoder(path: str | os.PathLike) -> keras.Model:
    """The encoder of a BYOL run folder, an encoder .keras file, or a classifier .keras file."""
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in ("encoder.keras", "best.keras") if (path / n).is_file()]
        if not found:
            raise ModelFileError(
                f"{path}: not a run folder (no encoder.keras or best.keras): give a "
                "`relsar-train byol` run, a classifier run or a .keras file"
            )
        path = found[0]
    model = load_model(path)
    names = {layer.name for layer in model.layers}
    # A classifier nests its encoder; a pooled linear probe nests it inside `probe_features`.
    if model.name == "encoder" or not names & {"encoder", "probe_features"}:
        encoder = model
    else:
        encoder = encoder_of(model)
    if len(encoder.outputs) != 1 or len(encoder.output_shape) != 2:
        raise ModelFileError(f"{path}: not a ReL-SAR encoder (expected one (batch, E) output)")
    return encoder


def _run_folder(encoder_path: str | os.PathLike) -> Path:
    """The run folder an encoder comes from: the folder given, or the .keras file's folder."""
    path = Path(encoder_path)
    return path if path.is_dir() else path.parent


def _learnt_clips(encoder_path: str | os.PathLike, depth: int = 3) -> list[str] | None:
    """The clips an encoder learnt from, from its run's records: a BYOL run's pre-training
    clips; a classifier run's training and validation clips (splits.json), plus those of the
    encoder it started from. None when there is no record (a bare .keras, an older run)."""
    folder = _run_folder(encoder_path)
    try:
        info = json.loads((folder / "run.json").read_text())
        splits = json.loads((folder / "splits.json").read_text()) if info["mode"] != "byol" else {}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info["mode"] == "byol":
        return info.get("data_info", {}).get("pretraining_clips")
    clips = [c for part in ("train", "val") for c in (splits.get(part) or {}).get("clips", [])]
    before = _learnt_clips(info["encoder"], depth - 1) if info.get("encoder") and depth else None
    return clips + (before or [])


def unfinished_byol(encoder_path: str | os.PathLike) -> str | None:
    """A note when the encoder is a BYOL run's that stopped before its last epoch (its
    encoder.keras is refreshed every epoch, so an interrupted run leaves a usable but partly
    trained one); None otherwise."""
    folder = _run_folder(encoder_path)
    try:
        info = json.loads((folder / "run.json").read_text())
        # config.yaml, not run.json: a resume with a new --epochs rewrites it
        planned = int(yaml.safe_load((folder / "config.yaml").read_text())["byol"]["epochs"])
        lines = (folder / "metrics.jsonl").read_text().splitlines()
        records = [json.loads(x) for x in lines if x.strip()]
        done = max((r["epoch"] for r in records if r.get("type") == "epoch"), default=0)
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
        return None
    if info.get("mode") != "byol" or done >= planned:
        return None
    return (
        f"{folder}: its BYOL pre-training stopped after epoch {done} of {planned}; "
        f"`relsar-train byol --resume {folder}` finishes it"
    )


def pretraining_leak_check(encoder_path: str | os.PathLike, splits: Splits) -> bool:
    """Refuse (ConfigError) an encoder that learnt from clips this evaluation tests on: a BYOL
    run's pre-training clips (its run.json lists them) or a classifier run's training and
    validation clips (its splits.json). True when checked, False when the encoder has no such
    record (a bare .keras file, or an older run)."""
    clips = _learnt_clips(encoder_path)
    if clips is None:
        return False
    evaluated = splits.test if splits.test is not None else splits.val
    if evaluated is None:
        return True
    tested = {clip_key(evaluated.clip_paths[i]) for i in np.unique(evaluated.clip_ids)}
    seen = sorted(tested & {clip_key(c) for c in clips})
    if seen:
        raise ConfigError(
            f"{encoder_path}: it learnt from {len(seen)} of the {len(tested)} test clips (e.g. "
            f"{seen[0]}); split the same way as its run (the same --data, --protocol, "
            "--test-data and data.seed) or test on a folder it never saw (--test-data)"
        )
    return True


def label_fraction_subset(data: WindowSet, fraction: float, seed: int) -> WindowSet:
    """The windows of a random `fraction` of each class's clips (at least one clip per class):
    the semi-supervised protocol's labelled set. Chosen by clip, so no clip is split."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"--label-fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return data
    rng = np.random.default_rng(seed)
    clips = np.unique(data.clip_ids)
    labels = data.clip_labels[clips]
    keep = []
    for cls in np.unique(labels):
        members = clips[labels == cls]
        keep += list(rng.choice(members, max(1, math.ceil(fraction * len(members))), replace=False))
    return data.subset(np.array(keep))


def disable_dropout(encoder: keras.Model) -> None:
    """A frozen encoder is a fixed feature extractor: no dropout noise on its features (the fit
    loop calls it in training mode, where BatchNorm is already frozen by trainable=False)."""
    for layer in encoder._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
        elif isinstance(layer, keras.layers.MultiHeadAttention):
            layer._dropout = 0.0  # read at call time; also skips its attention-dropout branch


def _with_fraction(splits: Splits, fraction: float, seed: int) -> Splits:
    """The semi-supervised splits: the same fraction of labels for training AND validation (a
    "1 %" run must not early-stop and pick its checkpoint on every validation label)."""
    val = label_fraction_subset(splits.val, fraction, seed + 1) if splits.val is not None else None
    return Splits(label_fraction_subset(splits.train, fraction, seed), val, splits.test)


def _clip_count(data: WindowSet | None) -> int:
    return 0 if data is None else int(len(np.unique(data.clip_ids)))


def _check_window(encoder: keras.Model, splits: Splits, source: str) -> None:
    window = encoder.input_shape[1]
    if window != splits.train.windows.shape[1]:
        raise ConfigError(
            f"{source}: the encoder takes {window}-frame windows but the data has "
            f"{splits.train.windows.shape[1]}; set data.window to {window}"
        )


def _train_head(
    encoder_path, splits, config, run_dir, resume, label_fraction, strategy, mode, prepare, run_info
) -> dict:
    strategy = strategy or tf.distribute.get_strategy()
    checked = pretraining_leak_check(encoder_path, splits)
    splits = _with_fraction(splits, label_fraction, config.data.seed)
    keras.utils.set_random_seed(config.train.seed)  # the head's initial weights are part of the run
    with strategy.scope():
        encoder = load_encoder(encoder_path)
        _check_window(encoder, splits, str(encoder_path))
        extra = prepare(encoder)
        head = keras.layers.Dense(splits.train.num_classes, name="logits")
        kind = extra.get("probe_features", "embedding")
        if kind == "embedding":
            classifier = classifier_from_parts(encoder, head)
        else:  # the head reads the pooled tokens too (model.probe_features_model)
            features = probe_features_model(encoder, kind)
            # Saved with the file: a loaded model's own flag resets its layers' (on --resume
            # the encoder would train).
            features.trainable = encoder.trainable
            classifier = classifier_from_probe(features, head)
        info = {
            "mode": mode,
            "encoder": str(Path(encoder_path).resolve()),  # --resume from anywhere
            "label_fraction": label_fraction,
            "labelled_clips": int(len(np.unique(splits.train.clip_ids))),
            "labelled_val_clips": _clip_count(splits.val),
            "pretraining_leak_checked": checked,
            **extra,
            **(run_info or {}),
        }
        return fit_classifier(
            classifier, splits, config, Path(run_dir), resume, extra_run_info=info
        )


def linear_probe(
    encoder_path: str | os.PathLike,
    splits: Splits,
    config: RunConfig,
    run_dir: str | os.PathLike,
    resume: bool = False,
    label_fraction: float = 1.0,
    strategy: tf.distribute.Strategy | None = None,
    run_info: dict | None = None,
    probe_features: str = DEFAULT_PROBE_FEATURES,
) -> dict:
    """A linear classifier on the frozen encoder (BatchNorm in inference mode); returns the report.
    The head reads `probe_features` (config.PROBE_FEATURES): by default the embedding and the mean
    and max of the last block's frame tokens, as the label-efficiency study's probe."""
    check_probe_features(probe_features)
    if probe_features != "embedding" and config.train.teaching.enabled:
        raise ConfigError(
            f"--probe-features {probe_features}: train.teaching needs the head on the embedding "
            "(use --probe-features embedding, or turn teaching off)"
        )

    def freeze(encoder: keras.Model) -> dict:
        encoder.trainable = False
        disable_dropout(encoder)
        return {"probe_features": probe_features}

    return _train_head(
        encoder_path,
        splits,
        config,
        run_dir,
        resume,
        label_fraction,
        strategy,
        "linear",
        freeze,
        run_info,
    )


def finetune(
    encoder_path: str | os.PathLike,
    splits: Splits,
    config: RunConfig,
    run_dir: str | os.PathLike,
    resume: bool = False,
    label_fraction: float = 1.0,
    freeze_stem: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    run_info: dict | None = None,
) -> dict:
    """The whole network trained from the pre-trained encoder; `freeze_stem` keeps the Conv1D
    stem (conv1, conv2 and their BatchNorm) fixed, as the paper studies. Returns the report."""

    def maybe_freeze_stem(encoder: keras.Model) -> dict:
        frozen = stem_layers(encoder) if freeze_stem else []
        for layer in frozen:
            layer.trainable = False
        return {"freeze_stem": freeze_stem, "frozen_layers": [layer.name for layer in frozen]}

    return _train_head(
        encoder_path,
        splits,
        config,
        run_dir,
        resume,
        label_fraction,
        strategy,
        "finetune",
        maybe_freeze_stem,
        run_info,
    )


def embed(encoder: keras.Model, windows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """L2-normalized embeddings (N, E) of windows, inference mode."""
    emb = encoder.predict(windows, batch_size=batch_size, verbose=0)
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def knn_eval(
    encoder_path: str | os.PathLike,
    splits: Splits,
    config: RunConfig,
    run_dir: str | os.PathLike,
    k: int = 20,
    label_fraction: float = 1.0,
    run_info: dict | None = None,
) -> dict:
    """k-NN (cosine, distance-weighted votes) of the test windows among the labelled training
    windows' embeddings; writes report/ and a nearest-class-mean best.keras. Returns the report."""
    from sklearn.neighbors import KNeighborsClassifier

    if k < 1:
        raise ConfigError(f"--k must be at least 1, got {k}")
    run_dir = Path(run_dir)
    checked = pretraining_leak_check(encoder_path, splits)
    splits = _with_fraction(splits, label_fraction, config.data.seed)
    encoder = load_encoder(encoder_path)
    _check_window(encoder, splits, str(encoder_path))
    train = splits.train
    evaluation, title = next(
        (s, t)
        for s, t in ((splits.test, "test"), (splits.val, "val"), (train, "train"))
        if s is not None
    )
    bank, queries = embed(encoder, train.windows), embed(encoder, evaluation.windows)
    knn = KNeighborsClassifier(n_neighbors=min(k, len(bank)), metric="cosine", weights="distance")
    knn.fit(bank, train.labels)
    probabilities = np.zeros((len(queries), train.num_classes))
    probabilities[:, knn.classes_] = knn.predict_proba(queries)
    run_dir.mkdir(parents=True, exist_ok=True)
    dump_config(config, run_dir / "config.yaml")
    centroids = np.stack(
        [
            bank[train.labels == c].mean(0)
            if (train.labels == c).any()
            else np.zeros(bank.shape[1])
            for c in range(train.num_classes)
        ]
    )
    classifier = _nearest_class_mean(encoder, centroids)
    save_model(classifier, run_dir / "best.keras")
    write_json(
        run_dir / "run.json",
        {
            "mode": "knn",
            "encoder": str(Path(encoder_path).resolve()),  # --resume from anywhere
            "k": k,
            "label_fraction": label_fraction,
            "class_names": train.class_names,
            "window": int(train.windows.shape[1]),
            "layout": "body15",
            "stride": config.data.stride,
            "labelled_windows": int(len(bank)),
            "pretraining_leak_checked": checked,
            **(run_info or {}),
            "config": config.model_dump(mode="json"),
        },
    )
    write_json(run_dir / "splits.json", splits.describe())
    report = write_report(probabilities, evaluation, run_dir / "report", title)
    ncm_logits = classifier.predict(evaluation.windows, batch_size=256, verbose=0)["logits"]
    report.update(
        k=k, nearest_class_mean_accuracy=float((ncm_logits.argmax(1) == evaluation.labels).mean())
    )
    write_json(run_dir / "report" / "report.json", report)
    return report


def _nearest_class_mean(encoder: keras.Model, centroids: np.ndarray) -> keras.Model:
    """A two-output classifier whose logits e·ĉ_k rank classes exactly as cos(e, c_k) does
    (‖e‖ scales every logit alike)."""
    unit = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    head = keras.layers.Dense(len(unit), use_bias=False, name="logits")
    classifier = classifier_from_parts(encoder, head)
    head.set_weights([unit.T.astype(np.float32)])
    return classifier
