"""BYOL (Grill et al., 2020) for the ReL-SAR encoder: the networks and the compiled train step.

online = encoder → projector → predictor; target = encoder → projector whose weights are an
exponential moving average of the online ones, updated every step with τ rising from `tau_base`
to 1 on a cosine schedule. Two augmented views of each window; the loss is the symmetric
normalized MSE  L = Σ_views (2 − 2·cos(p_online(view a), sg(z_target(view b)))), averaged over
the batch. Gradients reach the online network only (the target is computed outside the tape and
behind tf.stop_gradient).

Speed: both views are augmented in one call on a doubled batch, pass the online network as one
batch and the target network as one batch; the encoders run as relsar_core.train.step_forward
builds them (fused 2-D attention products, the last transformer layer for the CLS token only;
same outputs, less work); with `precision: auto` the matrix
products run in bfloat16 where the hardware has it (element-wise work stays float32); the whole
step (augment, forward, backward, optimizer, EMA) is one tf.function. The training loop around
it lives in relsar_core.train.pretrain.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from relsar_core.config import AugmentConfig, BYOLConfig, ModelConfig, TrainConfig
from relsar_core.train.augment import augment
from relsar_core.train.distribute import synchronize_batchnorm
from relsar_core.train.model import build_encoder
from relsar_core.train.step_forward import step_forward_encoder


def mlp(input_dim: int, sizes: tuple[int, ...], batchnorm: bool, name: str) -> keras.Model:
    """Dense → [BatchNorm] → ReLU for each hidden width, then a linear output layer."""
    inputs = keras.Input((input_dim,))
    x = inputs
    for i, width in enumerate(sizes[:-1]):
        x = keras.layers.Dense(width, use_bias=not batchnorm, name=f"{name}_dense{i}")(x)
        if batchnorm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    outputs = keras.layers.Dense(sizes[-1], name=f"{name}_out")(x)
    return keras.Model(inputs, outputs, name=name)


def resolve_precision(precision: str) -> str:
    """`auto` → mixed_bfloat16 on a GPU or a CPU with native bfloat16 arithmetic, else float32
    (emulated bfloat16 would be slower than float32)."""
    if precision != "auto":
        return precision
    if tf.config.list_logical_devices("GPU"):
        return "mixed_bfloat16"
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next(
                (line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), []
            )
    except OSError:
        flags = []
    return "mixed_bfloat16" if {"avx512_bf16", "amx_bf16"} & set(flags) else "float32"


def tau_schedule(step, total_steps: int, tau_base: float, schedule: str):
    """τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2 (cosine) or τ_base (constant)."""
    if schedule == "constant":
        return tf.constant(tau_base, tf.float32)
    progress = tf.minimum(tf.cast(step, tf.float32) / float(max(total_steps, 1)), 1.0)
    return 1.0 - (1.0 - tau_base) * (tf.cos(math.pi * progress) + 1.0) / 2.0


def byol_optimizer(cfg: BYOLConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The supervised optimizer factory (warm-up + cosine) fed with the BYOL section's values."""
    from relsar_core.train.supervised import make_optimizer

    train = TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        optimizer=cfg.optimizer,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_epochs=cfg.warmup_epochs,
    )
    return make_optimizer(train, steps_per_epoch)


