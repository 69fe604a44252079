"""The few-shot head of taught actions: numpy only, fitted in milliseconds.

Space: a window is the L2-normalised concatenation of the model's `embedding` and its pose
descriptors (relsar_core.skeleton.descriptors, weight DESCRIPTOR_WEIGHT), compared by cosine
distance. Chosen by `relsar-bench teach` (docs/teach.md): the supervised embedding alone loses
to raw features on unseen actions and is blind to laterality; the descriptors fix both.

- Which taught action: the nearest example window (1-NN; it beat prototypes and logistic
  regression on unseen actions), softened over the per-action nearest distances.
- Open-set gate, two parts multiplied:
  1. the nearest example must lie within the action's radius. Radii come from leave-one-clip-out:
     each example window's distance to the nearest window of the *other* clips of its action
     (the two halves of a single clip stand in for two clips), so overlapping windows of one
     clip never make the spread look small; RADIUS_FACTOR × their 90th percentile, at most
     MAX_RADIUS. Example windows far from every other clip (a jump between two clips, walking
     to the keyboard) are outliers: they are left out of the examples and of the radius.
  2. the window must be nearer to the taught example than to every base-class centroid, by
     at least -BASE_MARGIN (the model's sidecar holds them, computed from training windows at
     conversion), so a taught action near a base class does not take that class's windows.
- Context (fewshot_context.DistanceContext): in a stream of windows (one person live, one clip
  in the bench), each taught action's distance and the nearest base centroid's are averaged
  over the stream's recent windows before the gate and the choice (up to CONTEXT_SECONDS,
  started again when the action changes), so an action is named from more of its movement.
- Combined probabilities = (1 − g) · base probabilities ⊕ g · taught probabilities.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import numpy as np

from relsar_core.runtime.fewshot_context import contexts_of
from relsar_core.skeleton.descriptors import DESCRIPTOR_DIM, TURN_DIM

HEAD_SPACE = "embedding+pose_descriptors/4"  # bump when head_vectors changes
# relsar-bench teach k = 5, seeds 0/1/2 (docs/teach.md): 2.0 → 2.5 gave 0.878/0.882/0.925 →
# 0.881/0.894/0.942 with the turn block; 3.0 about the same, 1.5 and 4.0 worse.
DESCRIPTOR_WEIGHT = 2.5
# Spaces whose centroids (a model converted before) are read into this one: their descriptor
# weight and the descriptor values they lack at the end (the `turn` block). Re-weighting the
# descriptor part and appending zeros is exact for a window that does not turn, and base
# classes barely turn (the bench's numbers within 0.4 points of centroids made in this space).
EARLIER_SPACES = {
    "embedding+pose_descriptors/2": (2.0, TURN_DIM),
    "embedding+pose_descriptors/3": (2.0, 0),
}
GATE_SHARPNESS = 6.0
BASE_SHARPNESS = 40.0  # per unit of cosine distance: a 0.05 margin to a base centroid ≈ 88 %
CHOICE_TEMPERATURE = 0.02  # cosine distance: softmax over the taught actions' nearest distances
RADIUS_FACTOR = 3.0
RADIUS_QUANTILE = 0.9
# Cosine distance: examples that agree closely (one camera set-up, one performer) still accept
# the action seen another way; the base-class gate, not the radius, keeps base windows
# (relsar-bench teach k = 5, seeds 0/1/2: 0.05 → 0.3 gave +2.4/0/0 points, retention the same;
# with the squashed copies, seeds 0-4: 0.3 → 0.4 gave +0.2/0/0/+2.7/0, seed 3's cartwheels
# seen from further to the side; 0.5 and 0.6 no better, retention lower).
MIN_RADIUS = 0.4
MAX_RADIUS = 1.0  # orthogonal: a larger radius would accept windows unlike the examples at all
OUTLIER_MADS = 8.0  # lenient: real examples are diverse (docs/teach.md)
CENTROIDS_PER_CLASS = 4
BASE_MARGIN = -0.04  # cosine distance: the taught example must be this much nearer than a base
# centroid (relsar-bench teach: retention 0.928 -> 0.978 at k = 5 with the speed variants)


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def head_vectors(embeddings: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
    """(N, E) embeddings + (N, D) pose descriptors → (N, E + D) unit vectors of the head space."""
    both = np.concatenate([unit(embeddings), DESCRIPTOR_WEIGHT * unit(descriptors)], axis=-1)
    return unit(both)


def class_centres(vectors: np.ndarray, labels: np.ndarray, class_names: list[str], k: int):
    """(centres (M, D) unit, their class names): up to `k` k-means centres of the unit vectors
    of every class that has windows. The teaching gate's base centroids and the open-set
    gate's class centres are both made here."""
    from sklearn.cluster import KMeans

    vectors, labels = unit(vectors), np.asarray(labels)
    centres, names = [], []
    for index, name in enumerate(class_names):
        own = vectors[labels == index]
        if len(own) == 0:
            continue
        n = min(k, len(own))
        c = (
            own.mean(axis=0, keepdims=True)
            if n == 1
            else KMeans(n, n_init=3, random_state=0).fit(own).cluster_centers_
        )
        centres.append(unit(c))
        names += [name] * n
    return np.concatenate(centres), names


