"""`relsar-gate`: fit a converted model's open-set gate on validation data, into its sidecar.

    relsar-gate MODEL.tflite --train DIR --val-out-of-set DIR [--config webcam_model] [--target 0.2]
                [--flip-average | --no-flip-average]

(`python -m training.rejection_cli` is the same command.)

The validation clips are those the trainer held out with the config's `data.val_fraction` and
`data.seed`; `--val-out-of-set` is a folder `<motion>/<clip>.npz` of motions that are no class
and are not the rejection test's (`relsar-data webcam` writes `val_out_of_set/`). See
relsar_core.data.rejection_tuning and relsar_core.runtime.rejection.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from relsar_core.cli import console, run_cli


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relsar-gate",
        description="Fit the open-set gate (class-mean embedding cosine) of a .tflite model on "
        "validation data and write it into the model's sidecar JSON. The model needs a "
        "rejection class (`other`, trained on motions that are no action, as `relsar-data "
        "webcam` makes them): the gate learns where its windows lie.",
    )
    p.add_argument("model", type=Path, help="the .tflite model (its .json beside it)")
    p.add_argument("--train", type=Path, required=True, help="the training folder <class>/*.npz")
    p.add_argument(
        "--val-out-of-set",
        type=Path,
        required=True,
        help="folder <motion>/<clip>.npz of validation-only motions that are no class",
    )
    p.add_argument(
        "--config",
        default="webcam_model",
        help="the training config whose data.val_fraction / data.seed made the split (default webcam_model)",
    )
    p.add_argument(
        "--target",
        type=float,
        default=None,
        help="largest share of validation out-of-set windows shown as an action (default 0.2)",
    )
    p.add_argument(
        "--flip-average",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="average each window's class scores with its mirror image's (written into the "
        "sidecar with the gate; default: keep what the sidecar says)",
    )
    return p


def _main(argv: list[str] | None = None) -> int:
    from relsar_core.config import RunConfig, load_config
    from relsar_core.data.rejection_tuning import DEFAULT_TARGET, tune_rejection, write_rejection
    from relsar_core.errors import DataError

    args = _parser().parse_args(argv)
    target = DEFAULT_TARGET if args.target is None else args.target
    if not 0.0 <= target <= 1.0:
        raise DataError(f"--target must lie in [0, 1], got {target}")
    for folder in (args.train, args.val_out_of_set):
        if not folder.is_dir():
            raise DataError(f"{folder}: no such data folder")
    cfg = load_config(args.config, RunConfig)
    entry = tune_rejection(
        args.model,
        args.train,
        args.val_out_of_set,
        cfg.data.val_fraction,
        cfg.data.seed,
        target,
        flip_average=args.flip_average,
    )
    write_rejection(args.model, entry)
    t = entry["tuning"]
    for row in [t["ungated"], *t["table"]]:
        console.print(
            f"threshold {row['threshold']}: validation macro-F1 {row['val_macro_f1']:.3f}, "
            f"shown as own class {row['val_shown_as_own_class']:.3f}, out of set shown as an action "
            f"{row['val_out_of_set_shown_as_action']:.3f}",
            highlight=False,
        )
    console.print(
        f"chose threshold {entry['threshold']} (target {target}, flip averaging "
        f"{'on' if t['flip_average'] else 'off'}); wrote {args.model.with_suffix('.json')}",
        markup=False,
    )
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))


if __name__ == "__main__":
    main()
