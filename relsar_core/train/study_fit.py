"""The downstream runs of the label-efficiency study (relsar_core.train.label_study), built to
be cheap on a CPU: one compiled classifier per method, reused for every (fraction, seed) run
with its weights and optimizer reset, so a run costs its steps and not a new trace.

- `ReusableTrainer`: the supervised fit loop's recipe (model, AdamW + warm-up/cosine, label
  smoothing, class weights, the on-graph augmentations of the method's config) for a fixed
  schedule of `epochs` × `steps_per_epoch` steps whatever the size of the labelled set; after
  every epoch the validation loss (on the equally cut validation clips) keeps the best weights,
  which score the test side once.
- `linear_probe_embeddings`: a linear probe on frozen embeddings (multinomial logistic
  regression, features standardised on the labelled set, L2 strength chosen on validation).
- `probe_head_weights`: that probe as the classifier's Dense head (standardisation folded in),
  the starting head of LP-FT fine-tuning.
- `frozen_features`: what the probe reads from the frozen encoder (its embedding, or its last
  block's tokens pooled: model.probe_features_model, shared with `relsar-train linear`).
- `knn_embeddings`: cosine k-NN with distance-weighted votes, as `relsar-train knn`.
"""

from __future__ import annotations

import keras
import numpy as np
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

from relsar_core.config import PROBE_FEATURES, AugmentConfig, ModelConfig, TrainConfig
from relsar_core.data.datasets import WindowSet, class_weights
from relsar_core.train.model import (
    build_classifier,
    build_encoder,
    classifier_from_probe,
    encoder_of,
    logits_model,
    probe_features_model,
)
from relsar_core.train.supervised import compile_for_training
from relsar_core.train.tfdata import labelled_dataset


def scores(predicted: np.ndarray, data: WindowSet) -> dict:
    """Window accuracy and macro-F1 (over the classes the data holds: `other` has no test
    clips) of predicted class indices."""
    labels = np.unique(data.labels)
    return {
        "accuracy": float((predicted == data.labels).mean()),
        "macro_f1": float(
            f1_score(data.labels, predicted, labels=labels, average="macro", zero_division=0)
        ),
    }


class _KeepBest(keras.callbacks.Callback):
    """The weights of the epoch with the lowest validation loss, kept in memory."""

    def __init__(self):
        super().__init__()
        self.best, self.weights, self.epoch = np.inf, None, 0

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss", np.inf)
        if self.weights is None or loss < self.best:
            self.best, self.weights, self.epoch = loss, self.model.get_weights(), epoch + 1


class ReusableTrainer:
    """A classifier compiled once; `run(initial weights, …)` trains it from those weights."""

    def __init__(
        self,
        model_cfg: ModelConfig,
        num_classes: int,
        window: int,
        train_cfg: TrainConfig,
        augment_cfg: AugmentConfig,
        steps_per_epoch: int,
        head_features: str = "embedding",
    ):
        self.model_cfg, self.num_classes, self.window = model_cfg, num_classes, window
        self.cfg, self.augment_cfg, self.steps = train_cfg, augment_cfg, steps_per_epoch
        self.head_features = head_features
        self.classifier = self._build()
        self.model = logits_model(self.classifier)
        compile_for_training(self.model, train_cfg, steps_per_epoch)
        self.model.optimizer.build(self.model.trainable_variables)

    def initial_weights(
        self, seed: int, encoder_weights: list | None = None, head_weights: list | None = None
    ) -> list:
        """A fresh initialisation drawn from `seed` (built, never traced), its encoder part
        replaced by `encoder_weights` (fine-tuning a pre-trained encoder) and its head by
        `head_weights` ([kernel, bias], LP-FT) when given."""
        keras.utils.set_random_seed(seed)
        fresh = self._build()
        if encoder_weights is not None:
            encoder_of(fresh).set_weights(encoder_weights)
        if head_weights is not None:
            fresh.get_layer("logits").set_weights(head_weights)
        return logits_model(fresh).get_weights()

    def _build(self) -> keras.Model:
        """The classifier; its head reads `head_features` of the encoder (one of PROBE_FEATURES:
        the embedding, as the shipped classifier, or a pooled probe's features)."""
        if self.head_features == "embedding":
            return build_classifier(self.model_cfg, self.num_classes, self.window)
        encoder = build_encoder(self.model_cfg, self.window)
        features = probe_features_model(encoder, self.head_features)
        return classifier_from_probe(features, keras.layers.Dense(self.num_classes, name="logits"))

    def run(self, weights: list, train: WindowSet, val: WindowSet, seed: int) -> dict:
        """Train from `weights` for the fixed schedule; the best-validation weights stay loaded
        and the last epoch's are kept in `last_weights` (the fixed-schedule rule)."""
        keras.utils.set_random_seed(seed)
        self.model.set_weights(weights)
        for variable in self.model.optimizer.variables:  # moments and the step count
            variable.assign(np.zeros(variable.shape, variable.dtype))
        sample_weights = (
            class_weights(train.labels, train.num_classes)[train.labels]
            if self.cfg.class_weights
            else None
        )
        train_ds = labelled_dataset(
            train.training_windows,
            train.labels,
            train.num_classes,
            self.cfg.batch_size,
            True,
            self.augment_cfg,
            sample_weights,
            seed,
            out_steps=int(train.windows.shape[1]),
        ).repeat()
        val_ds = labelled_dataset(
            val.windows, val.labels, val.num_classes, self.cfg.batch_size, False
        )
        keep = _KeepBest()
        self.model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=self.cfg.epochs,
            steps_per_epoch=self.steps,
            verbose=0,
            shuffle=False,  # the dataset shuffles
            callbacks=[keep],
        )
        self.last_weights = self.model.get_weights()
        self.model.set_weights(keep.weights)
        return {"best_epoch": keep.epoch, "best_val_loss": float(keep.best)}

    def predict(self, windows: np.ndarray, weights: list | None = None) -> np.ndarray:
        """Class indices from the loaded (best-validation) weights, or from `weights`."""
        if weights is None:
            return self.model.predict(windows, batch_size=256, verbose=0).argmax(1)
        loaded = self.model.get_weights()
        self.model.set_weights(weights)
        try:
            return self.model.predict(windows, batch_size=256, verbose=0).argmax(1)
        finally:
            self.model.set_weights(loaded)


