"""The ReL-SAR encoder (Keras 3): a Conv1D stem, a post-LN transformer over time with a CLS
token, and a linear embedding; plus a classification head.

    (T, 60) → 2 × [Conv1D(k=1, selu) → BatchNorm → selu → MaxPool1D(2, stride 1)] → Dense(d)
            → [CLS] + position embedding → N × post-LN transformer → CLS → Dense(E) = embedding
    embedding → Dense(K) = logits

`base` with 10 classes has 2,814,666 parameters (BatchNorm statistics included).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf  # Keras' backend here; ByteDropout uses TF's raw random bits
from keras import layers, ops

from relsar_core.config import PROBE_FEATURES, ModelConfig
from relsar_core.errors import ConfigError, first_line
from relsar_core.files import atomic_write
from relsar_core.skeleton.features import FEATURE_DIM


@dataclass(frozen=True)
class ModelSize:
    conv_filters: int
    d_model: int
    num_heads: int
    num_layers: int
    d_ff: int
    dropout: float
    embedding_dim: int


PRESETS = {
    "base": ModelSize(192, 192, 3, 6, 768, 0.3, 256),
    "small": ModelSize(128, 128, 2, 4, 512, 0.2, 256),
    "micro": ModelSize(64, 64, 1, 4, 256, 0.1, 256),
    "tiny": ModelSize(32, 32, 1, 2, 64, 0.1, 64),
}


def resolve_size(config: ModelConfig) -> ModelSize:
    """The preset of `config.size` with the config's own fields over it; ConfigError when the
    result cannot be built (attention splits d_model evenly over the heads)."""
    overrides = {k: v for k, v in config.model_dump().items() if k != "size" and v is not None}
    size = ModelSize(**{**PRESETS[config.size].__dict__, **overrides})
    if size.d_model % size.num_heads:
        raise ConfigError(
            f"model: d_model {size.d_model} is not divisible by num_heads {size.num_heads} "
            f"(size {config.size!r} and the config's overrides)"
        )
    return size


@keras.saving.register_keras_serializable(package="relsar")
class ClassTokenAndPosition(layers.Layer):
    """Prepends a learned CLS token and adds a learned position embedding over T + 1 steps."""

    def build(self, input_shape):
        steps, dim = input_shape[1], input_shape[2]
        self.cls_token = self.add_weight(shape=(1, 1, dim), initializer="zeros", name="cls_token")
        self.position = self.add_weight(
            shape=(1, steps + 1, dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="position",
        )

    def call(self, x):
        cls = ops.broadcast_to(self.cls_token, (ops.shape(x)[0], 1, ops.shape(x)[2]))
        return ops.concatenate([cls, x], axis=1) + self.position

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], steps, input_shape[2])


@keras.saving.register_keras_serializable(package="relsar")
class ByteDropout(layers.Dropout):
    """Dropout that draws 8 random bits per decision (four from each 32-bit Philox draw) instead
    of one float: 2.4× less CPU, where dropout's random numbers were the largest cost after the
    matrix products in a BYOL step. The rate is rounded to a multiple of 1/256 and kept values are
    scaled by the exact keep fraction, so the expected output still equals the input."""

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        if noise_shape is not None:
            raise ValueError("ByteDropout drops single values; it has no noise_shape")
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, inputs, training=False):
        # The rate is read at call time: disable_dropout sets it to 0 (then no seed generator
        # may exist: Keras makes one only for a non-zero rate at construction).
        if not training or round(self.rate * 256) == 0:
            return inputs
        return byte_dropout(inputs, self.rate, self.seed_generator)


def byte_dropout(inputs, rate: float, seed_generator: keras.random.SeedGenerator):
    """ByteDropout's computation: drop values with probability round(256·rate)/256, four
    decisions per 32-bit Philox draw; kept values scaled by the exact keep fraction."""
    threshold = round(rate * 256)
    if threshold == 0:
        return inputs
    size = tf.size(inputs)
    seed = tf.cast(tf.math.floormod(seed_generator.next(), 2**31 - 1), tf.int32)
    words = tf.random.stateless_uniform(
        [(size + 3) // 4], seed, minval=None, maxval=None, dtype=tf.uint32
    )
    draws = tf.reshape(tf.reshape(tf.bitcast(words, tf.uint8), [-1])[:size], tf.shape(inputs))
    kept = inputs * tf.cast(256 / (256 - threshold), inputs.dtype)
    return tf.where(draws >= threshold, kept, tf.zeros_like(inputs))


def _transformer_layer(x, size: ModelSize, name: str, matmul_policy: str):
    """Post-LN: x = LN(x + attn(x)); x = LN(x + ffn(x))."""
    attn = layers.MultiHeadAttention(
        size.num_heads,
        size.d_model // size.num_heads,
        dropout=size.dropout,
        name=f"{name}_attn",
        dtype=matmul_policy,
    )(x, x)
    attn = ByteDropout(size.dropout, name=f"{name}_attn_drop")(attn)
    x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln1")(
        layers.Add(name=f"{name}_add1")([x, attn])
    )
    ffn = layers.Dense(size.d_ff, name=f"{name}_ff1", dtype=matmul_policy)(x)
    ffn = layers.Activation("gelu", name=f"{name}_gelu")(ffn)
    ffn = ByteDropout(size.dropout, name=f"{name}_ff_drop1")(ffn)
    ffn = layers.Dense(size.d_model, name=f"{name}_ff2", dtype=matmul_policy)(ffn)
    ffn = ByteDropout(size.dropout, name=f"{name}_ff_drop2")(ffn)
    return layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln2")(
        layers.Add(name=f"{name}_add2")([x, ffn])
    )


def build_encoder(
    config: ModelConfig, window: int = 30, name: str = "encoder", matmul_policy: str = "float32"
) -> keras.Model:
    """(batch, window, 60) → (batch, embedding_dim). `matmul_policy` is the Keras dtype policy of
    the layers that multiply matrices (projection, attention, feed-forward, embedding):
    "mixed_bfloat16" runs those products in bfloat16 while weights, GELU, dropout, LayerNorm and
    BatchNorm stay float32 (bfloat16 element-wise kernels are slow on CPUs)."""
    size = resolve_size(config)
    inputs = keras.Input((window, FEATURE_DIM), name="skeleton")
    x = inputs
    for i in (1, 2):  # the Conv1D stem: "conv1"/"conv2" are what fine-tuning may freeze
        x = layers.Conv1D(size.conv_filters, 1, padding="same", activation="selu", name=f"conv{i}")(
            x
        )
        # momentum 0.9: short fine-tuning runs still get usable moving statistics
        x = layers.BatchNormalization(momentum=0.9, name=f"conv{i}_bn")(x)
        x = layers.Activation("selu", name=f"conv{i}_selu")(x)
        x = layers.MaxPooling1D(2, strides=1, padding="same", name=f"conv{i}_pool")(x)
    x = layers.Dense(size.d_model, name="project", dtype=matmul_policy)(x)
    x = ClassTokenAndPosition(name="cls_position")(x)
    for i in range(size.num_layers):
        x = _transformer_layer(x, size, f"block{i}", matmul_policy)
    cls = x[:, 0, :]
    embedding = layers.Dense(size.embedding_dim, name="embedding", dtype=matmul_policy)(cls)
    return keras.Model(inputs, embedding, name=name)


def build_classifier(
    config: ModelConfig, num_classes: int, window: int = 30, encoder: keras.Model | None = None
) -> keras.Model:
    """Encoder + linear head. Outputs a dict: `logits` (batch, K) and `embedding` (batch, E)."""
    encoder = encoder or build_encoder(config, window)
    return classifier_from_parts(encoder, layers.Dense(num_classes, name="logits"))


def classifier_from_parts(encoder: keras.Model, head: keras.layers.Layer) -> keras.Model:
    """The two-output classifier over an existing encoder and head (weights shared, not copied)."""
    inputs = keras.Input(encoder.input_shape[1:], name="skeleton")
    embedding = encoder(inputs)
    return keras.Model(inputs, {"logits": head(embedding), "embedding": embedding}, name="relsar")


def check_probe_features(kind: str) -> str:
    if kind not in PROBE_FEATURES:
        raise ConfigError(f"probe features: one of {', '.join(PROBE_FEATURES)}, not {kind!r}")
    return kind


def probe_features_model(encoder: keras.Model, kind: str) -> keras.Model:
    """The one definition of the pooled representation: a model over the encoder's own layers
    (weights shared) with two outputs, [features, embedding]. `features` is `embedding` (the
    encoder's output) or pooled from its last block's tokens: `mean_max` (mean and max over the
    frame tokens), `cls_mean_max` (the CLS token, the embedding's input, and both),
    `embedding_mean_max` (the embedding and both). The embedding is a linear map of the CLS
    token alone; the frame tokens carry what the CLS did not gather."""
    check_probe_features(kind)
    embedding = encoder.output
    if kind == "embedding":
        features = embedding
    else:
        last = [layer for layer in encoder.layers if layer.name.endswith("_ln2")][-1]
        tokens = last.output
        frames = tokens[:, 1:]  # token 0 is the CLS
        lead = {"mean_max": [], "cls_mean_max": [tokens[:, 0]], "embedding_mean_max": [embedding]}
        pooled = [ops.mean(frames, axis=1), ops.max(frames, axis=1)]
        features = layers.Concatenate(name="pooled")(lead[kind] + pooled)
    return keras.Model(encoder.input, [features, embedding], name="probe_features")


def classifier_from_probe(features: keras.Model, head: keras.layers.Layer) -> keras.Model:
    """The two-output classifier whose head reads a probe_features_model's features. The encoder
    is not nested beside it (Keras cannot save two nested models sharing layers): encoder_of
    recovers it."""
    inputs = keras.Input(features.input_shape[1:], name="skeleton")
    pooled, embedding = features(inputs)
    return keras.Model(inputs, {"logits": head(pooled), "embedding": embedding}, name="relsar")


def is_pooled_probe(model: keras.Model) -> bool:
    """Whether a classifier or logits model is classifier_from_probe's form (its head on a
    `probe_features` model, no nested `encoder`) rather than classifier_from_parts'."""
    names = {layer.name for layer in model.layers}
    return "probe_features" in names and "encoder" not in names


def encoder_of(model: keras.Model) -> keras.Model:
    """The encoder inside a classifier or logits model of either form (nested `encoder`, or the
    `probe_features` model of a pooled linear probe: its embedding output)."""
    if not is_pooled_probe(model):
        return model.get_layer("encoder")
    features = model.get_layer("probe_features")
    return keras.Model(features.input, features.outputs[1], name="encoder")


def _head_input(model: keras.Model, inputs):
    if is_pooled_probe(model):
        return model.get_layer("probe_features")(inputs)[0]
    return model.get_layer("encoder")(inputs)


def logits_model(classifier: keras.Model) -> keras.Model:
    """A single-output view (logits only) of a classifier, sharing its weights: what training compiles."""
    inputs = keras.Input(classifier.input_shape[1:], name="skeleton")
    logits = classifier.get_layer("logits")(_head_input(classifier, inputs))
    return keras.Model(inputs, logits, name="relsar_logits")


def classifier_from_logits_model(model: keras.Model) -> keras.Model:
    """Back from the training view to the two-output classifier (weights shared)."""
    if is_pooled_probe(model):
        return classifier_from_probe(model.get_layer("probe_features"), model.get_layer("logits"))
    return classifier_from_parts(model.get_layer("encoder"), model.get_layer("logits"))


def stem_layers(encoder: keras.Model) -> list[keras.layers.Layer]:
    """The Conv1D stem (conv + BatchNorm), which the paper studies freezing during fine-tuning."""
    return [layer for layer in encoder.layers if layer.name.startswith(("conv1", "conv2"))]


def keras_problem(exc: BaseException) -> str:
    """Keras' reason in one line; its "File not found" for a file that exists but is not a
    .keras zip archive (corrupt, truncated) would send the user looking for the wrong thing."""
    import zipfile

    text = first_line(exc)
    if isinstance(exc, zipfile.BadZipFile) or "not found" in text.lower() or "zip" in text.lower():
        return "the file is corrupt or truncated: not a .keras zip archive"
    return f"{type(exc).__name__}: {text[:200]}"


def save_model(model: keras.Model, path: Path) -> None:
    """Write a .keras file atomically (temp + rename): a kill never leaves half a checkpoint."""
    atomic_write(path, lambda tmp: model.save(tmp), keep_suffix=True)
