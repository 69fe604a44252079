"""The teaching embedding output (runtime.teach_output): what it computes, that adding it leaves
the model's own outputs alone, that teaching uses it, and the upgrade of an older model."""

import json
import shutil

import numpy as np
import pytest

from relsar_core.data.datasets import load_clip_folder
from relsar_core.errors import ModelFileError
from relsar_core.runtime import fewshot
from relsar_core.runtime.teach_output import (
    TEACH_OUTPUT,
    has_teach_output,
    teach_block,
    teach_embedding_of,
    with_teach_output,
)
from relsar_core.runtime.tflite import TfliteClassifier
from relsar_core.train.export import convert_run
from relsar_core.train.export_source import load_source


@pytest.fixture(scope="module")
def windows(toy_data):
    return load_clip_folder(toy_data, window=30, stride=10).windows[::2]


@pytest.fixture(scope="module")
def old_model(tmp_path_factory, tiny_run_dir):
    """The tiny model as relsar-convert wrote it before the teaching embedding existed."""
    out = tmp_path_factory.mktemp("old") / "old.tflite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("relsar_core.train.export.with_teach_output", lambda content: content)
        convert_run(tiny_run_dir, out, ["none"])
    return out


def test_it_is_the_middle_blocks_frame_tokens_averaged(tiny_tflite_model, tiny_run_dir, windows):
    import keras

    encoder = load_source(tiny_run_dir).model.get_layer("encoder")
    blocks = {int(layer.name[5]) for layer in encoder.layers if layer.name.endswith("_ln2")}
    assert blocks == {0, 1} and teach_block(blocks) == 1 and teach_block({0, 1, 2, 3}) == 2
    tokens = keras.Model(encoder.input, encoder.get_layer("block1_ln2").output)
    want = np.asarray(tokens.predict(windows, verbose=0))[:, 1:].mean(axis=1)  # 0: CLS token
    model = TfliteClassifier(tiny_tflite_model)
    out = model.predict_batch(windows)
    assert out.teach_embedding.shape == (len(windows), 32) and model.teach_embedding_dim == 32
    np.testing.assert_allclose(out.teach_embedding, want, atol=1e-4)
    one = model.predict(windows[3])
    np.testing.assert_allclose(one.teach_embedding, out.teach_embedding[3], atol=1e-6)
    assert teach_embedding_of(out) is out.teach_embedding


def test_adding_it_leaves_logits_and_embedding_bit_for_bit(old_model, tiny_tflite_model, windows):
    content = old_model.read_bytes()
    assert not has_teach_output(content)
    new = with_teach_output(content)
    assert has_teach_output(new) and with_teach_output(new) == new  # added once
    old = TfliteClassifier(old_model)
    before = old.predict_batch(windows)
    assert before.teach_embedding is None and teach_embedding_of(before) is before.embedding
    assert old.teach_embedding_dim == old.embedding_dim == 64
    from relsar_core.runtime.tflite import TfliteRunner

    runner = TfliteRunner(new, 1)
    assert runner.output_names == ("logits", "embedding", TEACH_OUTPUT)
    logits, embedding, teach = runner.run_batch(windows)
    assert np.array_equal(logits, before.logits) and np.array_equal(embedding, before.embedding)
    converted = TfliteClassifier(tiny_tflite_model).predict_batch(windows)
    np.testing.assert_allclose(teach, converted.teach_embedding, atol=1e-6)


def test_every_quantized_variant_has_it(tiny_run_dir, tmp_path, windows):
    results = convert_run(tiny_run_dir, tmp_path / "v", ["fp16", "dynamic", "int8"])
    ref = TfliteClassifier(results[0].tflite_path).predict_batch(windows).teach_embedding
    for r in results:
        teach = TfliteClassifier(r.tflite_path).predict_batch(windows).teach_embedding
        assert teach.shape == (len(windows), 32), r.quantization
        # Its direction is what the head compares. Full int8 rounds the block's activations
        # to 8 bits before they are averaged: only roughly the same (docs/teach.md).
        cos = (teach * ref).sum(1) / np.linalg.norm(teach, axis=1) / np.linalg.norm(ref, axis=1)
        if r.quantization == "int8":
            assert np.median(cos) > 0.8, np.median(cos)
        else:
            assert cos.min() > 0.99, (r.quantization, cos.min())


def test_a_graph_without_encoder_blocks_is_refused(tmp_path):
    import tensorflow as tf

    class Other(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="frames")])
        def serve(self, frames):
            return {"scores": tf.matmul(frames, tf.ones([4, 2]))}

    module = Other()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.serve})
    content = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm")).convert()
    with pytest.raises(ValueError, match="no encoder block outputs"):
        with_teach_output(content)


def test_a_sidecar_that_does_not_record_it_is_refused(tiny_tflite_model, tmp_path):
    path = tmp_path / "m.tflite"
    shutil.copy(tiny_tflite_model, path)
    meta = json.loads(tiny_tflite_model.with_suffix(".json").read_text())
    meta["outputs"] = meta["outputs"][:2]
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=r"'outputs' .* disagree .*teach_embedding"):
        TfliteClassifier(path)