class BYOL:
    """The online and target networks, optimizer and compiled step, built in `strategy`'s scope."""

    def __init__(
        self,
        model_cfg: ModelConfig,
        cfg: BYOLConfig,
        augment_cfg: AugmentConfig,
        window: int,
        steps_per_epoch: int,
        strategy: tf.distribute.Strategy | None = None,
    ):
        self.cfg, self.augment_cfg = cfg, augment_cfg
        self.model_cfg, self.window = model_cfg, window
        self.strategy = strategy or tf.distribute.get_strategy()
        self.total_steps = steps_per_epoch * cfg.epochs
        self.precision = resolve_precision(cfg.precision)
        self._build(model_cfg, cfg, window, steps_per_epoch)
        if self.strategy.num_replicas_in_sync > 1:
            for net in self.networks():
                synchronize_batchnorm(net)
        self._step = self._compile_step()
        self._epoch_ema = tf.function(
            lambda: self.update_target(self.tau(self.optimizer.iterations))
        )

    def _build(
        self, model_cfg: ModelConfig, cfg: BYOLConfig, window: int, steps_per_epoch: int
    ) -> None:
        with self.strategy.scope():
            self.encoder = build_encoder(model_cfg, window, matmul_policy=self.precision)
            # The target gives regression targets: no dropout noise on them (BN still in batch mode).
            target_model_cfg = model_cfg.model_copy(update={"dropout": 0.0})
            self.target_encoder = build_encoder(
                target_model_cfg, window, name="target_encoder", matmul_policy=self.precision
            )
            # What the step runs: the same encoders, fused attention, a CLS-only last layer.
            self._online_forward = step_forward_encoder(self.encoder)
            self._target_forward = step_forward_encoder(self.target_encoder)
            dim = self.encoder.output_shape[-1]
            self.projector = mlp(dim, cfg.projector, cfg.mlp_batchnorm, "projector")
            self.target_projector = mlp(dim, cfg.projector, cfg.mlp_batchnorm, "target_projector")
            self.predictor = (
                mlp(cfg.projector[-1], cfg.predictor, cfg.mlp_batchnorm, "predictor")
                if cfg.predictor
                else None
            )
            self.online_variables = (
                self.encoder.trainable_weights
                + self.projector.trainable_weights
                + (self.predictor.trainable_weights if self.predictor else [])
            )
            self.target_pairs = list(
                zip(
                    self.target_encoder.trainable_weights + self.target_projector.trainable_weights,
                    self.encoder.trainable_weights + self.projector.trainable_weights,
                    strict=True,
                )
            )
            for target, online in self.target_pairs:
                target.assign(online)
            self.optimizer = byol_optimizer(cfg, steps_per_epoch)
            self.optimizer.build(self.online_variables)

    def export_encoder(self, windows=None) -> keras.Model:
        """A plain float32 copy of the online encoder (local BatchNorm): what gets saved. With
        `windows` (N, S, 60 source windows) its BatchNorm moving statistics are re-estimated
        with the final weights, as `byol.bn_statistics` says: on fresh BYOL views of them
        (`views`: the inputs the network was trained on, without the running averages' lag
        behind the weights) or on their clean centre frames (`clean`); `step` keeps the step's
        running averages. Clean statistics shrink the variance the later layers were trained
        to expect (the views' masking and noise are part of it) and hurt the probes."""
        encoder = build_encoder(self.model_cfg, self.window)
        encoder.set_weights(self.encoder.get_weights())
        mode = self.cfg.bn_statistics
        if windows is None or not len(windows) or mode == "step":
            return encoder
        if mode == "views":
            inputs = np.concatenate(
                [
                    np.concatenate(
                        [v.numpy() for v in self.views(tf.constant(windows[i : i + 256]))]
                    )
                    for i in range(0, len(windows), 256)
                ]
            )
        else:
            inputs = centre_windows(windows, self.window)
        # A dropout-free twin: dropout noise would bias the statistics of later layers.
        twin = build_encoder(self.model_cfg.model_copy(update={"dropout": 0.0}), self.window)
        twin.set_weights(encoder.get_weights())
        recalibrate_batchnorm(twin, inputs)
        encoder.set_weights(twin.get_weights())
        return encoder

    def networks(self) -> list[keras.Model]:
        nets = [self.encoder, self.projector, self.target_encoder, self.target_projector]
        return nets + ([self.predictor] if self.predictor else [])

    def tau(self, step) -> tf.Tensor:
        return tau_schedule(step, self.total_steps, self.cfg.tau_base, self.cfg.tau_schedule)

    def update_target(self, tau) -> None:
        """target ← τ·target + (1 − τ)·online. Runs in the replica context of the step: the online
        weights are mirrored (identical on every replica), so every replica's copy of the target
        receives the same value and no communication is needed."""
        for target, online in self.target_pairs:
            target.assign(tau * target + (1.0 - tau) * online)

    # --- the loss, split so the target part never enters the gradient tape -----------------

    def target_projections(self, views: tf.Tensor) -> tf.Tensor:
        z = self.target_projector(self._target_forward(views, training=True), training=True)
        return tf.stop_gradient(tf.math.l2_normalize(tf.cast(z, tf.float32), axis=-1))

    def online_loss(
        self, views: tf.Tensor, targets: tf.Tensor, global_batch
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(this replica's share of the loss, online embeddings). `targets` row i is the target
        projection of the other view of the window in `views` row i."""
        embedding = self._online_forward(views, training=True)
        p = self.projector(embedding, training=True)
        if self.predictor is not None:
            p = self.predictor(p, training=True)
        # The loss in float32 even when the networks compute in a mixed-precision policy.
        cosine = tf.reduce_sum(
            tf.math.l2_normalize(tf.cast(p, tf.float32), axis=-1) * targets, axis=-1
        )
        # Σ over this replica's pairs ÷ the global batch: the all-reduce sum gives the global mean.
        return tf.reduce_sum(2.0 - 2.0 * cosine) / tf.cast(global_batch, tf.float32), embedding

    def pair_views(self, v1: tf.Tensor, v2: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(online inputs, target inputs): both directions of the symmetric loss as one batch each."""
        if self.cfg.symmetric:
            return tf.concat([v1, v2], 0), tf.concat([v2, v1], 0)
        return v1, v2

    def loss_on_views(self, v1: tf.Tensor, v2: tf.Tensor) -> tf.Tensor:
        """The BYOL loss of one batch of view pairs (for tests and evaluation; no update)."""
        online_in, target_in = self.pair_views(v1, v2)
        loss, _ = self.online_loss(online_in, self.target_projections(target_in), tf.shape(v1)[0])
        return loss

    # --- the train step -------------------------------------------------------------------

    def views(self, windows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Two independent augmentations of each window, made by one augment call."""
        batch = tf.shape(windows)[0]
        # Source windows may be longer than the model's: speed-ups then play real extra frames.
        both = augment(tf.concat([windows, windows], 0), self.augment_cfg, out_steps=self.window)
        return both[:batch], both[batch:]

    def replica_step(self, windows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One optimisation step on this replica's windows → (loss share, embedding std × √E)."""
        v1, v2 = self.views(windows)
        online_in, target_in = self.pair_views(v1, v2)
        global_batch = tf.shape(windows)[0] * self.strategy.num_replicas_in_sync
        targets = self.target_projections(target_in)
        step = tf.identity(self.optimizer.iterations)
        with tf.GradientTape() as tape:
            loss, embedding = self.online_loss(online_in, targets, global_batch)
        grads = tape.gradient(loss, self.online_variables)
        self.optimizer.apply_gradients(zip(grads, self.online_variables, strict=True))
        if self.cfg.ema_every == "step":
            self.update_target(self.tau(step))
        return loss, embedding_spread(embedding)

    def _compile_step(self):
        strategy = self.strategy
        if strategy.num_replicas_in_sync == 1 and not _in_multi_worker(strategy):
            # XLA fuses the many small element-wise ops of a small transformer: ~1.5× on CPU.
            return tf.function(
                self.replica_step, jit_compile=self.cfg.jit_compile, reduce_retracing=True
            )

        def distributed_step(windows):
            loss, spread = strategy.run(self.replica_step, args=(windows,))
            return (
                strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.MEAN, spread, axis=None),
            )

        return tf.function(distributed_step, reduce_retracing=True)

    def train_step(self, windows) -> tuple[tf.Tensor, tf.Tensor]:
        """Run one step on a (distributed) batch → (global loss, embedding std × √E)."""
        return self._step(windows)

    def end_of_epoch(self) -> None:
        """The upstream recipe's once-per-epoch target update (`ema_every: epoch`)."""
        if self.cfg.ema_every == "epoch":
            self._epoch_ema()


def centre_windows(windows: np.ndarray, window: int) -> np.ndarray:
    """The middle `window` frames of longer source windows as clean model inputs: positions
    kept, velocities recomputed so the first frame's is 0 (as window_features makes it)."""
    start = (windows.shape[1] - window) // 2
    joints = windows[:, start : start + window].reshape(len(windows), window, -1, 4).copy()
    joints[:, 1:, :, 2:] = joints[:, 1:, :, :2] - joints[:, :-1, :, :2]
    joints[:, 0, :, 2:] = 0.0
    return joints.reshape(len(windows), window, -1)


def recalibrate_batchnorm(model: keras.Model, windows, batch_size: int = 256) -> None:
    """Replace every BatchNorm layer's moving mean and variance by their average over `windows`
    (equal batches, a cumulative mean: momentum k/(k+1) at batch k), passed in training mode
    so each layer sees the statistics of its real inputs. Weights other than those stay."""
    layers = [
        lr
        for lr in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(lr, keras.layers.BatchNormalization)
    ]
    if not layers:
        return
    momenta = [lr.momentum for lr in layers]
    batch_size = min(batch_size, len(windows))
    try:
        for k, begin in enumerate(range(0, len(windows) - batch_size + 1, batch_size)):
            for lr in layers:
                lr.momentum = k / (k + 1)  # read at call time (eager calls)
            model(tf.constant(windows[begin : begin + batch_size]), training=True)
    finally:
        for lr, momentum in zip(layers, momenta, strict=True):
            lr.momentum = momentum


def embedding_spread(embedding: tf.Tensor) -> tf.Tensor:
    """Collapse monitor: the std over the batch of the L2-normalized embeddings, averaged over
    dimensions and scaled by √E, so ≈ 1 for well-spread embeddings and → 0 when they collapse."""
    normalized = tf.math.l2_normalize(tf.cast(embedding, tf.float32), axis=-1)
    dim = tf.cast(tf.shape(embedding)[-1], tf.float32)
    return tf.reduce_mean(tf.math.reduce_std(normalized, axis=0)) * tf.sqrt(dim)


def _in_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return bool(getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)())
