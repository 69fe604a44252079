"""The mirrored strategy on CPU (two logical devices) computes the same BYOL training as one
device: same losses step by step, same online and target weights afterwards."""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    # TF devices are fixed once per process: hence this test runs in its own subprocess.
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from relsar_core.train.byol import BYOL
    from relsar_core.config import AugmentConfig, BYOLConfig, ModelConfig
    from relsar_core.train.distribute import make_strategy, replica_batch

    model = ModelConfig(size="tiny", dropout=0.0)  # no dropout: the runs must be deterministic
    no_aug = AugmentConfig(flip=0, rotation=0, scale=0, shear=0, noise=0, speed=0, crop=0)
    # SGD, not Adam: Adam turns float round-off in near-zero gradients into whole steps.
    cfg = BYOLConfig(projector=(64, 32), predictor=(64, 32), epochs=1, batch_size=16,
                     optimizer="sgd", learning_rate=0.05, warmup_epochs=0, jit_compile=False,
                     precision="float32")  # the strategy, not the arithmetic, is under test
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(16, 30, 60)).astype("float32") for _ in range(3)]

    def run(strategy, init=None):
        keras.utils.set_random_seed(0)
        byol = BYOL(model, cfg, no_aug, 30, steps_per_epoch=3, strategy=strategy)
        if init is not None:
            for net, weights in zip(byol.networks(), init):
                net.set_weights(weights)
        start = [net.get_weights() for net in byol.networks()]
        ds = tf.data.Dataset.from_tensor_slices(np.concatenate(batches)).batch(16)
        if strategy.num_replicas_in_sync > 1:
            ds = strategy.experimental_distribute_dataset(ds)
        losses = [float(byol.train_step(b)[0]) for b in ds]
        return byol, start, losses

    mirrored = make_strategy("mirrored")
    single, start, single_losses = run(tf.distribute.get_strategy())
    multi, _, multi_losses = run(mirrored, init=start)
    target = multi.target_encoder.trainable_weights[0].value
    replicas = [np.asarray(v) for v in target.values]
    out = {
        "replicas": mirrored.num_replicas_in_sync,
        "per_replica_batch": replica_batch(16, mirrored),
        "single": single_losses,
        "mirrored": multi_losses,
        "online_diff": max(float(np.abs(a - b).max()) for a, b in
                           zip(single.encoder.get_weights(), multi.encoder.get_weights())),
        "target_diff": max(float(np.abs(a - b).max()) for a, b in
                           zip(single.target_encoder.get_weights(), multi.target_encoder.get_weights())),
        "replica_target_diff": float(np.abs(replicas[0] - replicas[1]).max()),
    }
    print("RESULT " + json.dumps(out))
    print(out)
    """
)


def test_mirrored_two_cpu_replicas_match_one_device():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["replicas"] == 2 and out["per_replica_batch"] == 8
    # The loss drops over the steps, so the updates themselves are compared too.
    assert out["single"][0] != out["single"][-1]
    for a, b in zip(out["single"], out["mirrored"], strict=True):
        assert abs(a - b) <= 1e-4 * max(1.0, abs(a)), (out["single"], out["mirrored"])
    assert out["online_diff"] < 1e-4
    assert out["target_diff"] < 1e-4
    assert (
        out["replica_target_diff"] == 0.0
    )  # the EMA in replica context keeps the copies identical
