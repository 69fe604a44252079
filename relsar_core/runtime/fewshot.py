"""Teach an action: a small head on the classifier's `embedding` output, fitted in well under a
second with numpy + scikit-learn (no TensorFlow), saved beside the model.

The base model keeps its classes; taught actions are added to them. For a window's embedding x:
- each taught action c has a prototype (the mean of its examples' L2-normalised embeddings) and a
  radius (how far its own examples lie from it, in cosine distance);
- a gate g = sigmoid(k · (1 − d / r)) says how surely x is one of the taught actions, d being the
  distance to the nearest prototype and r its radius: open-set, so a base action stays itself;
- which taught action: a multinomial logistic regression over the taught actions (scikit-learn),
  or 1 when only one action is taught;
- combined probabilities = (1 − g) · base probabilities ⊕ g · taught probabilities.
A taught name equal to a base class name adds to that class instead of duplicating it.

The examples' embeddings (not a pickled estimator) are stored in `<model>.taught.npz` with the
model file's SHA-256; the head is refitted from them at load, so it always matches the code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relsar_core.errors import ModelFileError
from relsar_core.files import atomic_write, sha256_file
from relsar_core.skeleton.clip import Clip, load_clip
from relsar_core.skeleton.features import clip_features

GATE_SHARPNESS = 6.0
MIN_RADIUS = 0.15  # cosine distance: a very tight set of examples still accepts small variations
RADIUS_FACTOR = 3.0  # × the 90th percentile of the examples' own distances


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


class FewShotHead:
    """Prototypes + radii (open-set gate) and a logistic regression over the taught actions."""

    def fit(self, embeddings: np.ndarray, labels: list[str] | np.ndarray) -> FewShotHead:
        x = _normalise(embeddings)
        labels = np.asarray(labels).astype(str)
        if len(x) == 0 or len(x) != len(labels):
            raise ValueError(f"need matching embeddings and labels, got {len(x)} and {len(labels)}")
        self.classes = sorted(set(labels.tolist()))
        protos, radii = [], []
        for cls in self.classes:
            own = x[labels == cls]
            proto = _normalise(own.mean(axis=0))
            dist = 1.0 - own @ proto
            protos.append(proto)
            radii.append(max(MIN_RADIUS, RADIUS_FACTOR * float(np.quantile(dist, 0.9))))
        self.prototypes = np.stack(protos).astype(np.float32)
        self.radii = np.asarray(radii, np.float32)
        self.coef = self.intercept = None
        if len(self.classes) > 1:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=10.0, max_iter=500).fit(x, labels)
            order = [list(lr.classes_).index(c) for c in self.classes]
            if len(self.classes) == 2:  # sklearn keeps one row for two classes: make it symmetric
                w, b = lr.coef_[0], lr.intercept_[0]
                self.coef, self.intercept = np.stack([-w / 2, w / 2]), np.array([-b / 2, b / 2])
            else:
                self.coef, self.intercept = lr.coef_[order], lr.intercept_[order]
            self.coef = self.coef.astype(np.float32)
            self.intercept = self.intercept.astype(np.float32)
        return self

    def predict(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """embeddings (N, E) → (gate (N,), taught-class probabilities (N, C))."""
        x = _normalise(embeddings)
        dist = 1.0 - x @ self.prototypes.T
        ratio = (dist / self.radii).min(axis=1)
        gate = 1.0 / (1.0 + np.exp(np.clip(-GATE_SHARPNESS * (1.0 - ratio), -50.0, 50.0)))
        if self.coef is None:
            probs = np.ones((len(x), 1), np.float32)
        else:
            z = x @ self.coef.T + self.intercept
            z = np.exp(z - z.max(axis=1, keepdims=True))
            probs = z / z.sum(axis=1, keepdims=True)
        return gate.astype(np.float32), probs.astype(np.float32)


@dataclass
class TaughtOutput:
    logits: np.ndarray  # log of the combined probabilities
    probabilities: np.ndarray
    embedding: np.ndarray


class TaughtClassifier:
    """A base classifier plus taught actions; the same interface as TfliteClassifier."""

    def __init__(self, base, head: FewShotHead) -> None:
        self.base, self.head = base, head
        self.window, self.layout = base.window, getattr(base, "layout", "body15")
        self.embedding_dim = getattr(base, "embedding_dim", None)
        self.base_classes = list(base.class_names)
        self.class_names = self.base_classes + [
            c for c in head.classes if c not in self.base_classes
        ]
        self._index = np.array([self.class_names.index(c) for c in head.classes])

    @property
    def taught_classes(self) -> list[str]:
        return list(self.head.classes)

    def _combine(self, base_probs: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        gate, taught = self.head.predict(embeddings)
        probs = np.zeros((len(base_probs), len(self.class_names)), np.float32)
        probs[:, : len(self.base_classes)] = (1.0 - gate)[:, None] * base_probs
        np.add.at(probs, (slice(None), self._index), gate[:, None] * taught)
        return probs

    def predict(self, features: np.ndarray) -> TaughtOutput:
        out = self.base.predict(features)
        probs = self._combine(out.probabilities[None], out.embedding[None])[0]
        return TaughtOutput(np.log(np.maximum(probs, 1e-12)), probs, out.embedding)

    def predict_batch(self, features: np.ndarray) -> TaughtOutput:
        out = self.base.predict_batch(features)
        probs = self._combine(out.probabilities, out.embedding)
        return TaughtOutput(np.log(np.maximum(probs, 1e-12)), probs, out.embedding)


def taught_path(model_path: str | os.PathLike) -> Path:
    """Where the taught actions of a model live: `<name>.taught.npz` beside `<name>.tflite`."""
    return Path(model_path).with_suffix(".taught.npz")


def clip_embeddings(classifier, clip: Clip, stride: int = 5) -> np.ndarray:
    """Embeddings (N, E) of all windows of a clip; a clip shorter than the window is padded at
    the start with its first frame (as if the person had stood still before it)."""
    kp = clip.body15_at_model_rate()  # a 15 fps recording must not look twice as fast
    window = classifier.window
    if len(kp) < window:
        kp = np.concatenate([np.repeat(kp[:1], window - len(kp), axis=0), kp])
    return classifier.predict_batch(clip_features(kp, window, stride)).embedding


def load_taught(model_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray] | None:
    """The stored (embeddings, labels) of a model's taught actions; None when there are none.
    ModelFileError when the file is broken or belongs to another model file."""
    path = taught_path(model_path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            emb, labels, sha = (
                data["embeddings"],
                data["labels"].astype(str),
                str(data["model_sha256"]),
            )
    except Exception as exc:  # any unreadable file is the same problem for the user
        raise ModelFileError(f"{path}: not a readable taught-actions file ({exc})") from None
    if sha != sha256_file(model_path):
        raise ModelFileError(
            f"{path}: taught for a different version of {Path(model_path).name}; teach again"
        )
    return emb.astype(np.float32), labels


def save_taught(model_path: str | os.PathLike, embeddings: np.ndarray, labels: np.ndarray) -> Path:
    path = taught_path(model_path)
    sha = sha256_file(model_path)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                embeddings=np.asarray(embeddings, np.float32),
                labels=np.asarray(labels).astype(str),
                model_sha256=np.str_(sha),
            )

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise ModelFileError(
            f"{path}: cannot save the taught actions beside the model ({exc.strerror})"
        ) from None
    return path


def with_taught(base, model_path: str | os.PathLike):
    """The base classifier plus any actions taught for `model_path` (the base alone if none)."""
    taught = load_taught(model_path)
    if taught is None:
        return base
    emb, labels = taught
    dim = getattr(base, "embedding_dim", None)
    path = taught_path(model_path)
    if emb.ndim != 2 or len(emb) != len(labels) or len(emb) == 0:
        raise ModelFileError(
            f"{path}: embeddings of shape {emb.shape} do not match its {len(labels)} labels"
        )
    if dim is not None and emb.shape[1] != dim:
        raise ModelFileError(
            f"{path}: embeddings have {emb.shape[1]} values, the model makes {dim}; teach again"
        )
    if not np.isfinite(emb).all():
        raise ModelFileError(f"{path}: embeddings contain NaN or infinite values; teach again")
    return TaughtClassifier(base, FewShotHead().fit(*taught))


def teach(
    base, model_path: str | os.PathLike, examples: dict[str, list], stride: int = 5, embedder=None
) -> TaughtClassifier:
    """Add actions from example clips ({action: [clip paths or Clips]}), keeping the actions
    taught before (an action taught again gets the new examples added), save, return the new
    classifier around `base`. `embedder` (default: base) computes the examples' embeddings: pass
    a second instance of the model when `base` is busy in another thread (an interpreter is not
    thread-safe)."""
    base = getattr(base, "base", base)
    embedder = base if embedder is None else embedder
    embs, labels = [], []
    try:
        old = load_taught(model_path)
    except ModelFileError:
        old = None  # taught for another model version: those embeddings no longer apply
    if old is not None:
        embs.append(old[0])
        labels.extend(old[1].tolist())
    for action, clips in examples.items():
        if not clips:
            continue
        for item in clips:
            clip = item if isinstance(item, Clip) else load_clip(item)
            emb = clip_embeddings(embedder, clip, stride)
            embs.append(emb)
            labels.extend([action] * len(emb))
    if not labels:
        raise ModelFileError(f"{model_path}: no example clips to teach from")
    embeddings, labels = np.concatenate(embs), np.asarray(labels)
    head = FewShotHead().fit(embeddings, labels)
    save_taught(model_path, embeddings, labels)
    return TaughtClassifier(base, head)


def forget_taught(model_path: str | os.PathLike) -> bool:
    """Delete the taught actions of a model; True when there were any."""
    path = taught_path(model_path)
    if path.is_file():
        path.unlink()
        return True
    return False
