"""Supervised training that keeps an embedding for teaching (`train.teaching.enabled`, off by
default; issue #15): cross-entropy on the base classes plus two terms that keep what a
classifier alone throws away, so few-shot heads on the embedding tell *new* actions apart.

Per batch, two views of each window are made with the config's augmentations but *without*
the left/right flip; then both views of a window are flipped together (probability
`augment.flip`), so a pair never crosses a mirror image. Loss =
  mean cross-entropy of both views (class weights, label smoothing as configured)
+ `contrastive_weight` × NT-Xent between the two views' projections (SimCLR, temperature
  `temperature`): windows stay apart from other windows, not only from other classes;
+ `laterality_weight` × mean squared error of a linear head on the embedding predicting the
  window's signed left/right terms (`laterality_targets`: right-minus-left speed and height per
  limb joint, left+right horizontal offset, and the turning direction). Every term changes
  sign under mirroring, so the head can only fit them if the embedding of a window and of its
  mirror image differ wherever the motion is one-sided (a left wave vs a right wave), while the
  classifier head still names both the same class.
The exported classifier is the same two-output model (`logits`, `embedding`); the projector and
the laterality head are training-only.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from relsar_core.config import AugmentConfig, TeachingConfig
from relsar_core.skeleton.features import NUM_JOINTS
from relsar_core.skeleton.layouts import LAYOUTS
from relsar_core.train.augment import augment

PAIRS = LAYOUTS[
    "body15"
].flip_pairs  # (right, left): shoulders, elbows, wrists, hips, knees, ankles
NOSE, NECK, MID_HIP = 0, 1, 8
LATERALITY_DIM = 3 * len(PAIRS) + 2


def flip_features(features: tf.Tensor) -> tf.Tensor:
    """Mirror image of feature windows (B, T, 60): swap left/right joints, negate x and vx."""
    joints = tf.reshape(features, [tf.shape(features)[0], tf.shape(features)[1], NUM_JOINTS, 4])
    mirrored = tf.gather(joints, LAYOUTS["body15"].flip_permutation, axis=2)
    mirrored *= tf.constant([-1.0, 1.0, -1.0, 1.0])
    return tf.reshape(mirrored, tf.shape(features))


def _cross_turn(a: tf.Tensor) -> tf.Tensor:
    """Mean signed turning of a 2-D vector over time: cross(a_t, a_t+1) / (|a_t| |a_t+1|)."""
    cross = a[:, :-1, 0] * a[:, 1:, 1] - a[:, :-1, 1] * a[:, 1:, 0]
    norm = tf.norm(a[:, :-1], axis=-1) * tf.norm(a[:, 1:], axis=-1) + 1e-4
    return tf.reduce_mean(cross / norm, axis=1)


def laterality_targets(features: tf.Tensor) -> tf.Tensor:
    """Signed left/right terms of feature windows (B, T, 60) → (B, LATERALITY_DIM); each one is
    the negative of itself on the mirror image (flip_features)."""
    joints = tf.reshape(features, [tf.shape(features)[0], tf.shape(features)[1], NUM_JOINTS, 4])
    pos, vel = joints[..., :2], joints[..., 2:]
    speed = tf.norm(vel, axis=-1)  # (B, T, J)
    out = []
    for r, left in PAIRS:
        out.append(tf.reduce_mean(speed[..., r] - speed[..., left], axis=1))
        out.append(tf.reduce_mean(pos[..., r, 1] - pos[..., left, 1], axis=1))
        out.append(tf.reduce_mean(pos[..., r, 0] + pos[..., left, 0], axis=1))
    # Turning about the vertical axis: (nose ahead of the neck, shoulder width) traces an
    # ellipse whose direction is the direction of the turn; turning in the image plane: the
    # trunk's angle (neck → mid-hip).
    r_sh, l_sh = PAIRS[0]
    ahead = pos[..., NOSE, 0] - pos[..., NECK, 0]
    width = pos[..., r_sh, 0] - pos[..., l_sh, 0]
    out.append(_cross_turn(tf.stack([ahead, width], axis=-1)))
    out.append(_cross_turn(pos[..., MID_HIP, :] - pos[..., NECK, :]))
    return tf.stack(out, axis=-1)


def nt_xent(z1: tf.Tensor, z2: tf.Tensor, temperature: float) -> tf.Tensor:
    """SimCLR's loss: each view must pick its partner among the other 2B − 1 views."""
    z = tf.math.l2_normalize(tf.concat([z1, z2], axis=0), axis=-1)
    n = tf.shape(z1)[0]
    sim = tf.matmul(z, z, transpose_b=True) / temperature
    sim -= 1e9 * tf.eye(2 * n)
    partner = tf.concat([tf.range(n, 2 * n), tf.range(n)], axis=0)
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=partner, logits=sim)
    )


