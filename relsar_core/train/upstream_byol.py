"""The upstream ReL-SAR BYOL training loop, re-implemented to behave the same way: the baseline
that `relsar-bench train` measures our BYOL step against. Not for training (use relsar_core.train.byol).

Behaviour reproduced from the upstream pre-training script:
- an eager Python loop over numpy mini-batches (shuffled indices, full batches only);
- each view made in numpy: Gaussian noise σ 0.05 (float64), then with probability ½ the whole
  batch reversed along axis 1 (its "flip", which reverses time);
- one persistent GradientTape around the online network on view 1 and the target network on
  view 2, both in training mode; loss 2 − 2·mean cos of the two projections (one direction,
  no predictor); gradients for the online network only; SGD with cosine decay;
- the loss fetched to the host every step; the target moved by an EMA (momentum 0.99) of all
  weights once per epoch;
- projector Dense 256 → ReLU → Dense 128 → ReLU → Dense 64 on the encoder's embedding.

The upstream script passes one network as both online and target; as the paper describes (and as
its once-per-epoch EMA assumes) this keeps a separate target copy. The encoder is this project's
`build_encoder`, the same architecture as the upstream model, so both loops train the same model.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from relsar_core.config import ModelConfig
from relsar_core.train.model import build_encoder

PROJECTOR = (256, 128, 64)


def _with_projector(encoder: keras.Model) -> keras.Model:
    x = encoder.output
    for width in PROJECTOR[:-1]:
        x = keras.layers.Activation("relu")(keras.layers.Dense(width)(x))
    return keras.Model(
        encoder.input, keras.layers.Dense(PROJECTOR[-1])(x), name=f"{encoder.name}_byol"
    )


class UpstreamBYOL:
    """The upstream networks and loop; `train_step(batch)` is one iteration of its inner loop."""

    def __init__(
        self,
        model_cfg: ModelConfig,
        window: int = 30,
        learning_rate: float = 0.01,
        decay_steps: int = 1000,
        noise: float = 0.05,
        momentum: float = 0.99,
    ):
        self.online = _with_projector(build_encoder(model_cfg, window, name="online_encoder"))
        self.target = _with_projector(build_encoder(model_cfg, window, name="target_encoder"))
        self.target.set_weights(self.online.get_weights())
        self.optimizer = keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
        )
        self.noise, self.momentum = noise, momentum

    def make_view(self, batch: np.ndarray) -> np.ndarray:
        view = batch + np.random.normal(0.0, self.noise, size=batch.shape)
        return np.flip(view, axis=1) if np.random.choice([True, False]) else view

    @staticmethod
    def loss(p: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        cosine = tf.reduce_sum(
            tf.math.l2_normalize(p, axis=1) * tf.math.l2_normalize(z, axis=1), axis=1
        )
        return 2 - 2 * tf.reduce_mean(cosine)

    def train_step(self, batch: np.ndarray) -> float:
        view_1, view_2 = self.make_view(batch), self.make_view(batch)
        with tf.GradientTape(persistent=True) as tape:
            loss = self.loss(self.online(view_1, training=True), self.target(view_2, training=True))
        variables = self.online.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return float(loss.numpy())

    def update_target(self) -> None:
        for online, target in zip(self.online.weights, self.target.weights, strict=True):
            target.assign(self.momentum * target + (1.0 - self.momentum) * online)

    def train(self, windows: np.ndarray, batch_size: int = 64, epochs: int = 100) -> list[float]:
        """The whole upstream loop → mean loss per epoch."""
        losses = []
        for _ in range(epochs):
            order = np.random.permutation(len(windows))
            steps = [
                self.train_step(windows[order[i : i + batch_size]])
                for i in range(0, len(windows) - batch_size + 1, batch_size)
            ]
            losses.append(float(np.mean(steps)))
            self.update_target()
        return losses
