"""Teach an action: example clips → a few-shot head beside the model (relsar_core.runtime.
fewshot_head), saved in `<model>.taught.npz`, used by the app, `relsar-teach` and the bench.

The base model keeps its classes; taught actions are added to them. A taught name equal to a
base class name adds to that class instead of duplicating it. The file stores the examples'
embeddings, pose descriptors, labels and clip ids (not a pickled estimator) with the model
file's SHA-256; the head is refitted from them at load (milliseconds), so it always matches
the code. Every clip is resampled to the model's frame rate first, as training and live do,
and is taught at its own speed and a little slower and faster (TEACH_SPEEDS), as it is and
squashed horizontally as if seen from further to the side (TEACH_WIDTHS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from relsar_core.errors import ModelFileError
from relsar_core.files import atomic_write, numpy_file_problem, sha256_file
from relsar_core.runtime.fewshot_head import (
    ActionSummary,
    FewShotHead,
    head_vectors,
    loco_scores,
    loco_separability,
    read_base_centroids,
)
from relsar_core.runtime.smoothing import REJECT_CLASSES
from relsar_core.runtime.teach_output import teach_dim_of, teach_embedding_of
from relsar_core.runtime.teach_windows import (  # noqa: F401  (re-exported: the teach API)
    TEACH_SPEEDS,
    TEACH_WIDTHS,
    clip_embeddings,
    clip_windows,
    example_streams,
    example_windows,
    squashed,
)
from relsar_core.skeleton.clip import Clip, load_clip
from relsar_core.skeleton.descriptors import DESCRIPTOR_DIM, pose_descriptors

# 5: + each row's copy and time in it (leave-one-clip-out in context; a 4 file still reads,
# its rows scored alone); 4: pose descriptors with the turn block (628 values); 3: lead block
TAUGHT_FORMAT = 5


@dataclass
class TaughtOutput:
    logits: np.ndarray  # log of the combined probabilities
    probabilities: np.ndarray
    embedding: np.ndarray


@dataclass
class TaughtExamples:
    """What a `.taught.npz` holds: one row per example window."""

    embeddings: np.ndarray  # (N, E)
    descriptors: np.ndarray  # (N, D)
    labels: np.ndarray  # (N,) action names
    clips: np.ndarray  # (N,) clip id, unique over the file
    copies: np.ndarray | None = None  # (N,) which copy of its clip (speed, width); -1 unknown
    times: np.ndarray | None = None  # (N,) seconds in that copy (teach_windows.example_streams)

    def __post_init__(self) -> None:
        n = len(self.labels)  # rows taught before copies were kept: each scored alone
        self.copies = np.full(n, -1, np.int64) if self.copies is None else self.copies
        self.times = np.zeros(n, np.float32) if self.times is None else self.times

    def vectors(self) -> np.ndarray:
        return head_vectors(self.embeddings, self.descriptors)

    def streams(self) -> np.ndarray:
        """A stream key per row within its clip: its copy, or the row itself when unknown."""
        own = np.char.add("row", np.arange(len(self.copies)).astype(str))
        return np.where(self.copies >= 0, self.copies.astype(str), own)

    def subset(self, keep: np.ndarray) -> TaughtExamples:
        return TaughtExamples(*(getattr(self, f)[keep] for f in _FIELDS))

    def joined(self, other: TaughtExamples) -> TaughtExamples:
        return TaughtExamples(
            *(np.concatenate([getattr(self, f), getattr(other, f)]) for f in _FIELDS)
        )

    def counts(self) -> dict[str, int]:
        """Clips per action, in name order."""
        return {
            name: len(np.unique(self.clips[self.labels == name]))
            for name in sorted(set(self.labels.tolist()))
        }


_FIELDS = tuple(f.name for f in fields(TaughtExamples))  # every per-row array, in order


def gate_centroids(centroids: tuple[np.ndarray, list[str]] | None):
    """The base-class centroids the gate compares with: all but those of a rejection class
    (`other`: movements that are no action): a taught action is exactly such a movement that
    the user wants named, so `other` must not take its windows."""
    if centroids is None:
        return None
    keep = [i for i, name in enumerate(centroids[1]) if name not in REJECT_CLASSES]
    if not keep:
        return None
    return centroids[0][keep], [centroids[1][i] for i in keep]


def fit_head(base, examples: TaughtExamples) -> FewShotHead:
    """The head for `examples`, gated against the base classes when the model's sidecar has
    their centroids."""
    vectors = examples.vectors()
    centroids = read_base_centroids(getattr(base, "metadata", {}), vectors.shape[1])
    return FewShotHead().fit(vectors, examples.labels, examples.clips, gate_centroids(centroids))


class TaughtClassifier:
    """A base classifier plus taught actions; the same interface as TfliteClassifier."""

    names_in_context = True  # fewshot_context.predict_in_stream: a stream's windows in context

    def __init__(self, base, examples: TaughtExamples) -> None:
        self.base, self.examples = base, examples
        self.head = fit_head(base, examples)
        self.window, self.layout = base.window, getattr(base, "layout", "body15")
        self.embedding_dim = getattr(base, "embedding_dim", None)
        self.teach_embedding_dim = teach_dim_of(base)
        self.metadata = getattr(base, "metadata", {})
        self.base_classes = list(base.class_names)
        self.class_names = self.base_classes + [
            c for c in self.head.classes if c not in self.base_classes
        ]
        self._index = np.array([self.class_names.index(c) for c in self.head.classes])

    @property
    def taught_classes(self) -> list[str]:
        return list(self.head.classes)

    @property
    def has_base_gate(self) -> bool:
        return self.head.base is not None

    def summaries(self) -> list[ActionSummary]:
        return list(self.head.summaries)

    def separability(self) -> float | None:
        """Leave-one-clip-out accuracy among the taught actions (None with only one)."""
        ex = self.examples
        return loco_separability(ex.vectors(), ex.labels, ex.clips)

    def loco_scores(self) -> dict[str, float | None]:
        """Per taught action, the share of its example windows named right when their clip is
        left out of the examples, each copy of the clip a stream named in context as live
        (fewshot_head.loco_scores; None: taught from one clip)."""
        ex = self.examples
        return loco_scores(
            ex.vectors(), ex.labels, ex.clips, self.head.base, ex.streams(), ex.times
        )

    def describe(self) -> str:
        """One line for the user: examples per action, the separability score, warnings."""
        parts = [f"{s.name} ({s.clips} clip{'s' * (s.clips != 1)})" for s in self.summaries()]
        text = "Taught actions: " + ", ".join(parts)
        score = self.separability()
        if score is not None:
            text += f"; they separate {score:.0%} leave-one-clip-out"
        looks = [f"“{s.name}” looks like {s.looks_like}" for s in self.summaries() if s.looks_like]
        if looks:
            text += (
                "; " + ", ".join(looks) + " (movements nearer that class than your other "
                "examples keep its name: record clearer or more distinct examples)"
            )
        for name in sorted(set(self.head.classes) & set(self.base_classes)):
            text += f"; “{name}” is one of the model's own actions: the examples add to it"
        if not self.has_base_gate:
            text += "; the model has no base-class centroids (re-convert it)"
        return text

    def _combine(self, base_probs, embeddings, features, contexts=None, times=None) -> np.ndarray:
        vectors = head_vectors(embeddings, pose_descriptors(features))
        gate, taught = self.head.predict(vectors, contexts, times)
        probs = np.zeros((len(base_probs), len(self.class_names)), np.float32)
        probs[:, : len(self.base_classes)] = (1.0 - gate)[:, None] * base_probs
        np.add.at(probs, (slice(None), self._index), gate[:, None] * taught)
        return probs

    def predict(self, features: np.ndarray, context=None, time=None) -> TaughtOutput:
        """One window; with its stream's `context` (a DistanceContext) and `time` (s), in the
        context of the stream's recent windows: see fewshot_context.predict_in_stream."""
        out = self.base.predict(features)
        args = ([context], [time]) if context is not None else (None, None)
        emb = teach_embedding_of(out)[None]
        probs = self._combine(out.probabilities[None], emb, features[None], *args)[0]
        return TaughtOutput(np.log(np.maximum(probs, 1e-12)), probs, out.embedding)

    def predict_batch(self, features: np.ndarray, contexts=None, times=None) -> TaughtOutput:
        """`contexts`/`times`: a DistanceContext and a time per row (None: each window alone)."""
        out = self.base.predict_batch(features)
        probs = self._combine(out.probabilities, teach_embedding_of(out), features, contexts, times)
        return TaughtOutput(np.log(np.maximum(probs, 1e-12)), probs, out.embedding)