def test_teaching_uses_it(tiny_tflite_model, toy_data, tmp_path):
    path = tmp_path / "m.tflite"
    shutil.copy(tiny_tflite_model, path)
    shutil.copy(tiny_tflite_model.with_suffix(".json"), path.with_suffix(".json"))
    clips = {"novel": sorted((toy_data / "still").glob("*.npz"))[:2]}
    taught = fewshot.teach(TfliteClassifier(path), path, clips)
    assert taught.examples.embeddings.shape[1] == 32  # teach_embedding, not the 64 of embedding
    assert fewshot.load_taught(path).embeddings.shape[1] == 32


def _cli(main, argv) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0


def test_relsar_teach_base_data_upgrades_an_older_model(old_model, toy_data, tmp_path, capsys):
    from training.teach_cli import main as teach_main

    path = tmp_path / "m.tflite"
    shutil.copy(old_model, path)
    shutil.copy(old_model.with_suffix(".json"), path.with_suffix(".json"))
    before = TfliteClassifier(path)
    assert before.teach_embedding_dim == 64
    fewshot.teach(before, path, {"novel": sorted((toy_data / "still").glob("*.npz"))[:2]})
    sidecar = path.with_suffix(".json").read_bytes()
    partial = tmp_path / "partial"  # not every class of the model: refused, nothing changes
    shutil.copytree(toy_data / "wave", partial / "wave")
    with pytest.raises(SystemExit) as done:
        teach_main([str(path), "--base-data", str(partial)])
    assert done.value.code == 2 and "no clips of the model's classes" in capsys.readouterr().err
    assert path.read_bytes() == old_model.read_bytes()
    assert path.with_suffix(".json").read_bytes() == sidecar
    _cli(teach_main, [str(path), "--base-data", str(toy_data)])
    said = capsys.readouterr().err
    assert "added the teaching embedding output" in said and "taught again" in said
    after = TfliteClassifier(path)  # sha and size in the sidecar follow the new file
    assert after.teach_embedding_dim == 32
    assert after.metadata["outputs"][2] == {"name": TEACH_OUTPUT, "shape": [1, 32]}
    assert after.metadata["base_centroids"]["shape"][1] == 32 + 628
    assert not list(tmp_path.glob(".*pending"))
    with pytest.raises(ModelFileError, match="teach again"):  # old 64-value examples
        fewshot.with_taught(after, path)
    _cli(teach_main, [str(path), "--base-data", str(toy_data)])  # a second time: no change
    assert "added" not in capsys.readouterr().err


def test_flip_averaging_keeps_the_windows_own_teaching_embedding(tiny_tflite_model, windows):
    plain = TfliteClassifier(tiny_tflite_model, flip_average=False).predict_batch(windows)
    flip = TfliteClassifier(tiny_tflite_model, flip_average=True)
    both = flip.predict_batch(windows)
    assert not np.allclose(both.logits, plain.logits)  # the mirror image did count
    np.testing.assert_array_equal(both.teach_embedding, plain.teach_embedding)
    one = flip.predict(windows[0])
    np.testing.assert_allclose(one.teach_embedding, plain.teach_embedding[0], atol=1e-6)


def test_relsar_teach_base_data_on_a_model_without_encoder_blocks_is_one_line(
    old_model, toy_data, tmp_path, capsys
):
    """A model that loads (skeleton → logits, embedding) but has no transformer blocks."""
    import hashlib

    import tensorflow as tf

    from training.teach_cli import main as teach_main

    class Flat(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 30, 60], tf.float32, name="skeleton")])
        def serve(self, skeleton):
            flat = tf.reshape(skeleton, [1, 1800])
            return {"logits": flat[:, :5], "embedding": flat[:, :64]}

    module = Flat()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.serve})
    content = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm")).convert()
    path = tmp_path / "flat.tflite"
    path.write_bytes(content)
    meta = json.loads(old_model.with_suffix(".json").read_text())
    meta["tflite_sha256"], meta["tflite_bytes"] = hashlib.sha256(content).hexdigest(), len(content)
    path.with_suffix(".json").write_text(json.dumps(meta))
    TfliteClassifier(path)  # a valid model for the runtime
    sidecar = path.with_suffix(".json").read_bytes()
    with pytest.raises(SystemExit) as done:
        teach_main([str(path), "--base-data", str(toy_data)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1
    assert "flat.tflite: cannot add a teaching embedding (no encoder block outputs" in err
    assert path.read_bytes() == content and path.with_suffix(".json").read_bytes() == sidecar


def test_relsar_teach_base_data_that_cannot_write_is_one_line(
    old_model, toy_data, tmp_path, capsys
):
    """A folder it cannot write in (a full disk, no permission): one line, the old pair intact,
    no pending sidecar left behind."""
    from training.teach_cli import main as teach_main

    path = tmp_path / "m.tflite"
    shutil.copy(old_model, path)
    shutil.copy(old_model.with_suffix(".json"), path.with_suffix(".json"))
    sidecar = path.with_suffix(".json").read_bytes()

    def refuse(target, write):
        raise PermissionError(13, "Permission denied", str(target))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("relsar_core.runtime.tflite.atomic_write", refuse)
        with pytest.raises(SystemExit) as done:
            teach_main([str(path), "--base-data", str(toy_data)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1
    assert "m.tflite: cannot write (Permission denied)" in err
    assert path.read_bytes() == old_model.read_bytes()
    assert path.with_suffix(".json").read_bytes() == sidecar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.tflite"]
