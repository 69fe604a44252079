"""Scale-out with tf.distribute: one flag picks the strategy every training mode runs under.

- `default`: one device (the first GPU if any, else the CPU).
- `mirrored`: synchronous data parallelism over all local GPUs (or several logical CPUs in tests).
- `multiworker`: MultiWorkerMirroredStrategy over several machines, configured from `TF_CONFIG`.

The dataset is batched with the *global* batch; `experimental_distribute_dataset` splits every
batch evenly over the replicas, losses are summed per replica and divided by the global batch,
and the gradient all-reduce sums them, so N replicas compute the same update as one device.
BatchNorm uses cross-replica (synchronized) statistics so the result does not depend on N.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from relsar_core.config import STRATEGIES
from relsar_core.errors import ConfigError


def _check_tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ConfigError("strategy multiworker: TF_CONFIG is not set (see docs/DISTRIBUTED.md)")
    try:
        tf_config = json.loads(raw)
        workers = tf_config["cluster"]["worker"]
        task = tf_config["task"]
        index = int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"TF_CONFIG: not a valid cluster spec ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(workers, list) or not workers or not 0 <= index < len(workers):
        raise ConfigError(f"TF_CONFIG: task index {index} is not among {len(workers)} workers")
    return tf_config


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy named by a `--strategy` flag (must be created before any other TF work)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        # Without GPUs, mirror over the logical CPUs (one unless configured, as the tests do).
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        _check_tf_config()
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    raise ConfigError(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")


def replica_batch(global_batch: int, strategy: tf.distribute.Strategy) -> int:
    """Per-replica batch; the global batch must split evenly so every replica does equal work."""
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ConfigError(
            f"batch size {global_batch} does not split evenly over {replicas} replicas; "
            f"use a multiple of {replicas}"
        )
    return global_batch // replicas


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder (only one worker of a cluster does)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )


def worker_dir(run_dir: Path, strategy: tf.distribute.Strategy) -> Path:
    """Where this worker saves checkpoints: the run folder for the chief; a scratch folder for the
    others (every worker must take part in a save, but only the chief's copy is kept)."""
    if is_chief(strategy):
        return run_dir
    task_id = strategy.cluster_resolver.task_id
    return Path(tempfile.mkdtemp(prefix=f"relsar_worker{task_id}_"))


def synchronize_batchnorm(model: keras.Model, on: bool = True) -> None:
    """Make every BatchNormalization in `model` use global (cross-replica) batch statistics.
    Read at call time, so it can be switched off again before saving."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = on
