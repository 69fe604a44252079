"""relsar-bench's table and JSON, with a stand-in part (the real parts have their own tests)."""

import json
import sys
import types

import pytest

from relsar_core.bench.common import Measurement
from training.bench_cli import main as bench_main


def test_table_and_json_with_targets(monkeypatch, tmp_path, capsys):
    fake = types.ModuleType("relsar_core.bench.train")
    fake.run = lambda quick: [
        Measurement("train", "speed-up", 3.0 if quick else 1.0, "x", ">= 2.5"),
        Measurement("train", "latency", 50.0, "ms", "<= 40"),
        Measurement("train", "untargeted", 1.0, "MB"),
    ]
    monkeypatch.setitem(sys.modules, "relsar_core.bench.train", fake)
    with pytest.raises(SystemExit) as code:
        bench_main(["train", "--quick", "--out", str(tmp_path / "b.json")])
    assert code.value.code == 0
    report = json.loads((tmp_path / "b.json").read_text())
    assert [m["passed"] for m in report["measurements"]] == [True, False, None]
    assert (
        report["quick"] is True
        and report["machine"]["cores"] >= 1
        and "numpy" in report["machine"]["versions"]
    )
    out = capsys.readouterr().err
    assert "speed-up" in out and "pass" in out and "FAIL" in out


def test_markdown_table(monkeypatch, tmp_path):
    fake = types.ModuleType("relsar_core.bench.pose")
    fake.run = lambda quick: [Measurement("pose", "blazepose p50", 11.7, "ms", "<= 15")]
    monkeypatch.setitem(sys.modules, "relsar_core.bench.pose", fake)
    with pytest.raises(SystemExit):
        bench_main(["pose", "--markdown", str(tmp_path / "t.md")])
    assert "| pose | blazepose p50 | 11.7 ms | <= 15 ms | pass |" in (tmp_path / "t.md").read_text()


def test_study_options_reach_the_study_as_plan_changes(monkeypatch, tmp_path):
    fake = types.ModuleType("relsar_core.bench.byol_study")
    seen = {}
    fake.run = lambda quick, **kw: seen.update(kw) or []
    monkeypatch.setitem(sys.modules, "relsar_core.bench.byol_study", fake)
    argv = ["byol-study", "--validation", "--fractions", "0.01,0.1", "--seeds", "0-9"]
    argv += ["--methods", "byol_finetune,supervised", "--finetune-lr-scale", "2"]
    with pytest.raises(SystemExit) as code:
        bench_main([*argv, "--work", str(tmp_path)])
    assert code.value.code == 0
    assert seen["validation"] is True and seen["work"] == tmp_path
    assert seen["plan_changes"] == {
        "fractions": (0.01, 0.1),
        "seeds": tuple(range(10)),
        "methods": ("byol_finetune", "supervised"),
        "finetune_lr_scale": 2.0,
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["byol-study", "--fractions", "0.1,x"], "comma-separated numbers"),
        (["byol-study", "--fractions", "0,0.5"], "each must be in (0, 1]"),
        (["byol-study", "--seeds", "3-"], "comma-separated numbers"),
        (["byol-study", "--methods", "byol_svm"], "unknown ['byol_svm']"),
        (["byol-study", "--finetune-lr-scale", "0"], "must be > 0"),
        (["train", "--validation"], "--validation is for `relsar-bench byol-study` only"),
    ],
)
def test_bad_study_options_are_one_line_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as code:
        bench_main(argv)
    assert code.value.code != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_study_methods_are_the_studys():
    from relsar_core.train.label_study import METHODS
    from training.bench_cli import STUDY_METHODS

    assert STUDY_METHODS == METHODS
