"""The encoder's forward pass as the BYOL step runs it: the same layers and weights (shared, not
copied), the same outputs, less work on a CPU.

- The last transformer layer is computed for the CLS token alone: the embedding reads only that
  token, so the other 30 rows of its queries, attention output and feed-forward are wasted work
  (≈ 13 % of the base model's FLOPs, forward and backward).
- Attention runs the MultiHeadAttention layer's own kernels as 2-D matrix products, query, key
  and value as one (x · [Wq Wk Wv]). Keras' layer keeps them as (d, heads, head_dim) einsum
  kernels, which TensorFlow turns into batch-broadcast matrix products: their kernel gradient is
  a per-window product summed over the batch, and that sum alone was 5 % of a float32 step
  (attention was 35 % of the step's op time against 24 % for the twice-as-large feed-forward).
- Attention dropout draws bytes (ByteDropout's draw) instead of floats; same rate and scaling.
- The feed-forward's exact GELU is one XLA-fused kernel forward and one backward (FusedGelu),
  with the input cast folded in: TensorFlow's graph runs tf.nn.gelu and its gradient as about a
  dozen element-wise kernels, each a pass over the (B·T, d_ff) tensor — 26 % of a float32 step's
  op time (profile of 5 steps, base, batch 64, 2-core AVX2 CPU), 2–3× less fused. The math is
  GELU's (x·Φ(x), derivative Φ(x) + x·φ(x)) in float32 in both precisions, as the encoder's
  float32 GELU layer computes it.
- LayerNorm likewise (FusedLayerNorm: one kernel forward, one backward for x, gamma and beta;
  the layer's own weights), instead of TensorFlow's moments + normalisation and their gradients.

The saved encoder keeps the plain Keras graph (TFLite, loading); tests check that both agree.
Relies on relsar_core.train.model's layer names.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from relsar_core.train.model import byte_dropout

_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


def _normal_cdf(x):
    return 0.5 * tf.math.erfc(x * -_SQRT_HALF)  # tf.nn.gelu(approximate=False)'s form


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _gelu_forward(x):
    x = tf.cast(x, tf.float32)
    return x * _normal_cdf(x)


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _gelu_backward(x, dy):
    x32 = tf.cast(x, tf.float32)
    cdf = _normal_cdf(x32)
    pdf = _INV_SQRT_2PI * tf.exp(-0.5 * tf.square(x32))
    return tf.cast(dy * (cdf + x32 * pdf), x.dtype)


@tf.custom_gradient
def fused_gelu(x):
    """Exact GELU in float32 (any float input), forward and gradient each one XLA kernel."""
    return _gelu_forward(x), lambda dy: _gelu_backward(x, dy)


def _normalised(x, epsilon):
    """(x − mean) / std over the last axis, and 1 / std (the backward pass recomputes both)."""
    centred = x - tf.reduce_mean(x, -1, keepdims=True)
    rstd = tf.math.rsqrt(tf.reduce_mean(tf.square(centred), -1, keepdims=True) + epsilon)
    return centred * rstd, rstd


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _ln_forward(x, gamma, beta, epsilon):
    return _normalised(x, epsilon)[0] * gamma + beta


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _ln_backward(x, gamma, epsilon, dy):
    xhat, rstd = _normalised(x, epsilon)
    rows = list(range(len(x.shape) - 1))
    dxhat = dy * gamma
    dx = rstd * (
        dxhat
        - tf.reduce_mean(dxhat, -1, keepdims=True)
        - xhat * tf.reduce_mean(dxhat * xhat, -1, keepdims=True)
    )
    return dx, tf.reduce_sum(dy * xhat, rows), tf.reduce_sum(dy, rows)


def fused_layer_norm(x, gamma, beta, epsilon: float):
    """LayerNorm over the last axis (float32), forward and gradient each one XLA kernel."""
    eps = tf.constant(epsilon, tf.float32)

    @tf.custom_gradient
    def norm(x, gamma, beta):
        def grad(dy):
            return _ln_backward(x, gamma, eps, dy)

        return _ln_forward(x, gamma, beta, eps), grad

    return norm(x, gamma, beta)


class FusedLayerNorm(keras.layers.Layer):
    """A LayerNormalization layer's computation (its gamma and beta) as fused_layer_norm."""

    def __init__(self, norm: keras.layers.LayerNormalization, **kw):
        super().__init__(name=f"{norm.name}_fused", dtype=norm.dtype_policy, **kw)
        self.norm = norm

    def call(self, x):
        norm = self.norm
        return fused_layer_norm(
            x, tf.convert_to_tensor(norm.gamma), tf.convert_to_tensor(norm.beta), norm.epsilon
        )

    def compute_output_shape(self, input_shape):
        return input_shape


class FusedGelu(keras.layers.Layer):
    """The encoder's float32 GELU layer as fused_gelu: the bfloat16 input's cast happens inside
    the kernel instead of as a separate pass (Keras' input conversion is off)."""

    def __init__(self, gelu: keras.layers.Layer, **kw):
        super().__init__(name=f"{gelu.name}_fused", dtype=gelu.dtype_policy, **kw)
        self._convert_input_args = False

    def call(self, x):
        return fused_gelu(x)

    def compute_output_shape(self, input_shape):
        return input_shape


