"""Reproduce the shipped default model in one command (`make default-model`).

    python -m training.default_model [--work build/default-model] [--ship] [--resume]

Steps, each a project command so every one can also be run by hand:
  1. relsar-data webcam       → WORK/data/{train,test,test_whole,test_upper,out_of_set}
  2. relsar-train supervised  → WORK/supervised   (from scratch, the webcam_model config)
  3. relsar-convert           → WORK/tflite/*     (float32, float16, dynamic-range int8)
  3b. python -m training.rejection_cli per variant: the open-set gate, fitted on the training
     split and tuned on VALIDATION only (the trainer's validation clips + data/val_out_of_set)
  4. score every variant with the TFLite runtime the app uses: held-out test (all, whole body,
     upper body only), out-of-set motions shown as a class with the app's default smoothing,
     and the mirror-leak check (nearest training window or its mirror image)
  5. with --ship: copy the chosen model to relsar_core/assets/models/default.{tflite,json}, the demo clips to
     relsar_core/assets/demo/, and the results to relsar_core/assets/models/default_results.json
Prints and writes WORK/results.md and WORK/results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from relsar_core.assets import ASSETS_DIR
from relsar_core.cli import console, run_cli
from relsar_core.data.mocap.shipping import comparison_table, confusion_table
from relsar_core.data.mocap.webcam import UPPER_BODY_CLASSES
from relsar_core.files import write_json, write_text

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ASSETS_DIR
# full-int8 is left out: it fails relsar-convert's parity check on this transformer (top-1 agreement ~31 %).
VARIANTS = ("float32", "float16", "dynamic-int8")
# 300 clips per action (relsar-data's default is 200): the model overfitted 200 (train accuracy
# 0.935, validation 0.837) and stronger regularisation did not close it (MODEL_CARD.md).
TRAIN_CLIPS = 300


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _run(
    step: str,
    args: list[str],
    timings: dict,
    done: Path | None = None,
    previous: dict | None = None,
) -> None:
    """Run one project command; with --resume, a step whose output `done` exists is skipped
    (its time is taken from the earlier run's results, so the totals stay those of a full build)."""
    from relsar_core.errors import RelsarError

    console.rule(f"[bold]{step}")
    if done is not None and done.exists():
        console.print(f"skipped: {done} exists (--resume)", highlight=False)
        if previous and step in previous:
            timings[step] = previous[step]
        return
    console.print(" ".join(args), highlight=False)
    start = time.perf_counter()
    if subprocess.run(args, cwd=ROOT).returncode != 0:
        raise RelsarError(f"{step}: `{' '.join(args)}` failed (see its output above)")
    timings[step] = round(time.perf_counter() - start, 1)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.default_model",
        description="Rebuild the shipped default model from motion capture: data, training, conversion, "
        "held-out scores; --ship copies the result into relsar_core/assets/.",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=ROOT / "build" / "default-model",
        help="working folder for data, runs and reports (default build/default-model)",
    )
    p.add_argument("--seed", type=int, default=0, help="data-generation seed (default 0)")
    p.add_argument(
        "--train-clips",
        type=int,
        default=TRAIN_CLIPS,
        help=f"training clips per action (default {TRAIN_CLIPS}; `other` gets 1.5x as many)",
    )
    p.add_argument(
        "--config",
        default="webcam_model",
        help="relsar-train supervised config name (default: webcam_model)",
    )
    p.add_argument(
        "--ship",
        action="store_true",
        help="copy the model, demo clips and results into relsar_core/assets/",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the steps already finished in WORK (data, runs, conversions) instead of redoing them",
    )
    p.add_argument(
        "--max-drop",
        type=float,
        default=0.01,
        help="largest held-out macro-F1 loss accepted for a quantized variant (default 0.01)",
    )
    return p


