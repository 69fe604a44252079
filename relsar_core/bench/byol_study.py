"""`relsar-bench byol-study`: the label-efficiency study of BYOL (relsar_core.train.label_study)
on the default model's data, written as JSON, a Markdown table and a PNG plot.

    relsar-bench byol-study [--data DIR] [--work DIR] [--quick]

DIR holds `train/` and `test/` as `relsar-data webcam` writes them (the test side holds out
viewpoints, styles and body proportions). Without --data, a subset of the default model's data
is generated into WORK/data (`relsar-data webcam --seed 0` with fewer clips per class: the
first clips of the full data set, which draws every clip from its own seed). --quick runs the
same plumbing on toy clips with the tiny model in seconds (a test, not a result).

--validation tunes without the test side: the study runs on the training folder alone, its
validation clips (the split the trainer itself holds out) standing in for the test folder, which
is never read. Choices are made this way and scored on the test side once (docs/byol.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from relsar_core.bench.common import Measurement
from relsar_core.files import atomic_write, write_json, write_text

# The default model's data, cut to what the 2-core budget allows (see docs/byol.md).
TRAIN_CLIPS, TEST_CLIPS = 40, 20
LABELS = {
    "supervised": "supervised from scratch",
    "byol_finetune": "BYOL + fine-tune",
    "byol_linear": "BYOL + linear probe",
    "byol_knn": "BYOL + k-NN",
}


def study_data(work: Path, quick: bool) -> tuple[Path, Path]:
    """(train folder, test folder): toy clips for --quick, else a webcam subset (made once)."""
    if quick:
        from relsar_core.skeleton.synthetic import make_toy_dataset

        if not (work / "data" / "train").is_dir():
            make_toy_dataset(work / "data" / "train", clips_per_class=10, frames=60, seed=0)
            make_toy_dataset(work / "data" / "test", clips_per_class=3, frames=60, seed=1)
        return work / "data" / "train", work / "data" / "test"
    from dataclasses import asdict

    from relsar_core.data.mocap.webcam import WebcamConfig, generate_webcam_dataset

    data = work / "data"
    # As `relsar-data webcam --train-clips 40 --test-clips 20` (`other` gets 1.5× as many).
    cfg = WebcamConfig(
        0, TRAIN_CLIPS, TEST_CLIPS, out_of_set_clips=1, other_clips=round(1.5 * TRAIN_CLIPS)
    )
    manifest = data / "manifest.json"
    same = manifest.is_file() and json.loads(manifest.read_text()).get("config") == asdict(cfg)
    if not same:
        generate_webcam_dataset(data, cfg, overwrite=True)
    return data / "train", data / "test"


def validation_data(train: Path, out: Path) -> tuple[Path, Path]:
    """(train, test) folders in `out` for --validation: the training folder's validation clips
    (the split `run_study` holds out, from the `webcam_model` recipe's fraction and seed) as the
    test side, the rest as the training side. Hard links where the file system allows."""
    import shutil

    import numpy as np

    from relsar_core.config import RunConfig, load_config
    from relsar_core.data.datasets import find_clips, split_clips

    pairs, names = find_clips(train)
    labels = np.array([names.index(c) for _, c in pairs])
    data = load_config("webcam_model", RunConfig).data
    _, val, _ = split_clips(labels, data.val_fraction, 0.0, data.seed)
    held = set(val.tolist())
    if out.exists():
        shutil.rmtree(out)
    for i, (path, name) in enumerate(pairs):
        side = out / ("test" if i in held else "train") / name
        side.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, side / path.name)
        except OSError:
            shutil.copy2(path, side / path.name)
    return out / "train", out / "test"


def markdown(result: dict) -> str:
    """The study table: accuracy mean ± std (min–max) over the seeds, per method and fraction."""
    fractions = result["plan"]["fractions"]
    head = "| method | " + " | ".join(f"{f:.0%} labels" for f in fractions) + " |"
    lines = [head, "|---|" + "---:|" * len(fractions)]
    rows = {(r["method"], r["fraction"]): r for r in result["rows"]}
    for method, label in LABELS.items():
        if not any((method, f) in rows for f in fractions):
            continue  # not run (--methods)
        cells = []
        for f in fractions:
            r = rows.get((method, f))
            cells.append(
                f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} "
                f"({r['accuracy_min']:.3f}–{r['accuracy_max']:.3f})"
                if r
                else "–"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    clips = {r["fraction"]: r["labelled_clips"] for r in result["rows"]}
    lines.append(
        "| labelled training clips | "
        + " | ".join(str(clips.get(f, "–")) for f in fractions)
        + " |"
    )
    fixed = [
        m
        for m in LABELS
        if any((m, f) in rows and "accuracy_last_mean" in rows[(m, f)] for f in fractions)
    ]
    if fixed:  # the same runs scored with their last epoch's weights
        lines += [
            "",
            "The same runs, last epoch's weights (a fixed schedule, no checkpoint choice):",
            "",
        ]
        lines += [head, "|---|" + "---:|" * len(fractions)]
        for method in fixed:
            cells = [
                f"{rows[(method, f)]['accuracy_last_mean']:.3f} ± {rows[(method, f)]['accuracy_last_std']:.3f}"
                if (method, f) in rows
                else "–"
                for f in fractions
            ]
            lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = result["plan"]["fractions"]
    rows = {(r["method"], r["fraction"]): r for r in result["rows"]}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, label in LABELS.items():
        have = [f for f in fractions if (method, f) in rows]
        if not have:
            continue
        mean = [rows[(method, f)]["accuracy_mean"] for f in have]
        std = [rows[(method, f)]["accuracy_std"] for f in have]
        ax.errorbar([100 * f for f in have], mean, yerr=std, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xticks([100 * f for f in fractions], [f"{f:.0%}" for f in fractions])
    ax.set_xlabel("labelled training clips")
    side = "validation" if result.get("validation") else "held-out test"
    ax.set_ylabel(f"{side} accuracy (windows)")
    ax.set_title(f"Label efficiency, mean ± std of {len(result['plan']['seeds'])} seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def measurements(result: dict) -> list[Measurement]:
    """One row per method and fraction, and the targets of issue #17 as pass/fail rows."""
    rows = {(r["method"], r["fraction"]): r for r in result["rows"]}
    out = [
        Measurement(
            "byol-study",
            f"{LABELS[m]}, {f:.0%} labels (mean of {r['seeds']} seeds)",
            r["accuracy_mean"],
            "accuracy",
            detail=r,
        )
        for (m, f), r in rows.items()
    ]
    full = max(result["plan"]["fractions"])
    if ("byol_linear", full) in rows and ("supervised", full) in rows:
        linear, supervised = rows[("byol_linear", full)], rows[("supervised", full)]
        out.append(
            Measurement(
                "byol-study",
                f"linear probe / supervised, {full:.0%} labels",
                linear["accuracy_mean"] / max(supervised["accuracy_mean"], 1e-9),
                "x",
                target=">= 0.85",
            )
        )
    for f in result["plan"]["fractions"]:
        if f < 1 and {("byol_finetune", f), ("supervised", f)} <= rows.keys():
            gain = (
                rows[("byol_finetune", f)]["accuracy_mean"]
                - rows[("supervised", f)]["accuracy_mean"]
            )
            out.append(
                Measurement(
                    "byol-study",
                    f"BYOL + fine-tune − supervised, {f:.0%} labels",
                    gain,
                    "accuracy",
                    target=">= 0",
                )
            )
            finetune, supervised = rows[("byol_finetune", f)], rows[("supervised", f)]
            if "accuracy_last_mean" in finetune and "accuracy_last_mean" in supervised:
                out.append(  # informational: the protocol's target uses the checkpoint rule
                    Measurement(
                        "byol-study",
                        f"BYOL + fine-tune − supervised, {f:.0%} labels, last epoch's weights",
                        finetune["accuracy_last_mean"] - supervised["accuracy_last_mean"],
                        "accuracy",
                    )
                )
    return out


def run(
    quick: bool,
    data: str | os.PathLike | None = None,
    work: str | os.PathLike | None = None,
    validation: bool = False,
    plan_changes: dict | None = None,
) -> list[Measurement]:
    """The study (or, `validation`, its stand-in on the training folder alone), with the plan
    changed by `plan_changes` (StudyPlan fields: fractions, seeds, methods, …)."""
    from dataclasses import replace

    from relsar_core.cli import console
    from relsar_core.train.label_study import StudyPlan, quick_plan, run_study

    work = Path(work or ("build/byol-study-quick" if quick else "build/byol-study"))
    work.mkdir(parents=True, exist_ok=True)
    if data is not None:
        train, test = Path(data) / "train", Path(data) / "test"
    else:
        train, test = study_data(work, quick)
    for folder in (train, test):
        if not folder.is_dir():
            from relsar_core.errors import DataError

            raise DataError(f"{folder}: no such folder (--data needs train/ and test/ inside)")
    if validation:  # the test folder is never read
        train, test = validation_data(train, work / "validation")
    plan = replace(quick_plan() if quick else StudyPlan(), **(plan_changes or {}))
    runs = work / "runs"
    if runs.exists():  # the pre-training stays: run_study reuses it when its recipe matches
        import shutil

        for old in runs.iterdir():
            if old.name == "byol":
                continue
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
    result = run_study(train, test, runs, plan, log=lambda s: console.print(s, highlight=False))
    result["quick"] = quick
    result["validation"] = validation
    write_json(work / "byol_study.json", result, indent=1)
    write_text(work / "byol_study.md", markdown(result))
    plot(result, work / "byol_study.png")
    console.print(markdown(result), highlight=False)
    console.print(
        f"wrote {work / 'byol_study.json'}, .md and .png ({result['seconds']:.0f} s)", markup=False
    )
    return measurements(result)