def embeddings(encoder: keras.Model, windows: np.ndarray) -> np.ndarray:
    return encoder.predict(windows, batch_size=256, verbose=0)


def frozen_features(
    encoder: keras.Model, windows: np.ndarray, kind: str = "embedding"
) -> np.ndarray:
    """The frozen encoder's representation of `windows` that the linear probe reads (one of
    PROBE_FEATURES): the features of model.probe_features_model, the same definition that
    `relsar-train linear --probe-features` puts under its head."""
    if kind not in PROBE_FEATURES:
        raise ValueError(f"probe features: one of {PROBE_FEATURES}, not {kind!r}")
    if kind == "embedding":
        return embeddings(encoder, windows)
    features, _ = probe_features_model(encoder, kind).predict(windows, batch_size=256, verbose=0)
    return features


def linear_probe_embeddings(
    bank: np.ndarray,
    labels: np.ndarray,
    val: np.ndarray,
    val_labels: np.ndarray,
    strengths: tuple[float, ...] = (0.1, 1.0, 10.0),
) -> tuple[object, float]:
    """(fitted probe, chosen C): logistic regression on standardised frozen embeddings; the
    inverse L2 strength C with the best validation accuracy (ties: the stronger penalty)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best, chosen, best_acc = None, None, -1.0
    # One BLAS thread: these products are small, and on a busy 2-core machine a second
    # spinning thread made a fit ~30× slower (2.6 s against 0.09 s for 4,000 × 256, 11 classes).
    with threadpool_limits(1, user_api="blas"):
        for c in strengths:
            probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500))
            probe.fit(bank, labels)
            acc = float((probe.predict(val) == val_labels).mean())
            if acc > best_acc:
                best, chosen, best_acc = probe, c, acc
    return best, chosen


def probe_head_weights(probe, num_classes: int) -> list[np.ndarray]:
    """[kernel (E, K), bias (K,)] of a Dense layer on the raw embeddings with the probe's
    logits: the standardisation folded in (z = (x − μ)/σ, so W·z + b = (W/σ)·x + b − W·μ/σ).
    A class the probe never saw gets a zero row and a bias far below the others, so it starts
    as never predicted (it can still be learnt)."""
    scaler, logistic = probe.steps[0][1], probe.steps[-1][1]
    coef, intercept = logistic.coef_, logistic.intercept_
    if coef.shape[0] == 1:  # sklearn stores a two-class problem as one row (class 1's margin)
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-1, 1]) * intercept / 2
    scale = scaler.scale_ if scaler.scale_ is not None else np.ones(coef.shape[1])
    mean = scaler.mean_ if scaler.mean_ is not None else np.zeros(coef.shape[1])
    kernel = np.zeros((coef.shape[1], num_classes), np.float32)
    bias = np.full(num_classes, intercept.min() - 10.0, np.float32)
    for row, cls in enumerate(logistic.classes_):
        kernel[:, cls] = coef[row] / scale
        bias[cls] = intercept[row] - coef[row] @ (mean / scale)
    return [kernel, bias]


def knn_embeddings(bank: np.ndarray, labels: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Cosine k-NN, distance-weighted votes → predicted class indices."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=min(k, len(bank)), metric="cosine", weights="distance")
    with threadpool_limits(1, user_api="blas"):
        return knn.fit(bank, labels).predict(queries)
