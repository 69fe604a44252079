"""Reproduce the shipped default model in one command (`make default-model`).

    python -m training.default_model [--work build/default-model] [--ship]

Steps, each a project command so every one can also be run by hand:
  1. relsar-data mocap        → WORK/data/{train,test}   (motion capture seen by virtual cameras)
  2. relsar-train supervised  → WORK/supervised          (from scratch, the default_model config)
     relsar-train byol        → WORK/byol                (pre-training on the training side, no labels)
     relsar-train finetune    → WORK/finetune            (BYOL encoder + new head, all trained)
     relsar-train linear      → WORK/linear              (linear probe on the frozen BYOL encoder)
  3. relsar-convert           → WORK/tflite/*            (the supervised run: float32 + quantized
                                                           variants)
  4. score every variant on the held-out test side with the TFLite runtime the app uses
  5. with --ship: copy the chosen model to assets/models/default.{tflite,json}, the demo clips to
     assets/demo/, and the results to assets/models/default_results.json
Prints and writes WORK/results.md and WORK/results.json (comparison table, confusion matrix, timings).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from relsar_core.cli import console, run_cli

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
# full-int8 is left out: it fails relsar-convert's parity check on this transformer (top-1 agreement ~31 %).
VARIANTS = ("float32", "float16", "dynamic-int8")


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


def _best_val_accuracy(run: Path) -> float:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return max(json.loads(line).get("val_accuracy", 0.0) for line in lines if line.strip())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.default_model",
        description="Rebuild the shipped default model from motion capture: data, training, conversion, "
        "held-out scores; --ship copies the result into assets/.",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=ROOT / "build" / "default-model",
        help="working folder for data, runs and reports (default build/default-model)",
    )
    p.add_argument("--seed", type=int, default=0, help="data-generation seed (default 0)")
    p.add_argument(
        "--config",
        default="default_model",
        help="config name: NAME for supervised, NAME_byol, NAME_finetune, NAME_linear (default: default_model)",
    )
    p.add_argument(
        "--ship", action="store_true", help="copy the model, demo clips and results into assets/"
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
        help="largest held-out accuracy loss accepted for a quantized variant (default 0.01)",
    )
    return p


def _main(argv: list[str] | None = None) -> int:
    from relsar_core.data.mocap.shipping import (
        choose_demo_clips,
        comparison_table,
        confusion_table,
        copy_demo_clips,
    )

    args = _parser().parse_args(argv)
    work: Path = args.work
    data, tflite = work / "data", work / "tflite"
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
            "mocap",
            "--out",
            str(data),
            "--seed",
            str(args.seed),
            "--overwrite",
        ],
        timings,
        done(data / "manifest.json"),
        previous,
    )
    runs = {
        "supervised": work / "supervised",
        "byol+finetune": work / "finetune",
        "byol+linear": work / "linear",
    }
    byol = work / "byol"
    if not args.resume:
        for path in [*runs.values(), byol]:
            if path.exists():
                shutil.rmtree(path)
    labelled = ["--data", str(data / "train"), "--test-data", str(data / "test")]
    _run(
        "supervised",
        [
            _tool("relsar-train"),
            "supervised",
            *labelled,
            "--config",
            args.config,
            "--out",
            str(runs["supervised"]),
        ],
        timings,
        done(runs["supervised"] / "report" / "report.json"),
        previous,
    )
    _run(
        "byol",
        [
            _tool("relsar-train"),
            "byol",
            "--data",
            str(data / "train"),
            "--config",
            f"{args.config}_byol",
            "--out",
            str(byol),
        ],
        timings,
        done(byol / "encoder.keras"),
        previous,
    )
    for mode, run in (("finetune", runs["byol+finetune"]), ("linear", runs["byol+linear"])):
        _run(
            mode,
            [
                _tool("relsar-train"),
                mode,
                *labelled,
                "--encoder",
                str(byol),
                "--config",
                f"{args.config}_{mode}",
                "--out",
                str(run),
            ],
            timings,
            done(run / "report" / "report.json"),
            previous,
        )
    # Ship the supervised model. Validation clips share training's cameras, so validation accuracy
    # saturates (0.998-0.999 for both recipes) and cannot choose; in two full builds supervised
    # beat BYOL + fine-tuning on the held-out side by 1.4 and 1.9 points (MODEL_CARD.md).
    best_run = "supervised"
    _run(
        "convert",
        [
            _tool("relsar-convert"),
            str(runs[best_run]),
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

    console.rule("[bold]held-out scores (TFLite runtime)")
    scoring_start = time.perf_counter()
    from relsar_core.data.mocap.shipping import evaluate_tflite

    rows, reports = [], {}
    for name, run in runs.items():
        report = json.loads((run / "report" / "report.json").read_text())
        rows.append(
            {
                "name": f"{name} (Keras)",
                "val_accuracy": round(_best_val_accuracy(run), 4),
                **{k: report[k] for k in ("accuracy", "clip_accuracy", "macro_f1")},
            }
        )
    for variant in VARIANTS:
        model = tflite / f"default_{variant}.tflite"
        report = evaluate_tflite(
            model, data / "test", work / "reports" / variant, title=f"test, {variant}"
        )
        reports[variant] = report
        rows.append(
            {
                "name": f"{best_run} TFLite {variant}",
                "size_kb": model.stat().st_size / 1024,
                **{k: report[k] for k in ("accuracy", "clip_accuracy", "macro_f1")},
            }
        )
    # Ship the smallest variant within --max-drop of float32 on the held-out side.
    reference = reports["float32"]["accuracy"]
    fits = [v for v in VARIANTS if reports[v]["accuracy"] >= reference - args.max_drop]
    shipped = min(fits, key=lambda v: (tflite / f"default_{v}.tflite").stat().st_size)
    timings["scoring"] = round(time.perf_counter() - scoring_start, 1)
    # The sum of the steps: a full build's wall time, also when --resume reused earlier steps.
    timings["total"] = round(sum(v for k, v in timings.items() if k != "total"), 1)

    text = "\n\n".join(
        [
            comparison_table(rows),
            f"Shipped: {best_run}, TFLite {shipped} (smallest within "
            f"{args.max_drop * 100:.0f} point of float32 on the test side).",
            "Confusion matrix of the shipped variant on the held-out test side (windows):",
            confusion_table(reports[shipped]),
            "Timings (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()),
        ]
    )
    results = {
        "rows": rows,
        "shipped_run": best_run,
        "shipped_variant": shipped,
        "timings_s": timings,
        "seed": args.seed,
        "shipped_report": reports[shipped],
    }
    (work / "results.md").write_text(text + "\n")
    (work / "results.json").write_text(json.dumps(results, indent=1))
    console.print(text, highlight=False)

    if args.ship:
        models = ASSETS / "models"
        models.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tflite / f"default_{shipped}.tflite", models / "default.tflite")
        shutil.copyfile(tflite / f"default_{shipped}.json", models / "default.json")
        (models / "default_results.json").write_text(json.dumps(results, indent=1) + "\n")
        for old in (ASSETS / "demo").glob("*.npz"):
            old.unlink()
        copy_demo_clips(choose_demo_clips(data), ASSETS / "demo")
        console.print(
            f"shipped {models / 'default.tflite'} and the demo clips in {ASSETS / 'demo'}"
        )
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()
