"""TfliteClassifier refuses every kind of broken model with one clear line naming the file."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from relsar_core.errors import ModelFileError
from relsar_core.runtime.tflite import TfliteClassifier


@pytest.fixture
def model_copy(tiny_tflite_model, tmp_path):
    """A private copy of the tiny model + JSON that a test may break."""
    path = tmp_path / "model.tflite"
    shutil.copy(tiny_tflite_model, path)
    shutil.copy(tiny_tflite_model.with_suffix(".json"), path.with_suffix(".json"))
    return path


def _meta(path):
    return json.loads(path.with_suffix(".json").read_text())


def _write_meta(path, meta):
    path.with_suffix(".json").write_text(json.dumps(meta))


def _rewrite(path, content: bytes, update_json: bool) -> None:
    """Replace the model bytes; with update_json the JSON's size and hash follow, so only the
    check under test can catch the problem."""
    path.write_bytes(content)
    if update_json:
        meta = _meta(path)
        meta["tflite_sha256"], meta["tflite_bytes"] = (
            hashlib.sha256(content).hexdigest(),
            len(content),
        )
        _write_meta(path, meta)


def _refused(path, match, json_path=None) -> str:
    with pytest.raises(ModelFileError, match=match) as err:
        TfliteClassifier(path, json_path)
    message = str(err.value)
    assert "\n" not in message
    assert path.name in message or path.with_suffix(".json").name in message
    return message


def test_intact_copy_loads(model_copy):
    assert TfliteClassifier(model_copy).predict(np.zeros((30, 60), np.float32)).logits.shape == (5,)


def test_missing_model_file(tmp_path):
    _refused(tmp_path / "nothing.tflite", "no such model file")


def test_missing_json(model_copy):
    model_copy.with_suffix(".json").unlink()
    _refused(model_copy, "sidecar JSON of model.tflite missing")


def test_explicit_json_path_is_used(model_copy, tmp_path):
    other = tmp_path / "elsewhere.json"
    model_copy.with_suffix(".json").rename(other)
    assert TfliteClassifier(model_copy, other).num_classes == 5
    _refused(model_copy, "sidecar JSON of model.tflite missing", tmp_path / "absent.json")


def test_json_not_json(model_copy):
    model_copy.with_suffix(".json").write_text("{ class_names: oops")
    _refused(model_copy, "not valid JSON")


def test_json_missing_keys(model_copy):
    meta = _meta(model_copy)
    del meta["tflite_sha256"], meta["window"]
    _write_meta(model_copy, meta)
    _refused(model_copy, r"missing keys \['window', 'tflite_sha256'\]")


def test_truncated_model(model_copy):
    content = model_copy.read_bytes()
    model_copy.write_bytes(content[: len(content) // 2])
    _refused(
        model_copy, rf"truncated \({len(content) // 2} bytes, model.json records {len(content)}\)"
    )


def test_empty_model(model_copy):
    model_copy.write_bytes(b"")
    _refused(model_copy, "empty file")


def test_not_a_flatbuffer(model_copy):
    _rewrite(
        model_copy,
        b"<html>this is a download error page, not a model</html>" * 50,
        update_json=True,
    )
    _refused(model_copy, "not a TFLite flatbuffer")


def test_flatbuffer_header_but_garbage_inside(model_copy):
    content = bytearray(model_copy.read_bytes())
    content[8:400] = np.random.default_rng(0).integers(0, 256, 392, dtype=np.uint8).tobytes()
    _rewrite(model_copy, bytes(content), update_json=True)
    _refused(model_copy, "the TFLite interpreter cannot load it")


def test_changed_bytes_fail_the_sha256(model_copy):
    content = bytearray(model_copy.read_bytes())
    content[len(content) // 2] ^= 0xFF  # one weight byte: still a valid model, silently wrong
    model_copy.write_bytes(bytes(content))
    _refused(model_copy, "SHA-256 .* does not match model.json")


def _convert_other_model(tmp_path) -> bytes:
    """A valid .tflite that is not a ReL-SAR classifier: `frames` → `scores`."""
    import tensorflow as tf

    module = tf.Module()
    module.serve = tf.function(
        lambda frames: {"scores": tf.reduce_mean(frames, axis=1)},
        input_signature=[tf.TensorSpec([1, 30, 60], tf.float32, name="frames")],
    )
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.serve})
    return tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm")).convert()


def test_wrong_signature(model_copy, tmp_path):
    _rewrite(model_copy, _convert_other_model(tmp_path), update_json=True)
    _refused(
        model_copy,
        r"signature is \['frames'\] → \['scores'\], expected \['skeleton'\] → \['embedding', 'logits'\]",
    )


def test_json_class_names_disagree_with_outputs(model_copy):
    meta = _meta(model_copy)
    meta["class_names"] = meta["class_names"][:4]
    _write_meta(model_copy, meta)
    _refused(model_copy, "'outputs' .* disagree with its class names")
    meta["outputs"][0]["shape"] = [1, 4]  # a consistent JSON that still lies about the model
    _write_meta(model_copy, meta)
    _refused(model_copy, r"output 'logits' is float32 \[1, 5\], model.json says float32 \[1, 4\]")


def test_json_window_disagrees_with_input(model_copy):
    meta = _meta(model_copy)
    meta["window"], meta["input"]["shape"] = 25, [1, 25, 60]
    _write_meta(model_copy, meta)
    _refused(model_copy, r"input is float32 \[1, 30, 60\], model.json says float32 \[1, 25, 60\]")


def test_model_made_for_other_features(model_copy):
    meta = _meta(model_copy)
    meta["features"]["version"] = 0
    _write_meta(model_copy, meta)
    _refused(model_copy, "made for features version=0, this library computes 1")
    meta["features"] = {**meta["features"], "version": 1, "min_confidence": 0.5}
    _write_meta(model_copy, meta)
    _refused(model_copy, "made for features min_confidence=0.5")


def test_duplicate_class_names(model_copy):
    meta = _meta(model_copy)
    meta["class_names"][1] = meta["class_names"][0]
    _write_meta(model_copy, meta)
    _refused(model_copy, "'class_names' has duplicates")


@pytest.mark.parametrize("bad_value", [None, "x", -1, 1.5, [], {}, [1, "a"]])
def test_any_wrong_json_value_is_a_model_file_error(model_copy, bad_value):
    """Whatever a hand-edited JSON holds, the caller only ever sees ModelFileError."""
    good = _meta(model_copy)
    for key in good:
        if key in ("parity", "created", "tool", "variant", "source_checkpoint", "ops", "signature"):
            continue  # informational: not checked, so any value is fine
        _write_meta(model_copy, {**good, key: bad_value})
        with pytest.raises(ModelFileError) as err:
            TfliteClassifier(model_copy)
        assert "\n" not in str(err.value), key
