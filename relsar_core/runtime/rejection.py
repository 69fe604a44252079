"""Open-set gate of a model's own classes: a window whose embedding is far from the mean
embedding of the class the model picks is moved to the model's rejection class (`other`, shown
as "—"), so movements unlike any training action are mostly not named.

Score: the largest cosine similarity of the window's (unit) embedding to the k-means centres
(CENTRES_PER_CLASS) of the training windows of its top class. Gate g = sigmoid(sharpness ·
(threshold − similarity)); the class probabilities are scaled by 1 − g and g is added to the
rejection class. Windows whose top class is a rest class (`idle`: no action either, shown by
name) are not gated: the gate is there to keep non-actions from being named as an action.
Chosen on validation data (`relsar_core.data.rejection_tuning`, MODEL_CARD.md):
of the scores tried (max softmax, energy, p(other), k-NN and class means in the embedding and in
the teaching head's space) the embedding's class-mean cosine separated validation windows from
validation-only out-of-set motions best (AUROC 0.81 vs 0.78 for energy, 0.76 for max softmax),
as well as 10-NN over all training windows; 8 centres per class instead of one mean keep more
of the classes at the same rejection (validation macro-F1 0.787 → ~0.80 at 18 % out-of-set
shown). A global threshold beat per-class quantiles. With flip test-time averaging
(relsar_core.runtime.flip_average) the score is the larger of the window's and its mirror
image's similarity (on validation it kept more of the classes at the same rejection than the
window's own, their mean or the mean embedding's; MODEL_CARD.md).

The centres and the threshold live in the sidecar JSON (`rejection`), written after conversion;
a model without them (or without a rejection class) is used as it is. `open_classifier` applies
the gate, so the app, headless runs, people mode and relsar-eval all score the same thing.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import numpy as np

from relsar_core.runtime.fewshot_head import class_centres, unit
from relsar_core.runtime.smoothing import REJECT_CLASSES, REST_CLASSES

REJECTION_SPACE = "embedding_class_centres_cosine/1"  # bump when the score changes
CENTRES_PER_CLASS = 8
DEFAULT_SHARPNESS = 20.0  # per unit of cosine: 0.05 below the threshold = 73 % rejected


def rejection_entry(
    embeddings: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    threshold: float,
    sharpness: float = DEFAULT_SHARPNESS,
    tuning: dict | None = None,
    k: int = CENTRES_PER_CLASS,
) -> dict:
    """The sidecar's `rejection` entry: the class centres as float16 base64, with the gate's
    setting (and how it was tuned)."""
    centres, names = class_centres(embeddings, labels, class_names, k)
    entry = {
        "space": REJECTION_SPACE,
        "labels": names,
        "shape": list(centres.shape),
        "float16_base64": base64.b64encode(centres.astype("<f2").tobytes()).decode("ascii"),
        "threshold": float(threshold),
        "sharpness": float(sharpness),
    }
    if tuning:
        entry["tuning"] = tuning
    return entry


@dataclass
class RejectionGate:
    centres: np.ndarray  # (M, E) unit vectors
    owner: np.ndarray  # (M,) index of the model's class each centre belongs to
    threshold: float
    sharpness: float
    reject: int  # index of the rejection class
    exempt: tuple[int, ...] = ()  # rest classes (idle): "no action" already, never gated

    def similarities(
        self, probabilities: np.ndarray, embeddings: np.ndarray, mirror: np.ndarray | None = None
    ) -> np.ndarray:
        """(N,) largest cosine of each window to a centre of its top class (1 if it has none).
        With `mirror` (the mirror images' embeddings, flip averaging on): the larger of the
        two views' (either view may be the one near the class's training windows)."""
        top = np.asarray(probabilities).argmax(axis=1)
        all_sims = unit(embeddings) @ self.centres.T  # (N, M)
        if mirror is not None:
            all_sims = np.maximum(all_sims, unit(mirror) @ self.centres.T)
        sims = np.ones(len(top), np.float32)
        for k in np.unique(top):
            cols = self.owner == k
            if cols.any():
                rows = top == k
                sims[rows] = all_sims[np.ix_(rows, cols)].max(axis=1)
        return sims

    def gate(
        self, probabilities: np.ndarray, embeddings: np.ndarray, mirror: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, K) probabilities, (N, E) embeddings (and their mirror images', with flip
        averaging) → the gated (N, K) probabilities."""
        p = np.asarray(probabilities, np.float32)
        top = p.argmax(axis=1)
        sims = self.similarities(p, embeddings, mirror)
        z = np.clip(self.sharpness * (self.threshold - sims), -60.0, 60.0)
        free = np.isin(top, (self.reject, *self.exempt))
        g = np.where(free, 0.0, 1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        out = (1.0 - g)[:, None] * p
        out[:, self.reject] += g * p.sum(axis=1)
        return out


def read_rejection(metadata: dict, class_names: list[str], dim: int) -> RejectionGate | None:
    """The sidecar's gate when it is of this score, size and class set, else None."""
    data = metadata.get("rejection") if isinstance(metadata, dict) else None
    rejects = [i for i, n in enumerate(class_names) if n in REJECT_CLASSES]
    if not isinstance(data, dict) or data.get("space") != REJECTION_SPACE or not rejects:
        return None
    try:
        raw = np.frombuffer(base64.b64decode(data["float16_base64"]), "<f2")
        vectors = raw.reshape([int(n) for n in data["shape"]]).astype(np.float32)
        labels = [str(v) for v in data["labels"]]
        threshold, sharpness = float(data["threshold"]), float(data["sharpness"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None
    if vectors.ndim != 2 or vectors.shape[1] != dim or len(labels) != len(vectors):
        return None
    if not set(labels) <= set(class_names) or not np.isfinite(vectors).all():
        return None
    owner = np.array([class_names.index(n) for n in labels], np.int64)
    exempt = tuple(i for i, n in enumerate(class_names) if n in REST_CLASSES)
    return RejectionGate(unit(vectors), owner, threshold, sharpness, rejects[0], exempt)


@dataclass
class GatedOutput:
    logits: np.ndarray  # log of the gated probabilities
    probabilities: np.ndarray
    embedding: np.ndarray
    raw_probabilities: np.ndarray  # the model's own, before the gate
    teach_embedding: np.ndarray | None = None  # runtime.teach_output: passed through


class GatedClassifier:
    """A classifier with the open-set gate on its probabilities; otherwise the same interface
    (class_names, window, metadata, ... are the wrapped one's). The wrapped classifier is
    `ungated`, not `base`: `base` means the classifier under the taught actions (the app
    teaches on it), and that must keep the gate."""

    def __init__(self, ungated, gate: RejectionGate) -> None:
        self.ungated, self.rejection = ungated, gate

    def __getattr__(self, name: str):
        if name in ("ungated", "rejection"):  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.ungated, name)

    def _gated(self, out, batched: bool) -> GatedOutput:
        p, e, m = out.probabilities, out.embedding, getattr(out, "mirror_embedding", None)
        if not batched:
            p, e, m = p[None], e[None], None if m is None else m[None]
        q = self.rejection.gate(p, e, m)
        if not batched:
            q = q[0]
        teach = getattr(out, "teach_embedding", None)
        return GatedOutput(np.log(np.maximum(q, 1e-12)), q, out.embedding, out.probabilities, teach)

    def predict(self, features: np.ndarray) -> GatedOutput:
        return self._gated(self.ungated.predict(features), batched=False)

    def predict_batch(self, features: np.ndarray) -> GatedOutput:
        return self._gated(self.ungated.predict_batch(features), batched=True)


def with_rejection(base):
    """`base` with its sidecar's open-set gate, or `base` itself when it has none."""
    dim = getattr(base, "embedding_dim", None)
    gate = read_rejection(getattr(base, "metadata", {}), list(base.class_names), int(dim or 0))
    return base if gate is None else GatedClassifier(base, gate)