def taught_classes(classifier) -> list[str]:
    """The taught actions of any classifier: a TaughtClassifier's, none for a base model."""
    return list(getattr(classifier, "taught_classes", []))


def taught_path(model_path: str | os.PathLike) -> Path:
    """Where the taught actions of a model live: `<name>.taught.npz` beside `<name>.tflite`."""
    return Path(model_path).with_suffix(".taught.npz")


def examples_from_clips(
    embedder, examples: dict[str, list], stride: int = 5, first_clip: int = 0
) -> TaughtExamples:
    """Embed example clips ({action: [clip paths or Clips]}); clip ids count from `first_clip`."""
    embs, descs, labels, clips, copies, times = [], [], [], [], [], []
    clip_id = first_clip
    for action, items in examples.items():
        for item in items:
            clip = item if isinstance(item, Clip) else load_clip(item)
            features, copy, when = example_streams(clip, embedder.window, stride)
            copies.append(copy)
            times.append(when)
            embs.append(teach_embedding_of(embedder.predict_batch(features)))
            descs.append(pose_descriptors(features))
            labels += [action] * len(features)
            clips += [clip_id] * len(features)
            clip_id += 1
    if not labels:
        return _empty(teach_dim_of(embedder) or 0)
    return TaughtExamples(
        np.concatenate(embs).astype(np.float32),
        np.concatenate(descs).astype(np.float32),
        np.asarray(labels, dtype=str),
        np.asarray(clips, dtype=np.int64),
        np.concatenate(copies).astype(np.int64),
        np.concatenate(times).astype(np.float32),
    )


