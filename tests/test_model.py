"""The ReL-SAR encoder: size, shapes, save/reload."""

import keras
import numpy as np

from relsar_core.config import ModelConfig
from relsar_core.train.model import build_classifier, build_encoder, stem_layers


def test_base_model_has_the_paper_parameter_count():
    model = build_classifier(ModelConfig(size="base"), num_classes=10)
    assert model.count_params() == 2_814_666
    out = model(np.zeros((2, 30, 60), np.float32))
    assert out["logits"].shape == (2, 10) and out["embedding"].shape == (2, 256)


def test_sizes_are_config_values():
    micro = build_encoder(ModelConfig(size="micro"))
    assert micro.get_layer("block0_attn").num_heads == 1
    assert sum(layer.name.endswith("_ln2") for layer in micro.layers) == 4
    custom = build_encoder(ModelConfig(size="tiny", num_layers=3, embedding_dim=16))
    assert custom.output_shape == (None, 16)
    assert [layer.name for layer in stem_layers(custom)][:2] == ["conv1", "conv1_bn"]


def test_save_and_reload_gives_identical_outputs(tmp_path):
    model = build_classifier(ModelConfig(size="tiny"), num_classes=5)
    x = np.random.default_rng(0).normal(size=(4, 30, 60)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    a, b = model.predict(x, verbose=0), again.predict(x, verbose=0)
    np.testing.assert_array_equal(a["logits"], b["logits"])
    np.testing.assert_array_equal(a["embedding"], b["embedding"])


def test_byte_dropout_drops_at_the_rounded_rate_and_keeps_the_mean():
    import tensorflow as tf

    from relsar_core.train.model import ByteDropout

    layer = ByteDropout(0.3, seed=1)
    x = tf.ones((50, 31, 191))  # 296,050 values: not a multiple of 4
    np.testing.assert_array_equal(layer(x, training=False), x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    dropped = float(tf.reduce_mean(tf.cast(y == 0, tf.float32)))
    assert abs(dropped - 77 / 256) < 0.005, dropped  # 0.3 rounds to 77/256
    np.testing.assert_allclose(np.unique(y.numpy()), [0.0, 256 / 179], rtol=1e-6)
    assert abs(float(tf.reduce_mean(y)) - 1.0) < 0.01
    np.testing.assert_array_equal(tape.gradient(y, x), y)  # the gradient passes the same mask
    assert not np.array_equal(layer(x, training=True), y)  # a new mask every call
    first, again = ByteDropout(0.3, seed=7), ByteDropout(0.3, seed=7)
    np.testing.assert_array_equal(first(x, training=True), again(x, training=True))  # seeded
    layer.rate = 0.0  # what relsar_core.train.protocols.disable_dropout does to a frozen encoder
    np.testing.assert_array_equal(layer(x, training=True), x)


def test_bfloat16_matmuls_keep_element_wise_work_in_float32():
    import tensorflow as tf

    config = ModelConfig(size="tiny", dropout=0.0)
    keras.utils.set_random_seed(0)
    exact = build_encoder(config, 30)
    fast = build_encoder(config, 30, matmul_policy="mixed_bfloat16")
    fast.set_weights(exact.get_weights())
    for name in ("project", "block0_attn", "block0_ff1", "block0_ff2", "embedding"):
        assert fast.get_layer(name).dtype_policy.name == "mixed_bfloat16", name
    for name in ("block0_gelu", "block0_ln1", "block0_ff_drop1", "conv1_bn"):
        assert fast.get_layer(name).dtype_policy.name == "float32", name
    assert all(w.dtype == "float32" for w in fast.weights)
    x = tf.random.normal((8, 30, 60))
    reference, approximate = exact(x, training=True).numpy(), fast(x, training=True).numpy()
    assert not np.array_equal(reference, approximate)  # it did compute in bfloat16 …
    error = np.linalg.norm(approximate - reference) / np.linalg.norm(reference)
    assert error < 0.03, error  # … to bfloat16's ~3 significant digits


def test_every_model_size_choice_has_a_preset():
    from relsar_core.config import MODEL_SIZES
    from relsar_core.train.model import PRESETS

    assert MODEL_SIZES == tuple(PRESETS) == ("base", "small", "micro", "tiny")