@keras.saving.register_keras_serializable(package="relsar")
class TeachingTrainer(keras.Model):
    """The training view of a classifier under the teaching objective (see the module doc).
    `net` is the logits model (relsar_core.train.model.logits_model): it holds the encoder and
    the classification head, shared with the classifier that is saved as best.keras."""

    def __init__(self, net: keras.Model, augment: dict, teaching: dict, smoothing: float, **kw):
        super().__init__(**kw)
        self.net = net
        self.augment_cfg = AugmentConfig(**augment)
        self.teaching_cfg = TeachingConfig(**teaching)
        self.smoothing = float(smoothing)
        dim = net.get_layer("encoder").output_shape[-1]
        width = self.teaching_cfg.projection_dim
        self.projector = keras.Sequential(
            [keras.layers.Dense(dim, activation="relu"), keras.layers.Dense(width)],
            name="projector",
        )
        self.laterality = keras.layers.Dense(LATERALITY_DIM, name="laterality")
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "cross_entropy", "contrastive", "laterality")
        }
        self.accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")

    def build(self, input_shape):
        self.net.build(input_shape)
        dim = self.net.get_layer("encoder").output_shape[-1]
        self.projector.build((None, dim))
        self.laterality.build((None, dim))
        super().build(input_shape)

    @property
    def metrics(self):
        return [*self.trackers.values(), self.accuracy]

    def call(self, x, training=False):
        return self.net(x, training=training)

    def _cross_entropy(self, y, logits, weights=None):
        loss = keras.losses.categorical_crossentropy(
            y, logits, from_logits=True, label_smoothing=self.smoothing
        )
        if weights is not None:
            loss = loss * weights
        return tf.reduce_mean(loss)

    def train_step(self, data):
        x, y, w = keras.utils.unpack_x_y_sample_weight(data)
        plain = self.augment_cfg.model_copy(update={"flip": 0.0})
        steps = self.net.input_shape[1]  # x may hold context windows (WindowSet.sources)
        v1, v2 = augment(x, plain, steps), augment(x, plain, steps)
        flipped = (tf.random.uniform([tf.shape(x)[0]]) < self.augment_cfg.flip)[:, None, None]
        v1 = tf.where(flipped, flip_features(v1), v1)
        v2 = tf.where(flipped, flip_features(v2), v2)
        views = tf.concat([v1, v2], axis=0)
        labels = tf.concat([y, y], axis=0)
        weights = None if w is None else tf.concat([w, w], axis=0)
        encoder, head = self.net.get_layer("encoder"), self.net.get_layer("logits")
        cfg = self.teaching_cfg
        target = laterality_targets(views)
        target /= tf.stop_gradient(tf.math.reduce_std(target, axis=0) + 1e-3)
        with tf.GradientTape() as tape:
            emb = encoder(views, training=True)
            logits = head(emb)
            ce = self._cross_entropy(labels, logits, weights)
            z = self.projector(emb, training=True)
            half = tf.shape(x)[0]
            con = nt_xent(z[:half], z[half:], cfg.temperature)
            lat = tf.reduce_mean(tf.square(self.laterality(emb) - target))
            loss = ce + cfg.contrastive_weight * con + cfg.laterality_weight * lat
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        for name, value in (("loss", loss), ("cross_entropy", ce), ("contrastive", con)):
            self.trackers[name].update_state(value)
        self.trackers["laterality"].update_state(lat)
        self.accuracy.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        logits = self.net(x, training=False)
        self.trackers["loss"].update_state(self._cross_entropy(y, logits))
        self.accuracy.update_state(y, logits)
        return {"loss": self.trackers["loss"].result(), "accuracy": self.accuracy.result()}

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "net": keras.saving.serialize_keras_object(self.net),
            "augment": self.augment_cfg.model_dump(),
            "teaching": self.teaching_cfg.model_dump(),
            "smoothing": self.smoothing,
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["net"] = keras.saving.deserialize_keras_object(config["net"])
        return cls(**config)


def training_model(logits: keras.Model, augment_cfg: AugmentConfig, train_cfg) -> keras.Model:
    """What fit_classifier compiles and fits: the logits model itself, or the TeachingTrainer
    around it when `train_cfg.teaching.enabled`."""
    teaching = train_cfg.teaching
    if not teaching.enabled:
        return logits
    model = TeachingTrainer(
        logits, augment_cfg.model_dump(), teaching.model_dump(), train_cfg.label_smoothing
    )
    model.build((None, *logits.input_shape[1:]))
    return model


def logits_of(model: keras.Model) -> keras.Model:
    """The logits model inside a training model (itself unless it is a TeachingTrainer)."""
    return model.net if isinstance(model, TeachingTrainer) else model
