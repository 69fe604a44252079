"""Parity of a converted variant with its Keras model: the windows it is judged on (the run's own
training and validation split), the tolerance of each quantization and the check itself."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from relsar_core.errors import DataError, RelsarError
from relsar_core.runtime.tflite import TfliteRunner
from relsar_core.train.export_source import SourceModel


class ParityError(RelsarError):
    """A converted variant disagrees with its Keras model beyond the variant's tolerance."""

    def __init__(self, message: str, report: ParityReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Tolerance:
    max_logit: float  # max |Δlogit| relative to max(1, max |logit| of the Keras model)
    max_embedding: float  # max |Δembedding| relative to max(1, max |embedding|)
    min_top1: float  # top-1 agreement with the Keras model on the validation windows


# float32 differs from Keras only by op order (measured < 1e-6 relative). fp16 rounds weights to
# 11 bits and dynamic-range int8 to 8 (measured ~1.5e-3 and ~2.5e-2 relative): their bounds are
# about 5x that. Full int8 also quantizes every activation of the post-LN transformer; it moves
# logits by up to about half their range while keeping the top-1 class, so there the top-1 gate
# is what counts and the numeric bound only catches a broken model. Measurements: docs/convert.md.
TOLERANCES = {
    "none": Tolerance(1e-5, 1e-5, 1.0),
    "fp16": Tolerance(1e-2, 1e-2, 0.99),
    "dynamic": Tolerance(0.15, 0.15, 0.99),
    "int8": Tolerance(1.0, 1.0, 0.97),
}


@dataclass
class ParityData:
    calibration: np.ndarray  # (N, T, 60): training-split windows, the int8 representative set
    validation: np.ndarray  # (M, T, 60): validation-split windows, where parity is judged
    labels: np.ndarray  # (M,) class index of each validation window
    source: str  # where they came from, for the report
    calibration_labels: np.ndarray | None = None  # (N,) class index: base centroids for teaching


def _sample(windows: np.ndarray, labels: np.ndarray, limit: int, seed: int = 0):
    keep = np.sort(np.random.default_rng(seed).permutation(len(windows))[:limit])
    return windows[keep], labels[keep]


def parity_data(
    source: SourceModel,
    calibration: str | os.PathLike | None = None,
    max_calibration: int = 300,
    max_validation: int = 2000,
) -> ParityData:
    """Real windows, split by clip as training did: training clips calibrate int8, validation
    clips (else test clips) judge parity. From `calibration` (a `<root>/<class>/*.npz` folder)
    when given, else the run's own data loaded exactly as relsar-train loaded it."""
    from relsar_core.data.datasets import Splits, load_clip_folder, load_splits, split_clips

    cfg = source.data_config
    if calibration is not None:
        where = str(calibration)
        data = load_clip_folder(calibration, source.window, cfg.stride, source.class_names)
        train, val, test = split_clips(
            data.clip_labels, cfg.val_fraction, cfg.test_fraction, cfg.seed
        )
        splits = Splits(
            data.subset(train),
            data.subset(val) if len(val) else None,
            data.subset(test) if len(test) else None,
        )
    elif source.data_args is not None:
        where = str(source.data_args["data"])
        try:
            splits = load_splits(
                window=source.window,
                stride=cfg.stride,
                val_fraction=cfg.val_fraction,
                test_fraction=cfg.test_fraction,
                seed=cfg.seed,
                **source.data_args,
            )
        except DataError as err:  # e.g. the training data moved since: say where the path came from
            raise DataError(
                f"{err} (the data recorded in run.json; --calibration DATA_DIR picks another)"
            ) from None
        if splits.train.class_names != source.class_names:
            raise DataError(
                f"{where}: classes {splits.train.class_names} differ from the model's {source.class_names}"
            )
    else:
        raise DataError(
            f"{source.checkpoint}: no data for the parity check (run.json records none); pass --calibration DATA_DIR"
        )
    held_out = next((ws for ws in (splits.val, splits.test) if ws is not None and len(ws)), None)
    if (
        held_out is None
    ):  # a folder too small to split: judge on the training windows rather than none
        held_out = splits.train
    calib = splits.train if len(splits.train) else held_out
    cal_windows, cal_labels = _sample(calib.windows, calib.labels, max_calibration)
    val_windows, val_labels = _sample(held_out.windows, held_out.labels, max_validation)
    return ParityData(
        cal_windows,
        val_windows,
        val_labels,
        f"{where} ({len(val_windows)} validation, {len(cal_windows)} calibration windows)",
        cal_labels,
    )


@dataclass
class ParityReport:
    quantization: str
    windows: int
    max_logit_diff: float
    max_embedding_diff: float
    logit_scale: float  # max(1, max |logit|): tolerances are relative to it
    embedding_scale: float
    top1_agreement: float
    keras_accuracy: float
    tflite_accuracy: float
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def keras_outputs(model, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = model.predict(windows, batch_size=256, verbose=0)
    return np.asarray(out["logits"]), np.asarray(out["embedding"])


def check_parity(
    runner: TfliteRunner,
    reference: tuple[np.ndarray, np.ndarray],
    data: ParityData,
    quantization: str,
) -> ParityReport:
    """Compare a converted variant with the Keras outputs on the validation windows."""
    ref_logits, ref_emb = reference
    logits, emb = runner.run_batch(data.validation)[:2]
    tol = TOLERANCES[quantization]
    logit_scale = max(1.0, float(np.abs(ref_logits).max()))
    emb_scale = max(1.0, float(np.abs(ref_emb).max()))
    report = ParityReport(
        quantization=quantization,
        windows=len(logits),
        max_logit_diff=float(np.abs(logits - ref_logits).max()),
        max_embedding_diff=float(np.abs(emb - ref_emb).max()),
        logit_scale=logit_scale,
        embedding_scale=emb_scale,
        top1_agreement=float(np.mean(logits.argmax(1) == ref_logits.argmax(1))),
        keras_accuracy=float(np.mean(ref_logits.argmax(1) == data.labels)),
        tflite_accuracy=float(np.mean(logits.argmax(1) == data.labels)),
    )
    if not np.isfinite(logits).all() or not np.isfinite(emb).all():
        report.problems.append("non-finite outputs")
    if report.max_logit_diff > tol.max_logit * logit_scale:
        report.problems.append(
            f"max |Δlogit| {report.max_logit_diff:.3g} > {tol.max_logit * logit_scale:.3g}"
        )
    if report.max_embedding_diff > tol.max_embedding * emb_scale:
        report.problems.append(
            f"max |Δembedding| {report.max_embedding_diff:.3g} > {tol.max_embedding * emb_scale:.3g}"
        )
    if report.top1_agreement < tol.min_top1:
        report.problems.append(f"top-1 agreement {report.top1_agreement:.2%} < {tol.min_top1:.0%}")
    return report
