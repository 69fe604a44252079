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
