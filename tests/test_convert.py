"""relsar-convert: every variant of a tiny trained model, its parity gates, the sidecar, the CLI."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from relsar_core.data.datasets import load_clip_folder
from relsar_core.errors import DataError, ModelFileError
from relsar_core.runtime.tflite import QUANTIZATIONS, TfliteClassifier, feature_spec
from relsar_core.train.export import VARIANT_NAMES, convert_run, tflite_ops, variant_path
from relsar_core.train.export_source import load_source
from relsar_core.train.parity import TOLERANCES, ParityError, Tolerance
from training.convert_cli import main as convert_main


@pytest.fixture(scope="module")
def all_variants(tmp_path_factory, tiny_run_dir):
    out = tmp_path_factory.mktemp("variants") / "tiny"
    results = convert_run(tiny_run_dir, out, list(QUANTIZATIONS))
    return {r.quantization: r for r in results}


def test_every_variant_is_written_and_passes_its_gates(all_variants):
    assert set(all_variants) == set(QUANTIZATIONS)
    for q, r in all_variants.items():
        assert r.written and r.tflite_path.is_file() and r.json_path.is_file(), q
        assert r.tflite_path.name == f"tiny_{VARIANT_NAMES[q]}.tflite"
        p = r.parity
        assert p.windows >= 50  # the validation clips of the toy set, not a handful
        assert p.top1_agreement >= TOLERANCES[q].min_top1
        assert p.keras_accuracy >= 0.9  # the model really learned the toy classes
    float32 = all_variants["none"].parity
    # float32 is the same network: differences are float round-off only.
    assert float32.max_logit_diff <= 1e-5 * float32.logit_scale
    assert float32.max_embedding_diff <= 1e-5 * float32.embedding_scale
    assert float32.top1_agreement == 1.0
    assert all_variants["dynamic"].parity.top1_agreement >= 0.99
    assert all_variants["int8"].parity.top1_agreement >= 0.97
    # Quantization must actually shrink the weights.
    sizes = {q: r.size_bytes for q, r in all_variants.items()}
    assert sizes["fp16"] < 0.8 * sizes["none"]
    assert sizes["dynamic"] < sizes["fp16"]
    assert sizes["int8"] < sizes["fp16"]


def test_tflite_contract_signature_and_builtin_ops_only(all_variants):
    from ai_edge_litert.interpreter import Interpreter

    for q, r in all_variants.items():
        interpreter = Interpreter(model_path=str(r.tflite_path))
        assert interpreter.get_signature_list() == {
            "serving_default": {
                "inputs": ["skeleton"],
                "outputs": ["embedding", "logits", "teach_embedding"],
            }
        }, q
        runner = interpreter.get_signature_runner("serving_default")
        inp = runner.get_input_details()["skeleton"]
        outs = runner.get_output_details()
        assert list(inp["shape"]) == [1, 30, 60] and inp["dtype"] == np.float32, q
        assert list(outs["logits"]["shape"]) == [1, 5] and outs["logits"]["dtype"] == np.float32, q
        assert list(outs["embedding"]["shape"]) == [1, 64], q
        assert list(outs["teach_embedding"]["shape"]) == [1, 32], q  # tiny: d_model 32
        ops = tflite_ops(r.tflite_path.read_bytes())
        assert "CUSTOM" not in ops and "UNKNOWN" not in ops and "FULLY_CONNECTED" in ops, q
    assert "QUANTIZE" in tflite_ops(all_variants["int8"].tflite_path.read_bytes())


def test_sidecar_describes_the_file(all_variants, tiny_run_dir):
    r = all_variants["int8"]
    meta = json.loads(r.json_path.read_text())
    content = r.tflite_path.read_bytes()
    assert meta["tflite_sha256"] == hashlib.sha256(content).hexdigest()
    assert meta["tflite_bytes"] == len(content)
    assert meta["class_names"] == json.loads((tiny_run_dir / "run.json").read_text())["class_names"]
    assert meta["layout"] == "body15" and meta["window"] == 30 and meta["embedding_dim"] == 64
    assert meta["quantization"] == "int8" and meta["variant"] == "full-int8"
    assert meta["features"] == feature_spec()
    assert meta["features"]["name"] == "relsar_core.skeleton.features.window_features"
    assert meta["source_checkpoint"] == str((tiny_run_dir / "best.keras").resolve())
    assert meta["input"] == {"name": "skeleton", "shape": [1, 30, 60], "dtype": "float32"}
    assert meta["outputs"] == [
        {"name": "logits", "shape": [1, 5]},
        {"name": "embedding", "shape": [1, 64]},
        {"name": "teach_embedding", "shape": [1, 32]},
    ]
    assert meta["parity"]["top1_agreement"] == r.parity.top1_agreement
    assert meta["created"].endswith("+00:00") and meta["tool"].startswith("relsar-convert ")


def test_every_variant_runs_in_the_runtime_like_keras(all_variants, tiny_run_dir, toy_data):
    """Windows from the app's feature function: each variant agrees with the Keras model."""
    windows = load_clip_folder(toy_data, window=30, stride=10).windows[::3]
    source = load_source(tiny_run_dir)
    ref = source.model.predict(windows, verbose=0)
    for q, r in all_variants.items():
        out = TfliteClassifier(r.tflite_path).predict_batch(windows)
        agreement = np.mean(out.logits.argmax(1) == ref["logits"].argmax(1))
        assert agreement >= TOLERANCES[q].min_top1, q
        if q == "none":
            np.testing.assert_allclose(out.logits, ref["logits"], atol=1e-4)
            np.testing.assert_allclose(out.embedding, ref["embedding"], atol=1e-4)