def _empty(dim: int) -> TaughtExamples:
    return TaughtExamples(
        np.zeros((0, dim), np.float32),
        np.zeros((0, 0), np.float32),
        np.zeros(0, str),
        np.zeros(0, np.int64),
    )


def load_taught(model_path: str | os.PathLike) -> TaughtExamples | None:
    """The stored examples of a model's taught actions; None when there are none.
    ModelFileError when the file is broken, of an older format or for another model file."""
    path = taught_path(model_path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if "descriptors" not in data.files:
                raise ModelFileError(
                    f"{path}: taught with an older version of relsar (no pose descriptors); "
                    "teach those actions again"
                )
            ex = TaughtExamples(
                data["embeddings"].astype(np.float32),
                data["descriptors"].astype(np.float32),
                data["labels"].astype(str),
                data["clips"].astype(np.int64),
                data["copies"].astype(np.int64) if "copies" in data.files else None,
                data["times"].astype(np.float32) if "times" in data.files else None,
            )
            sha = str(data["model_sha256"])
    except ModelFileError:
        raise
    except Exception as exc:  # any unreadable file is the same problem for the user
        raise ModelFileError(
            f"{path}: not a readable taught-actions file ({numpy_file_problem(exc, path)})"
        ) from None
    if len({len(getattr(ex, f)) for f in _FIELDS}) != 1:
        raise ModelFileError(f"{path}: its arrays disagree in length; teach again")
    if ex.descriptors.ndim != 2 or ex.descriptors.shape[1] != DESCRIPTOR_DIM:
        raise ModelFileError(
            f"{path}: taught with another version of relsar (pose descriptors of "
            f"{ex.descriptors.shape[-1]} values, now {DESCRIPTOR_DIM}); teach those actions again"
        )
    if sha != sha256_file(model_path):
        raise ModelFileError(
            f"{path}: taught for a different version of {Path(model_path).name}; teach again"
        )
    return ex


def save_taught(model_path: str | os.PathLike, examples: TaughtExamples) -> Path:
    path = taught_path(model_path)
    sha = sha256_file(model_path)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                format=np.int64(TAUGHT_FORMAT),
                embeddings=examples.embeddings,
                descriptors=examples.descriptors,
                labels=examples.labels.astype(str),
                clips=examples.clips,
                copies=examples.copies,
                times=examples.times,
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
    if taught is None or not len(taught.labels):
        return base
    dim = teach_dim_of(base)
    path = taught_path(model_path)
    if dim is not None and taught.embeddings.shape[1] != dim:
        raise ModelFileError(
            f"{path}: embeddings have {taught.embeddings.shape[1]} values, the model makes {dim}; teach again"
        )
    if not (np.isfinite(taught.embeddings).all() and np.isfinite(taught.descriptors).all()):
        raise ModelFileError(f"{path}: embeddings contain NaN or infinite values; teach again")
    return TaughtClassifier(base, taught)


def _previous(model_path) -> TaughtExamples | None:
    try:
        return load_taught(model_path)
    except ModelFileError:
        return None  # broken, old or for another model version: those examples no longer apply


def teach(
    base,
    model_path: str | os.PathLike,
    examples: dict[str, list],
    stride: int = 5,
    embedder=None,
    save: bool = True,
) -> TaughtClassifier:
    """Add actions from example clips ({action: [clip paths or Clips]}), keeping the actions
    taught before (an action taught again gets the clips given now instead), save, return the new
    classifier around `base`. `embedder` (default: base) computes the examples' embeddings: pass
    a second instance of the model when `base` is busy in another thread (an interpreter is not
    thread-safe). `save=False`: a preview (its `describe()` and separability) that is kept only
    by `save_taught(model_path, classifier.examples)`, e.g. after the user saw the score."""
    base = getattr(base, "base", base)
    embedder = base if embedder is None else embedder
    old = _previous(model_path)
    first = int(old.clips.max()) + 1 if old is not None and len(old.clips) else 0
    new = examples_from_clips(embedder, examples, stride, first)
    if not len(new.labels):
        raise ModelFileError(f"{model_path}: no example clips to teach from")
    if old is not None:
        old = old.subset(~np.isin(old.labels, list(examples)))
    if old is not None and len(old.labels):
        new = old.joined(new)
    classifier = TaughtClassifier(base, new)
    if save:
        save_taught(model_path, new)
    return classifier


def forget_taught(model_path: str | os.PathLike, action: str | None = None) -> bool:
    """Forget one taught action (or all of them when `action` is None); True when there was
    something to forget. A file left with no actions is deleted."""
    path = taught_path(model_path)
    if not path.is_file():
        return False
    if action is not None:
        old = load_taught(model_path)
        keep = old.labels != action
        if keep.all():
            return False
        if keep.any():
            save_taught(model_path, old.subset(keep))
            return True
    try:  # nothing left to keep
        path.unlink()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot remove the taught actions ({exc.strerror})") from None
    return True