def base_centroids(vectors: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    """Up to CENTROIDS_PER_CLASS k-means centres per base class of head-space vectors of
    training windows: the sidecar's `base_centroids` (float16, base64: one short JSON line)."""
    centres, names = class_centres(vectors, labels, class_names, CENTROIDS_PER_CLASS)
    vectors = centres.astype("<f2")
    return {
        "space": HEAD_SPACE,
        "labels": names,
        "shape": list(vectors.shape),
        "float16_base64": base64.b64encode(vectors.tobytes()).decode("ascii"),
    }


def read_base_centroids(metadata: dict, dim: int) -> tuple[np.ndarray, list[str]] | None:
    """The sidecar's centroids when they are of this head space and size, else None."""
    data = metadata.get("base_centroids") if isinstance(metadata, dict) else None
    space = data.get("space") if isinstance(data, dict) else None
    if space != HEAD_SPACE and space not in EARLIER_SPACES:
        return None
    try:
        raw = np.frombuffer(base64.b64decode(data["float16_base64"]), "<f2")
        vectors = unit(raw.reshape([int(n) for n in data["shape"]]).astype(np.float32))
        labels = [str(v) for v in data["labels"]]
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None
    if space in EARLIER_SPACES and vectors.ndim == 2:
        vectors = _from_earlier_space(vectors, *EARLIER_SPACES[space])
    if vectors.ndim != 2 or vectors.shape[1] != dim or len(labels) != len(vectors):
        return None
    return vectors, labels


def _from_earlier_space(vectors: np.ndarray, weight: float, missing: int) -> np.ndarray:
    """Head-space vectors of an earlier space (see EARLIER_SPACES) in this one."""
    emb = vectors.shape[1] + missing - DESCRIPTOR_DIM
    if emb <= 0:
        return vectors  # not of this descriptor size: the caller's size check refuses it
    out = np.pad(vectors, ((0, 0), (0, missing)))
    out[:, emb:] *= DESCRIPTOR_WEIGHT / weight
    return unit(out)


def _loco_distances(x: np.ndarray, clips: np.ndarray) -> np.ndarray:
    """Each row's cosine distance to the nearest row of another clip (NaN when there is none)."""
    dist = 1.0 - x @ x.T
    dist[clips[:, None] == clips[None, :]] = np.inf
    out = dist.min(axis=1)
    return np.where(np.isfinite(out), out, np.nan)


def _pseudo_clips(clips: np.ndarray) -> np.ndarray:
    """A single clip split into its first and second half, so leave-one-out has two parts."""
    if len(np.unique(clips)) > 1 or len(clips) < 2:
        return clips
    return (np.arange(len(clips)) >= len(clips) / 2).astype(clips.dtype)


@dataclass
class ActionSummary:
    name: str
    clips: int
    windows: int
    outliers: int  # example windows left out
    radius: float
    looks_like: str | None  # the base class most of its examples are nearer to, if any


class FewShotHead:
    """See the module docstring. fit(vectors, labels, clips[, base]) then predict(vectors)."""

    def fit(
        self,
        vectors: np.ndarray,
        labels,
        clips,
        base: tuple[np.ndarray, list[str]] | None = None,
    ) -> FewShotHead:
        x, labels, clips = unit(vectors), np.asarray(labels).astype(str), np.asarray(clips)
        if len(x) == 0 or not len(x) == len(labels) == len(clips):
            raise ValueError(
                f"need matching vectors, labels and clips, got {len(x)}, {len(labels)}, {len(clips)}"
            )
        self.classes = sorted(set(labels.tolist()))
        self.base = base
        keep = np.ones(len(x), bool)
        radii, self.summaries = [], []
        for cls in self.classes:
            rows = np.flatnonzero(labels == cls)
            loco = _loco_distances(x[rows], _pseudo_clips(clips[rows]))
            ok = ~np.isnan(loco)
            if ok.sum() >= 3:
                med = np.median(loco[ok])
                mad = np.median(np.abs(loco[ok] - med)) + 1e-3
                ok &= loco <= med + OUTLIER_MADS * mad
            keep[rows] = ok if ok.any() else True
            spread = loco[ok] if ok.any() else np.array([MIN_RADIUS])
            radius = float(
                np.clip(
                    RADIUS_FACTOR * np.quantile(spread, RADIUS_QUANTILE), MIN_RADIUS, MAX_RADIUS
                )
            )
            radii.append(radius)
            looks = self._looks_like(x[rows[ok]], loco[ok]) if base is not None else None
            self.summaries.append(
                ActionSummary(
                    cls,
                    len(np.unique(clips[rows])),
                    len(rows),
                    int(len(rows) - keep[rows].sum()),
                    radius,
                    looks,
                )
            )
        self.examples = x[keep]
        self.example_class = np.array([self.classes.index(c) for c in labels[keep]])
        self.radii = np.asarray(radii, np.float32)
        return self

    def _looks_like(self, own: np.ndarray, loco: np.ndarray) -> str | None:
        """The base class whose centroid is nearer than the action's other clips for most of
        its example windows, else None."""
        centres, names = self.base
        d = 1.0 - own @ centres.T
        nearer = d.min(axis=1) < loco
        if len(own) == 0 or nearer.mean() <= 0.5:
            return None
        votes = [names[i] for i in d.argmin(axis=1)[nearer]]
        return max(set(votes), key=votes.count)

    def class_distances(self, vectors: np.ndarray) -> np.ndarray:
        """(N, C) cosine distance of each window to the nearest example of each taught action."""
        dist = 1.0 - unit(vectors) @ self.examples.T
        out = np.full((len(dist), len(self.classes)), np.inf, np.float32)
        for c in range(len(self.classes)):
            cols = self.example_class == c
            if cols.any():
                out[:, c] = dist[:, cols].min(axis=1)
        return out

    def predict(
        self, vectors: np.ndarray, contexts=None, times=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """vectors (N, D) → (gate (N,), taught-action probabilities (N, C)). `contexts`: a
        DistanceContext per row (rows of one stream share one, in time order) and `times` (N,)
        seconds: each row's distances to the taught actions and to the nearest base centroid
        are averaged with its stream's recent ones first (the gate compares like with like)."""
        x = unit(vectors)
        d = self.class_distances(x)
        if self.base is not None:
            d = np.concatenate([d, (1.0 - x @ self.base[0].T).min(axis=1)[:, None]], axis=1)
        if contexts is not None:
            margin = BASE_MARGIN if self.base is not None else None
            d = np.stack(
                [c.add(float(t), row, margin) for c, t, row in zip(contexts, times, d, strict=True)]
            )
        if self.base is not None:
            d, d_base = d[:, :-1], d[:, -1]
        nearest = d.argmin(axis=1)
        d_near = d[np.arange(len(d)), nearest]
        gate = _sigmoid(GATE_SHARPNESS * (1.0 - d_near / self.radii[nearest]))
        if self.base is not None:
            gate = gate * _sigmoid(BASE_SHARPNESS * (d_base + BASE_MARGIN - d_near))
        z = np.exp(-(d - d_near[:, None]) / CHOICE_TEMPERATURE)
        probs = z / z.sum(axis=1, keepdims=True)
        return gate.astype(np.float32), probs.astype(np.float32)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


def loco_separability(vectors: np.ndarray, labels, clips) -> float | None:
    """Leave-one-clip-out accuracy of the 1-NN choice among the taught actions: each clip's
    windows named from the other clips only (None with fewer than two actions)."""
    x, labels, clips = unit(vectors), np.asarray(labels).astype(str), np.asarray(clips)
    if len(set(labels.tolist())) < 2:
        return None
    dist = 1.0 - x @ x.T
    # Clips of different actions are distinct even if their ids coincide.
    same_clip = (clips[:, None] == clips[None, :]) & (labels[:, None] == labels[None, :])
    dist[same_clip] = np.inf
    nearest = dist.argmin(axis=1)
    usable = np.isfinite(dist.min(axis=1))
    if not usable.any():
        return None
    return float((labels[nearest] == labels)[usable].mean())


def loco_scores(
    vectors: np.ndarray, labels, clips, base=None, streams=None, times=None
) -> dict[str, float | None]:
    """Per taught action, leave-one-clip-out: the share of its example windows that the head
    fitted on the *other* clips (all actions, same base-class gate) names that action, i.e. the
    gate is open (within the radius and nearer than the base classes) and the nearest taught
    action is this one. None for an action taught from a single clip (nothing to leave out).
    `streams` (a key per row: which copy of its clip, rows of a copy in time order) and `times`
    (seconds): the held-out clip's windows are named in context, FewShotHead.predict with a
    DistanceContext per stream as the live path does; without them each window alone."""
    x, labels, clips = unit(vectors), np.asarray(labels).astype(str), np.asarray(clips)
    keys = np.char.add(np.char.add(labels, "\x00"), clips.astype(str))  # ids may repeat per action
    if streams is not None:
        streams = np.char.add(np.char.add(keys, "\x00"), np.asarray(streams).astype(str))
    scores: dict[str, float | None] = {}
    for cls in sorted(set(labels.tolist())):
        own = np.unique(keys[labels == cls])
        if len(own) < 2:
            scores[cls] = None
            continue
        right = 0
        for key in own:
            out = keys == key
            head = FewShotHead().fit(x[~out], labels[~out], clips[~out], base)
            args = (
                (contexts_of(streams[out]), np.asarray(times)[out]) if streams is not None else ()
            )
            gate, probs = head.predict(x[out], *args)
            chosen = np.asarray(head.classes)[probs.argmax(axis=1)]
            right += int(((gate > 0.5) & (chosen == cls)).sum())
        scores[cls] = right / int((labels == cls).sum())
    return scores
