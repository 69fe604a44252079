"""The ReL-SAR encoder: size, shapes, save/reload."""

import keras
import numpy as np

from relsar_core.config import ModelConfig
from relsar_core.model import build_classifier, build_encoder, stem_layers


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