class FusedSelfAttention(keras.layers.Layer):
    """A MultiHeadAttention layer's computation (its weights) with fused 2-D projections.
    `query_is_value`: self-attention, one product for Q, K and V; otherwise (the CLS-only layer)
    one for Q and one for K and V."""

    def __init__(self, attention: keras.layers.MultiHeadAttention, query_is_value: bool, **kw):
        super().__init__(name=f"{attention.name}_fused", dtype=attention.dtype_policy, **kw)
        self.attention = attention
        self.query_is_value = query_is_value
        self.seed_generator = keras.random.SeedGenerator()

    def _kernel(self, dense) -> tuple[tf.Tensor, tf.Tensor]:
        """An EinsumDense's (d, heads, head_dim) kernel and (heads, head_dim) bias as 2-D."""
        kernel = tf.cast(dense.kernel, self.compute_dtype)
        bias = tf.cast(dense.bias, self.compute_dtype)
        return tf.reshape(kernel, [kernel.shape[0], -1]), tf.reshape(bias, [-1])

    def call(self, query, value, training=False):
        mha = self.attention
        heads, head_dim = mha.num_heads, mha.key_dim
        dim, q_steps, v_steps = query.shape[-1], query.shape[1], value.shape[1]

        def split(x, steps, parts):  # (B·steps, parts·H·dh) → parts × (B, H, steps, dh)
            # tf.split, not slicing: a slice's gradient writes a zero tensor of the whole input.
            return [
                tf.transpose(tf.reshape(p, [-1, steps, heads, head_dim]), [0, 2, 1, 3])
                for p in tf.split(x, parts, axis=-1)
            ]

        (wq, bq), (wk, bk), (wv, bv) = (
            self._kernel(d) for d in (mha.query_dense, mha.key_dense, mha.value_dense)
        )
        if self.query_is_value:
            qkv = tf.matmul(tf.reshape(query, [-1, dim]), tf.concat([wq, wk, wv], 1))
            q, k, v = split(qkv + tf.concat([bq, bk, bv], 0), q_steps, 3)
        else:
            (q,) = split(tf.matmul(tf.reshape(query, [-1, dim]), wq) + bq, q_steps, 1)
            kv = tf.matmul(tf.reshape(value, [-1, dim]), tf.concat([wk, wv], 1))
            k, v = split(kv + tf.concat([bk, bv], 0), v_steps, 2)
        q = q * tf.cast(1.0 / head_dim**0.5, q.dtype)
        probs = tf.nn.softmax(tf.matmul(q, k, transpose_b=True), axis=-1)
        if training and mha.dropout:
            probs = byte_dropout(probs, mha.dropout, self.seed_generator)
        context = tf.reshape(
            tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3]), [-1, heads * head_dim]
        )
        out_kernel = tf.cast(mha.output_dense.kernel, self.compute_dtype)
        out = tf.matmul(context, tf.reshape(out_kernel, [heads * head_dim, dim]))
        out += tf.cast(mha.output_dense.bias, self.compute_dtype)
        return tf.reshape(out, [-1, q_steps, dim])

    def compute_output_shape(self, query_shape, value_shape):
        return query_shape


def step_forward_encoder(encoder: keras.Model) -> keras.Model:
    """The same encoder (its own layers and weights, shared) with fused attention and the last
    transformer layer computed for the CLS token alone. Outputs equal the encoder's (dropout
    aside); `encoder` must come from relsar_core.train.model.build_encoder."""
    layer = encoder.get_layer
    blocks = sorted(
        {n.split("_")[0] for n in (lr.name for lr in encoder.layers) if n.startswith("block")},
        key=lambda n: int(n[len("block") :]),
    )
    inputs = keras.Input(encoder.input_shape[1:], name="skeleton")
    x = inputs
    for i in (1, 2):
        for part in ("", "_bn", "_selu", "_pool"):
            x = layer(f"conv{i}{part}")(x)
    x = layer("cls_position")(layer("project")(x))
    for name in blocks:
        last = name == blocks[-1]
        query = x[:, :1, :] if last else x
        attention = FusedSelfAttention(layer(f"{name}_attn"), query_is_value=not last)
        attn = layer(f"{name}_attn_drop")(attention(query, x))
        x = FusedLayerNorm(layer(f"{name}_ln1"))(layer(f"{name}_add1")([query, attn]))
        gelu = FusedGelu(layer(f"{name}_gelu"))
        ffn = layer(f"{name}_ff_drop1")(gelu(layer(f"{name}_ff1")(x)))
        ffn = layer(f"{name}_ff_drop2")(layer(f"{name}_ff2")(ffn))
        x = FusedLayerNorm(layer(f"{name}_ln2"))(layer(f"{name}_add2")([x, ffn]))
    return keras.Model(inputs, layer("embedding")(x[:, 0, :]), name=f"{encoder.name}_step")