def test_a_variant_outside_its_tolerance_fails_and_is_not_written(
    tiny_run_dir, tmp_path, monkeypatch
):
    monkeypatch.setitem(TOLERANCES, "fp16", Tolerance(1e-9, 1e-9, 1.0))
    (tmp_path / "m.tflite").write_bytes(b"an older model that must survive")
    with pytest.raises(
        ParityError, match=r"float16: max \|Δlogit\| [\d.e-]+ > [\d.]+e-0[89]"
    ) as err:
        convert_run(tiny_run_dir, tmp_path / "m", ["fp16"])
    assert "\n" not in str(err.value)
    assert err.value.report.top1_agreement >= 0.99  # it is the numeric bound that failed
    assert (tmp_path / "m.tflite").read_bytes() == b"an older model that must survive"
    assert not (tmp_path / "m.json").exists()


def test_bare_keras_file_class_names(tiny_run_dir, toy_data, tmp_path):
    bare = tmp_path / "model.keras"
    shutil.copy(tiny_run_dir / "best.keras", bare)
    assert load_source(bare).class_names == [f"class_{i}" for i in range(5)]
    names = ["arms_up", "jump", "squat", "still", "wave"]
    assert load_source(bare, names).class_names == names
    with pytest.raises(ModelFileError, match="--classes: 2 class names for a model with 5 outputs"):
        load_source(bare, ["a", "b"])
    # No run.json: parity needs data, and the class folders must be the model's classes.
    with pytest.raises(DataError, match="pass --calibration DATA_DIR"):
        convert_run(bare, tmp_path / "m", ["none"], classes=names)
    with pytest.raises(DataError, match="not among the model's classes"):
        convert_run(bare, tmp_path / "m", ["none"], calibration=toy_data)
    (result,) = convert_run(bare, tmp_path / "m", ["dynamic"], calibration=toy_data, classes=names)
    assert result.tflite_path == tmp_path / "m.tflite"
    assert TfliteClassifier(result.tflite_path).class_names == names


def test_variant_paths():
    assert variant_path("out/m", "none", several=False).as_posix() == "out/m.tflite"
    assert variant_path("out/m.tflite", "int8", several=False).as_posix() == "out/m.tflite"
    assert variant_path("out/m", "fp16", several=True).as_posix() == "out/m_float16.tflite"