def _score(model_path: Path, data: Path, out: Path, gated: bool = True) -> dict:
    """Held-out scores of one .tflite as the app runs it (with its open-set gate; `gated=False`:
    the model alone): all test clips, per framing, out-of-set rejection."""
    from relsar_core.data.evaluate import evaluate_folder, shown_rates
    from relsar_core.live.pipeline import open_classifier
    from relsar_core.runtime.tflite import TfliteClassifier

    if gated:
        model, _ = open_classifier(model_path, num_threads=None)
    else:
        model = TfliteClassifier(model_path)
    scores = {}
    for part in ("test", "test_whole", "test_upper"):
        r = evaluate_folder(model, data / part, out / part, title=part)
        r.pop("clip_predictions")
        scores[part] = r
    upper = [c for c in UPPER_BODY_CLASSES if c in scores["test_upper"]["per_class"]]
    scores["test_upper"]["macro_f1_upper_classes"] = float(
        np.mean([scores["test_upper"]["per_class"][c]["f1"] for c in upper])
    )
    scores["out_of_set"] = shown_rates(model, data / "out_of_set")
    # The same app settings on the test clips: how often the right label is shown.
    scores["test_shown"] = shown_rates(model, data / "test")
    return scores


def _leak_check(data: Path, sample: int = 1000) -> dict:
    """Nearest distance of (a sample of) the test windows to every training window or its mirror.
    Windows in which no joint is ever seen (nobody found for the whole second: all-zero features,
    which the app never classifies) are left out on both sides and counted."""
    from relsar_core.data.datasets import load_clip_folder
    from relsar_core.data.mocap.leak import nearest_distances

    def seen(w: np.ndarray) -> np.ndarray:
        return np.abs(w).reshape(len(w), -1).max(axis=1) > 0

    train = load_clip_folder(data / "train", stride=5).windows
    test = load_clip_folder(data / "test", stride=5).windows
    empty = {"train": int((~seen(train)).sum()), "test": int((~seen(test)).sum())}
    train, test = train[seen(train)], test[seen(test)]
    pick = np.random.default_rng(0).choice(len(test), min(sample, len(test)), replace=False)
    d = nearest_distances(test[pick], train)
    return {
        "test_windows_checked": int(len(pick)),
        "train_windows": int(len(train)),
        "empty_windows_left_out": empty,
        "min_rms_distance": round(float(d.min()), 4),
        "median_rms_distance": round(float(np.median(d)), 4),
    }


