"""The windows a taught example clip gives (relsar_core.runtime.fewshot): resampled to the
model's frame rate, at a few speeds and widths, each copy a stream of windows in time order
so leave-one-clip-out can name them in context as the live head does (fewshot_head)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from relsar_core.runtime.teach_output import teach_embedding_of
from relsar_core.skeleton.clip import Clip
from relsar_core.skeleton.features import MODEL_FPS, clip_features

# Playback speeds of every example clip taught besides its own (relsar-bench teach, docs/teach.md:
# k = 5 accuracy 0.835 -> 0.854 on unseen actions; retention 0.982 -> 0.968).
TEACH_SPEEDS = (0.8, 1.25)
# Widths (x about the body's centre) every example clip is also taught at, each at every speed:
# a camera further to the side sees a narrower body. 0.8: docs/teach.md, "Camera-angle copies".
TEACH_WIDTHS = (0.8,)


def example_streams(
    clip: Clip, window: int, stride: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(windows, copies, times): the windows a taught example gives (see example_windows),
    which copy of the clip (speed × width) each row comes from, and its time in seconds in
    that copy as the live path would see it (windows `stride` frames apart at the model's
    rate, whatever the copy's speed)."""
    parts = []
    for shape in (clip, *(squashed(clip, w) for w in TEACH_WIDTHS)):
        parts.append(clip_windows(shape, window, stride))
        parts += [
            clip_windows(replace(shape, fps=shape.fps * s), window, stride) for s in TEACH_SPEEDS
        ]
    when = np.concatenate([np.arange(len(p)) / max(len(p), 1) for p in parts])
    copies = np.concatenate([np.full(len(p), i, np.int64) for i, p in enumerate(parts)])
    times = np.concatenate([np.arange(len(p)) * stride / MODEL_FPS for p in parts])
    order = np.argsort(when, kind="stable")
    return np.concatenate(parts)[order], copies[order], times[order].astype(np.float32)


def example_windows(clip: Clip, window: int, stride: int = 5) -> np.ndarray:
    """The windows a taught example gives: those of the clip at its own speed and at each of
    TEACH_SPEEDS (a person repeats an action faster or slower than when they taught it), as it
    is and squashed to each of TEACH_WIDTHS (seen from another angle), ordered by their time in
    the clip, so the two halves of the rows are the clip's first and second half (what
    leave-one-clip-out uses for a single clip)."""
    return example_streams(clip, window, stride)[0]


def squashed(clip: Clip, width: float) -> Clip:
    """The clip with every confident joint's x scaled by `width` about the mean x of the
    confident joints (a body seen more from the side); missing joints stay as they are."""
    kp = np.array(clip.keypoints, dtype=np.float32, copy=True)
    seen = kp[..., 2] > 0
    if seen.any():
        centre = float(kp[..., 0][seen].mean())
        kp[..., 0] = np.where(seen, centre + width * (kp[..., 0] - centre), kp[..., 0])
    return replace(clip, keypoints=kp)


def clip_windows(clip: Clip, window: int, stride: int = 5) -> np.ndarray:
    """Model inputs (N, window, 60) of a clip resampled to the model's frame rate; a clip
    shorter than the window is padded at the start with its first frame (as if the person had
    stood still before it)."""
    kp = clip.body15_at_model_rate()
    if len(kp) < window:
        kp = np.concatenate([np.repeat(kp[:1], window - len(kp), axis=0), kp])
    return clip_features(kp, window, stride)


def clip_embeddings(classifier, clip: Clip, stride: int = 5) -> np.ndarray:
    """The few-shot head's embeddings (N, E) of all windows of a clip (see clip_windows and
    teach_output.teach_embedding_of)."""
    return teach_embedding_of(
        classifier.predict_batch(clip_windows(clip, classifier.window, stride))
    )
