"""relsar-convert: a trained run (or .keras file) → TFLite variants + sidecar JSON, each checked
for parity against the Keras model on real windows before it is written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.table import Table

from relsar_core.cli import console, run_cli
from relsar_core.runtime.tflite import QUANTIZATIONS
from relsar_core.train.tf_setup import quiet_tensorflow


def _quantizations(text: str) -> list[str]:
    """'int8', 'none,fp16' or 'all' → the variants to write, in a fixed order."""
    wanted = (
        QUANTIZATIONS
        if text.strip() == "all"
        else [q.strip() for q in text.split(",") if q.strip()]
    )
    bad = [q for q in wanted if q not in QUANTIZATIONS]
    if bad or not wanted:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use one or more of {', '.join(QUANTIZATIONS)} or 'all'"
        )
    return [q for q in QUANTIZATIONS if q in wanted]


def _classes(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r}: expected distinct comma-separated class names")
    return names


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relsar-convert",
        description="Convert a trained ReL-SAR classifier to TFLite (builtin ops only) and write "
        "NAME.tflite + NAME.json (class names, layout, window, feature normalization, quantization, "
        "source checkpoint, SHA-256). Every variant is compared with the Keras model on real "
        "validation windows (max |Δlogit|, max |Δembedding|, top-1 agreement); a variant outside "
        "its tolerance is not written and the command fails. Prints a table of size, parity and latency.",
    )
    p.add_argument(
        "source",
        type=Path,
        help="a run folder from relsar-train (uses best.keras and run.json) or a .keras file",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output name: NAME → NAME.tflite + NAME.json; with several variants "
        "NAME_float32, NAME_float16, NAME_dynamic-int8, NAME_full-int8",
    )
    p.add_argument(
        "--quantize",
        type=_quantizations,
        default=["none"],
        metavar="Q",
        help="none (float32, default), fp16 (float16 weights), dynamic (int8 weights, "
        "float activations), int8 (full integer, calibrated on real windows; float32 "
        "input/output kept); several comma-separated, or 'all'",
    )
    p.add_argument(
        "--calibration",
        type=Path,
        metavar="DATA_DIR",
        help="<root>/<class>/<clip>.npz folder for the int8 representative windows and the "
        "parity check (default: the training data recorded in run.json); split by clip "
        "with the run's settings: training clips calibrate, validation clips judge",
    )
    p.add_argument(
        "--classes",
        type=_classes,
        metavar="A,B,C",
        help="class names for a bare .keras file without a run.json beside it "
        "(default: class_0, class_1, …)",
    )
    p.add_argument(
        "--replace-taught",
        action="store_true",
        help="replace an existing NAME.tflite that has taught actions beside it (NAME.taught.npz "
        "no longer matches the new model: teach again); without it that is refused, while an "
        "existing pair without taught actions is replaced",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="interpreter threads for the parity and latency check (default: CPU count, at most 4)",
    )
    return p


def _table(results) -> Table:
    """Short columns: the table must stay readable in an 80-column terminal."""
    from relsar_core.train.export import VARIANT_NAMES

    table = Table(title="relsar-convert: parity against Keras on validation windows")
    for col in ("variant", "KiB", "Δlogit", "Δemb", "top-1", "acc K/T", "p50 ms", "ok"):
        table.add_column(col, justify="left" if col in ("variant", "ok") else "right")
    for r in results:
        p = r.parity
        table.add_row(
            VARIANT_NAMES[r.quantization],
            f"{r.size_bytes / 1024:,.0f}",
            f"{p.max_logit_diff:.1e}",
            f"{p.max_embedding_diff:.1e}",
            f"{p.top1_agreement:.1%}",
            f"{p.keras_accuracy:.0%}/{p.tflite_accuracy:.0%}",
            f"{r.latency_ms:.3f}" if r.latency_ms is not None else "-",
            "[green]pass[/]" if p.passed else "[red]FAIL[/]",
        )
    n = results[0].parity.windows if results else 0
    table.caption = (
        f"Δ = max |Keras − TFLite| over {n} windows; top-1 = agreement with Keras; "
        "acc = accuracy Keras / TFLite"
    )
    return table


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.threads is not None and args.threads < 1:
        _parser().error("--threads must be at least 1")
    quiet_tensorflow()
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from relsar_core.train.export import VARIANT_NAMES, convert_run
    from relsar_core.train.parity import ParityError

    results = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(
            "loading the model and cutting windows …", total=len(args.quantize)
        )

        def on_start(quantization: str) -> None:
            progress.update(
                task, description=f"converting {VARIANT_NAMES[quantization]} and checking parity …"
            )

        def on_result(result) -> None:
            results.append(result)
            progress.advance(task)

        try:
            convert_run(
                args.source,
                args.out,
                args.quantize,
                args.calibration,
                args.classes,
                args.threads,
                on_result,
                on_start,
                args.replace_taught,
            )
        except ParityError:
            progress.stop()
            console.print(_table(results))
            raise  # run_cli prints the one-line reason (which variant, which bound) and exits 2
    console.print(_table(results))
    for r in results:
        console.print(f"wrote {r.tflite_path} + {r.json_path.name}", markup=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    sys.exit(run_cli(_main, argv))
