"""`relsar-bench teach` end to end on a tiny set: the shipped model, real generated clips of
motions it never saw, the JSON report's fields and bounds a working head must meet."""

from __future__ import annotations

import json

import pytest

from relsar_core.assets import DEFAULT_MODEL
from relsar_core.bench import teach
from relsar_core.errors import DataError
from training.bench_cli import main as bench_main

METRICS = (
    "accuracy",
    "retention",
    "false accepts",
    "twin confusion",
    "accuracy, each window alone",
    "retention, each window alone",
    "false accepts, each window alone",
    "accuracy as the app shows it (smoothed)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "teach.json"
    patch = pytest.MonkeyPatch()
    # 3 teaching clips and 2 scored clips per action, 1 base clip per class; k = 1 and 3.
    patch.setattr(teach, "QUICK_SIZES", (3, 2, 1))
    patch.setattr(teach, "KS", (1, 3))
    try:
        with pytest.raises(SystemExit) as done:
            bench_main(["teach", "--quick", "--out", str(out), "--model", str(DEFAULT_MODEL)])
    finally:
        patch.undo()
    assert done.value.code == 0
    return json.loads(out.read_text())


def _values(report) -> dict[str, float]:
    return {m["name"]: m["value"] for m in report["measurements"] if m["part"] == "teach"}


def test_report_has_every_space_k_and_measure(report):
    values = _values(report)
    assert report["quick"] is True and report["command"].startswith("relsar-bench teach")
    for space in teach.SPACES:
        for k in (1, 3):
            for metric in METRICS:
                assert 0.0 <= values[f"{space} k={k} {metric}"] <= 1.0, (space, k, metric)
        assert f"{space} k=5 accuracy" not in values  # k above the teaching clips is left out
    assert "k=3 accuracy gain over raw features" in values
    for space in teach.SPACES:
        assert 0.0 <= values[f"hand twin confusion k=3 on {space}"] <= 1.0
        assert 0.0 <= values[f"hand twins k=3 accuracy on {space}"] <= 1.0
    targets = {m["name"]: m["target"] for m in report["measurements"]}
    assert targets["embedding+descriptors k=3 accuracy"] == ">= 0.9"
    assert targets["k=3 accuracy gain over raw features"] == ">= 0.05"


def test_head_beats_chance_keeps_base_classes_and_fits_fast(report):
    values = _values(report)
    chance = 1 / len(teach.TAUGHT)
    # A broken head (wrong labels, gate that accepts or rejects everything) fails these.
    assert values["embedding+descriptors k=3 accuracy"] >= 3 * chance
    assert (
        values["embedding+descriptors k=3 accuracy"]
        >= values["embedding+descriptors k=1 accuracy"] - 0.1
    )
    assert values["embedding+descriptors k=3 retention"] >= 0.6
    assert values["head fit k=3"] < 1000.0
    for name, value in values.items():
        if "closed-set" in name:
            assert 0.0 <= value <= 1.0, name
    assert values["k=3 closed-set 1-NN on embedding+descriptors"] >= 3 * chance


def test_a_model_of_other_classes_is_one_clear_error():
    with pytest.raises(DataError, match="neither the webcam nor the mocap"):
        teach.base_set_of(["a", "b"])
    assert teach.base_set_of(
        ["still", "walk", "run", "jump", "kick", "punch", "spin_kick", "dance"]
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["pose", "--model", "x.tflite"], "--model is for `relsar-bench teach` only"),
        (["teach", "--model", "missing.tflite"], "missing.tflite: no such model file"),
    ],
)
def test_model_option_errors_are_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as done:
        bench_main(args)
    err = capsys.readouterr().err
    assert done.value.code == 2 and message in err and "Traceback" not in err


def test_report_names_each_taught_actions_accuracy(report):
    values = _values(report)
    per = {a: values[f"embedding+descriptors k=3 accuracy of {a}"] for a in teach.TAUGHT}
    overall = values["embedding+descriptors k=3 accuracy"]
    # The overall accuracy is the window-weighted mean of the actions' own.
    assert min(per.values()) - 1e-9 <= overall <= max(per.values()) + 1e-9, (per, overall)
    assert all(0.0 <= v <= 1.0 for v in per.values())
