"""The mirror-leak check: how close any test window comes to a training window or its mirror image.

Features are centred and scaled, so a left/right flip in feature space is: swap the left and right
joints and negate the x channels (x, vx): `relsar_core.skeleton.features.flip_features`, the same
function that flip test-time averaging uses. A distance of 0 would mean the test shows the model a
window it was trained on (as the old split did: test azimuth 30° was the mirror of training's 330°).
"""

from __future__ import annotations

import numpy as np

from relsar_core.skeleton.features import flip_features


def nearest_distances(test: np.ndarray, train: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """RMS distance per feature value from each test window (N, T, 60) to the nearest of the
    training windows (M, T, 60) and their mirror images → (N,). Chunked over the training side."""
    q = test.reshape(len(test), -1).astype(np.float32)
    q_sq = (q**2).sum(axis=1)
    best = np.full(len(q), np.inf, np.float32)
    for i in range(0, len(train), chunk):
        part = train[i : i + chunk]
        for ref in (part, flip_features(part)):
            r = ref.reshape(len(ref), -1).astype(np.float32)
            d2 = q_sq[:, None] + (r**2).sum(axis=1)[None] - 2.0 * q @ r.T
            best = np.minimum(best, d2.min(axis=1))
    return np.sqrt(np.maximum(best, 0.0) / q.shape[1])
