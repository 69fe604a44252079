"""TensorFlow process set-up: a quiet start, seeds, thread pools and a compiled forward pass.

The training CLIs and the benches reach TensorFlow through these functions (and the rest of
relsar_core.train), never by importing it themselves; import-linter holds them to that."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def quiet_tensorflow(load: bool = True) -> None:
    """Keep TensorFlow's start-up chatter (CUDA probing, oneDNN notices) off the terminal.

    TF 2.21 logs some lines before its log level applies, so with `load` the import and the
    device probe run with stderr pointed at /dev/null; later warnings and errors are shown as usual."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not load or "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the CUDA probe logs here, once
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def seed_everything(seed: int) -> None:
    """Python, NumPy and TensorFlow random state in one call (Keras' own helper)."""
    import keras

    keras.utils.set_random_seed(seed)


def set_intra_op_threads(threads: int) -> None:
    """TensorFlow's per-op thread pool; only before the first op runs."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)


def thread_pools() -> dict[str, int]:
    """TensorFlow's intra-op and inter-op pool sizes (0 = TensorFlow picks)."""
    import tensorflow as tf

    return {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def compiled_forward(model) -> Callable:
    """model(x, training=False) as one tf.function graph (traced once per input shape)."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)
