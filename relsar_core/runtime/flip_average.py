"""Left/right flip test-time averaging: classify a window and its mirror image and average the
two logits. None of the default model's classes depends on handedness (left- and right-handed
performances and mirrored performers are labelled alike, and training flips windows at random),
so the mirror image is a second, equally valid view of the same action; averaging the two
removes the part of the model's answer that depends on which side did it.

Only the class scores are averaged. The embedding returned is the window's own (unflipped)
one: teaching (relsar_core.runtime.fewshot) and the open-set gate's class centres were fitted
on unflipped embeddings, and a taught action may depend on the side (raise the LEFT hand). The
mirror image's embedding comes back beside it for the open-set gate only, which then asks
whether EITHER view is near its class's training windows (relsar_core.runtime.rejection; chosen
on validation, MODEL_CARD.md).

The sidecar's `flip_average` (true/false) switches it on for a model; `relsar-gate
--flip-average` writes it (the gate's threshold must be tuned on the scores the model will
give). TfliteClassifier applies it in predict and predict_batch, so the app, headless and
people mode, relsar-eval, relsar-gate and tools/val_breakdown.py all score the same thing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from relsar_core.skeleton.features import flip_features

SIDECAR_KEY = "flip_average"

BatchRun = Callable[[np.ndarray], tuple[np.ndarray, ...]]


def read_flip_average(metadata: dict) -> bool:
    """Whether a model's sidecar asks for flip averaging (absent: no, as before)."""
    value = metadata.get(SIDECAR_KEY, False) if isinstance(metadata, dict) else False
    return value is True


def flip_averaged(run_batch: BatchRun, features: np.ndarray) -> tuple[np.ndarray, ...]:
    """(N, T, 60) windows → (mean of the logits of each window and of its mirror image (N, K),
    the windows' own embeddings (N, E), their mirror images' embeddings (N, E), for the gate,
    then the windows' own values of any further output, e.g. teach_embedding).
    `run_batch` maps (M, T, 60) → (logits, embedding, ...); both views go through it as one
    batch of 2N (one interpreter call where the model's batch can be resized)."""
    x = np.asarray(features, dtype=np.float32)
    n = len(x)
    logits, embedding, *more = run_batch(np.concatenate([x, flip_features(x)]))
    mean = (0.5 * (logits[:n].astype(np.float64) + logits[n:])).astype(np.float32)
    own = (np.ascontiguousarray(v[:n]) for v in more)
    return mean, np.ascontiguousarray(embedding[:n]), np.ascontiguousarray(embedding[n:]), *own