def test_cli_writes_and_reports(tiny_run_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        convert_main([str(tiny_run_dir), "--out", str(tmp_path / "cli"), "--quantize", "dynamic"])
    assert done.value.code == 0
    err = capsys.readouterr().err
    assert "dynamic-int8" in err and "pass" in err and "wrote" in err
    assert TfliteClassifier(tmp_path / "cli.tflite").quantization == "dynamic"


@pytest.mark.parametrize(
    "args, message",
    [
        (["{missing}", "--out", "{tmp}/m"], "no such run folder or .keras file"),
        (
            ["{run}", "--out", "{tmp}/m", "--calibration", "{tmp}/nowhere"],
            "data folder does not exist",
        ),
        (["{notkeras}", "--out", "{tmp}/m"], "not a loadable .keras model"),
        (["{run}", "--out", "{tmp}"], "is a folder; --out takes a name"),
    ],
)
def test_cli_user_errors_are_one_line_exit_2(args, message, tiny_run_dir, tmp_path, capsys):
    (tmp_path / "bad.keras").write_bytes(b"not a zip archive")
    fill = {
        "missing": tmp_path / "nope",
        "tmp": tmp_path,
        "run": tiny_run_dir,
        "notkeras": tmp_path / "bad.keras",
    }
    with pytest.raises(SystemExit) as done:
        convert_main([a.format(**fill) for a in args])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split())  # rich wraps long lines at the terminal width
    assert "Traceback" not in err and err.count("error:") == 1


def test_cli_rejects_a_bad_quantize_value(capsys, tmp_path):
    with pytest.raises(SystemExit) as done:
        convert_main([str(tmp_path), "--out", str(tmp_path / "m"), "--quantize", "int4"])
    assert done.value.code == 2
    assert "use one or more of none, fp16, dynamic, int8" in capsys.readouterr().err


def test_parity_windows_follow_the_runs_own_split(tiny_run_dir, toy_data, tmp_path):
    """relsar-train's run.json ({"data_args": …}) and the plain {"data": DIR} give the same
    windows: calibration from training clips, parity on validation clips, never both."""
    from relsar_core.data.datasets import load_splits
    from relsar_core.train.parity import parity_data

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    plain = parity_data(load_source(run_dir))
    del run["data"]
    run["data_args"] = {
        "data": str(toy_data),
        "data_format": "folder",
        "protocol": "random",
        "test_data": None,
    }
    (run_dir / "run.json").write_text(json.dumps(run))
    recorded = parity_data(load_source(run_dir))
    np.testing.assert_array_equal(plain.validation, recorded.validation)
    np.testing.assert_array_equal(plain.calibration, recorded.calibration)
    splits = load_splits(toy_data, 30, 5, 0.15, 0.15, 42)
    assert len(recorded.validation) == len(splits.val)
    val_keys = {w.tobytes() for w in splits.val.windows}
    assert {w.tobytes() for w in recorded.validation} == val_keys
    assert not val_keys & {w.tobytes() for w in recorded.calibration}


def test_a_converter_failure_is_one_line_naming_the_checkpoint(tiny_run_dir, tmp_path, monkeypatch):
    from relsar_core.train.export import SavedModelExport

    def refuse(self, quantization, representative=None):
        raise RuntimeError(
            "loc(fused[...]): error: 'tf.Foo' op is neither a custom op nor a flex op\nnote: more"
        )

    monkeypatch.setattr(SavedModelExport, "convert", refuse)
    with pytest.raises(
        ModelFileError, match=r"best.keras: float32 conversion failed: .*'tf.Foo' op is neither"
    ) as err:
        convert_run(tiny_run_dir, tmp_path / "m", ["none"])
    assert "\n" not in str(err.value) and not (tmp_path / "m.tflite").exists()


def test_run_json_problems_are_clear(tiny_run_dir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**run, "config": {"data": {"strde": 5}}}))
    with pytest.raises(ModelFileError, match=r"run.json: unusable 'config.data'"):
        load_source(run_dir)
    (run_dir / "run.json").write_text(json.dumps({**run, "data": str(tmp_path / "moved")}))
    with pytest.raises(
        DataError, match=r"moved: data folder does not exist \(the data recorded in run.json"
    ):
        convert_run(run_dir, tmp_path / "m", ["none"])
    (run_dir / "run.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="run.json: not valid JSON"):
        load_source(run_dir)