def _main(argv: list[str] | None = None) -> int:
    from relsar_core.data.mocap.shipping import choose_webcam_demo_clips, copy_demo_clips

    args = _parser().parse_args(argv)
    work: Path = args.work
    data, tflite, run = work / "data", work / "tflite", work / "supervised"
    timings: dict[str, float] = {}
    previous: dict = {}
    if args.resume and (work / "results.json").is_file():
        previous = json.loads((work / "results.json").read_text()).get("timings_s", {})

    def done(path: Path) -> Path | None:
        return path if args.resume else None

    _run(
        "data",
        [
            _tool("relsar-data"),
            "webcam",
            "--out",
            str(data),
            "--seed",
            str(args.seed),
            "--train-clips",
            str(args.train_clips),
            "--overwrite",
        ],
        timings,
        done(data / "manifest.json"),
        previous,
    )
    if not args.resume and run.exists():
        shutil.rmtree(run)
    _run(
        "supervised",
        [
            _tool("relsar-train"),
            "supervised",
            "--data",
            str(data / "train"),
            "--test-data",
            str(data / "test"),
            "--config",
            args.config,
            "--out",
            str(run),
        ],
        timings,
        done(run / "report" / "report.json"),
        previous,
    )
    _run(
        "convert",
        [
            _tool("relsar-convert"),
            str(run),
            "--out",
            str(tflite / "default"),
            "--quantize",
            "none,fp16,dynamic",
            "--calibration",
            str(data / "train"),
        ],
        timings,
        done(tflite / f"default_{VARIANTS[-1]}.tflite"),
        previous,
    )

    for v in VARIANTS:
        model_json = tflite / f"default_{v}.json"
        has_gate = "rejection" in json.loads(model_json.read_text())
        _run(
            f"gate_{v}",
            [
                sys.executable,
                "-m",
                "training.rejection_cli",
                str(tflite / f"default_{v}.tflite"),
                "--train",
                str(data / "train"),
                "--val-out-of-set",
                str(data / "val_out_of_set"),
                "--config",
                args.config,
            ],
            timings,
            done(model_json) if has_gate else None,
            previous,
        )

    console.rule("[bold]held-out scores (TFLite runtime, app smoothing for rejection)")
    start = time.perf_counter()
    scores = {
        v: _score(tflite / f"default_{v}.tflite", data, work / "reports" / v) for v in VARIANTS
    }
    reference = scores["float32"]["test"]["macro_f1"]
    fits = [v for v in VARIANTS if scores[v]["test"]["macro_f1"] >= reference - args.max_drop]
    shipped = min(fits, key=lambda v: (tflite / f"default_{v}.tflite").stat().st_size)
    ungated = _score(
        tflite / f"default_{shipped}.tflite", data, work / "reports" / "ungated", False
    )
    timings["scoring"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    leak = _leak_check(data)
    timings["leak_check"] = round(time.perf_counter() - start, 1)
    timings["total"] = round(sum(v for k, v in timings.items() if k != "total"), 1)
    rows = [
        {
            "name": f"TFLite {v}",
            "size_kb": (tflite / f"default_{v}.tflite").stat().st_size / 1024,
            **{k: scores[v]["test"][k] for k in ("accuracy", "clip_accuracy", "macro_f1")},
        }
        for v in VARIANTS
    ]
    s = scores[shipped]
    text = "\n\n".join(
        [
            comparison_table(rows),
            f"Shipped: TFLite {shipped} (smallest within {args.max_drop:.2f} macro-F1 of float32).",
            f"Whole body: macro-F1 {s['test_whole']['macro_f1']:.3f}; upper body only: macro-F1 over the "
            f"upper-body classes {s['test_upper']['macro_f1_upper_classes']:.3f}.",
            f"Out of set shown as an action: {s['out_of_set']['shown_as_action']:.1%} "
            f"(as any class {s['out_of_set']['shown_as_any_class']:.1%}).",
            f"Without the open-set gate: macro-F1 {ungated['test']['macro_f1']:.3f}, whole body "
            f"{ungated['test_whole']['macro_f1']:.3f}, upper-body classes "
            f"{ungated['test_upper']['macro_f1_upper_classes']:.3f}, out of set shown as an action "
            f"{ungated['out_of_set']['shown_as_action']:.1%}.",
            f"Leak check: {leak}",
            "Confusion matrix (test, windows):",
            confusion_table(s["test"]),
            "Timings (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()),
        ]
    )
    results = {
        "rows": rows,
        "shipped_variant": shipped,
        "timings_s": timings,
        "seed": args.seed,
        "scores": scores[shipped],
        "scores_without_gate": ungated,
        "rejection": {
            k: v
            for k, v in json.loads((tflite / f"default_{shipped}.json").read_text())[
                "rejection"
            ].items()
            if k in ("threshold", "sharpness", "tuning")
        },
        "leak_check": leak,
        "command": "python -m training.default_model --ship",
        "train_clips": args.train_clips,
    }
    write_text(work / "results.md", text + "\n")
    write_json(work / "results.json", results, indent=1)
    console.print(text, highlight=False)
    if args.ship:
        models = ASSETS / "models"
        shutil.copyfile(tflite / f"default_{shipped}.tflite", models / "default.tflite")
        shutil.copyfile(tflite / f"default_{shipped}.json", models / "default.json")
        write_json(models / "default_results.json", results, indent=1)
        for old in (ASSETS / "demo").glob("*.npz"):
            old.unlink()
        copy_demo_clips(choose_webcam_demo_clips(data), ASSETS / "demo")
        console.print(
            f"shipped {models / 'default.tflite'} and the demo clips in {ASSETS / 'demo'}",
            markup=False,
        )
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()
