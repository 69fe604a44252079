"""tf.data pipelines over windows: cached, shuffled, batched, augmented on-graph, prefetched."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from relsar_core.config import AugmentConfig
from relsar_core.train.augment import augment


def labelled_dataset(
    windows: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    batch_size: int,
    training: bool,
    augment_cfg: AugmentConfig | None = None,
    sample_weights: np.ndarray | None = None,
    seed: int = 0,
    out_steps: int | None = None,
) -> tf.data.Dataset:
    """(windows, one-hot labels[, per-window weights]) batches; shuffled and augmented when training.
    Training windows may be context windows (WindowSet.training_windows): the augmentation then
    cuts `out_steps`-frame views from them."""
    tensors = (windows.astype(np.float32), tf.one_hot(labels, num_classes))
    if sample_weights is not None:
        tensors += (sample_weights.astype(np.float32),)
    ds = tf.data.Dataset.from_tensor_slices(tensors).cache()
    if training:
        ds = ds.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=False)
    if training and augment_cfg is not None:
        ds = ds.map(
            lambda x, *rest: (augment(x, augment_cfg, out_steps), *rest),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def unlabelled_dataset(
    windows: np.ndarray, batch_size: int, seed: int = 0, repeat: bool = False
) -> tf.data.Dataset:
    """Shuffled full batches of windows for self-supervised training (augmented by the caller);
    `repeat`: endless, for step-by-step use (the benches) instead of one pass per epoch."""
    ds = tf.data.Dataset.from_tensor_slices(windows.astype(np.float32)).cache()
    ds = ds.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
