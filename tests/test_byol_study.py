"""`relsar-bench byol-study --quick`: the label-efficiency study's plumbing on toy clips (tiny
model, a few steps): every method × fraction row, seeds aggregated, sane values, the files."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    from relsar_core.bench.byol_study import run

    work = tmp_path_factory.mktemp("study")
    return work, run(quick=True, work=work)


@pytest.mark.slow
def test_quick_study_has_every_row_with_sane_values(quick_study):
    work, measurements = quick_study
    result = json.loads((work / "byol_study.json").read_text())
    rows = {(r["method"], r["fraction"]): r for r in result["rows"]}
    methods = ("supervised", "byol_finetune", "byol_linear", "byol_knn")
    assert set(rows) == {(m, f) for m in methods for f in (0.01, 0.05, 0.1, 1.0)}
    assert len(result["runs"]) == 4 * 4 * 2  # methods × fractions × seeds
    for r in rows.values():
        assert r["seeds"] == 2
        assert 0.0 <= r["accuracy_min"] <= r["accuracy_mean"] <= r["accuracy_max"] <= 1.0
        assert r["accuracy_std"] >= 0.0
    # 1 %: one clip per class (5 toy classes); 100 %: every training clip (10 per class, less
    # the 15 % validation clips).
    assert rows[("supervised", 0.01)]["labelled_clips"] == 5
    assert rows[("supervised", 1.0)]["labelled_clips"] == 5 * 10 - len(
        result["split"]["val"]["clips"]
    )
    # The toy classes are separable: k-NN and the probe on all labels are far above chance
    # (0.2); a mix-up of embeddings and labels would land near chance.
    assert rows[("byol_knn", 1.0)]["accuracy_mean"] >= 0.6
    assert rows[("byol_linear", 1.0)]["accuracy_mean"] >= 0.6
    # BYOL never saw the test folder; every run scored the same test windows.
    assert result["byol"]["windows"] > 0 and len(result["split"]["test"]["clips"]) == 5 * 3
    names = [m.name for m in measurements]
    assert "linear probe / supervised, 100% labels" in names
    assert sum(n.startswith("BYOL + fine-tune − supervised") for n in names) == 3
    table = (work / "byol_study.md").read_text()
    assert "BYOL + fine-tune" in table and table.count("\n") == 2 + 4 + 1
    assert (work / "byol_study.png").read_bytes()[:4] == b"\x89PNG"


def test_cut_takes_the_same_fraction_of_training_and_validation_clips(toy_data):
    from relsar_core.data.datasets import load_splits
    from relsar_core.train.label_study import cut

    splits = load_splits(toy_data, 30, 10, 0.3, 0.15, 42)
    part = cut(splits, 0.01, seed=0)
    for full, few in ((splits.train, part.train), (splits.val, part.val)):
        assert len(np.unique(few.clip_ids)) == full.num_classes  # one clip per class
        assert set(np.unique(few.clip_ids)) <= set(np.unique(full.clip_ids))
    assert part.test is splits.test
    other = cut(splits, 0.01, seed=1)  # another seed, another draw of labelled clips
    assert set(np.unique(other.train.clip_ids)) != set(np.unique(part.train.clip_ids))
