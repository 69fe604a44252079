"""TFLite export of a trained classifier: float32, float16, dynamic-range int8 and full int8
variants, each checked against the Keras model on real windows before it is written.

The Keras model goes through a SavedModel written by keras.export.ExportArchive (that is what
freezes Keras 3 variables into constants; converting a bare tf.function leaves them as resource
variables the interpreter cannot read) with one signature, `serving_default`:
`skeleton` float32 [1, T, 60] → `logits` [1, K], `embedding` [1, E]. Builtin ops only.
This module imports TensorFlow; the runtime side (relsar_core.runtime.tflite) does not.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from relsar_core import __version__
from relsar_core.config import DataConfig
from relsar_core.errors import DataError, ModelFileError, RelsarError
from relsar_core.files import atomic_write, check_output_file, write_text
from relsar_core.runtime.tflite import (
    INPUT_NAME,
    QUANTIZATIONS,
    SIDECAR_FORMAT,
    SIGNATURE_KEY,
    TfliteRunner,
    feature_spec,
    native_stderr_silenced,
    pending_sidecar_path,
    sidecar_path,
)
from relsar_core.skeleton.features import FEATURE_DIM

VARIANT_NAMES = {
    "none": "float32",
    "fp16": "float16",
    "dynamic": "dynamic-int8",
    "int8": "full-int8",
}


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
class SourceModel:
    """A trained two-output classifier and what the sidecar needs to know about it."""

    model: object  # keras.Model with outputs {"logits", "embedding"}
    checkpoint: Path
    class_names: list[str]
    window: int
    layout: str
    embedding_dim: int
    data_args: dict | None  # how run.json says the training data was loaded (load_splits arguments)
    data_config: DataConfig  # split settings, so validation windows are the run's own


def _load_keras(path: Path):
    import keras

    import relsar_core.train.model  # noqa: F401  registers the custom layer before loading
    from relsar_core.train.model import keras_problem

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive; all mean "unusable file"
        raise ModelFileError(
            f"{path}: not a loadable .keras model ({keras_problem(exc)})"
        ) from None


def _read_run_json(path: Path) -> dict:
    try:
        run = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(run, dict):
        raise ModelFileError(f"{path}: expected a JSON object")
    return run


def _run_data_args(run: dict) -> dict | None:
    """relsar-train records {"data_args": {"data", "data_format", "protocol", "test_data"}};
    a plain {"data": DIR} (a folder of clips) is accepted too."""
    args = run.get("data_args") or ({"data": run["data"]} if run.get("data") else None)
    if not args or not args.get("data"):
        return None
    return {
        k: args.get(k)
        for k in ("data", "data_format", "protocol", "test_data")
        if args.get(k) is not None
    }


def load_source(path: str | os.PathLike, classes: list[str] | None = None) -> SourceModel:
    """A RUN_DIR (best.keras + run.json) or a bare .keras file (class names from a run.json beside
    it, else `classes`, else class_0 … class_{K-1})."""
    path = Path(path)
    if path.is_dir():
        checkpoint = path / "best.keras"
        if not checkpoint.is_file():
            raise ModelFileError(f"{path}: run folder has no best.keras")
    elif path.is_file():
        if path.suffix != ".keras":
            raise ModelFileError(f"{path}: expected a run folder or a .keras file")
        checkpoint = path
    else:
        raise ModelFileError(f"{path}: no such run folder or .keras file")
    run_json = checkpoint.parent / "run.json"
    run = _read_run_json(run_json) if run_json.is_file() else {}
    model = _load_keras(checkpoint)
    x = np.zeros((1, *model.input_shape[1:]), np.float32)
    out = model(x, training=False)
    if not isinstance(out, dict) or set(out) != {"logits", "embedding"}:
        raise ModelFileError(
            f"{checkpoint}: model must output {{'logits', 'embedding'}}, not {type(out).__name__}"
        )
    window, dim = model.input_shape[1], model.input_shape[2]
    if dim != FEATURE_DIM or window is None:
        raise ModelFileError(
            f"{checkpoint}: model input {model.input_shape}, expected (None, T, {FEATURE_DIM})"
        )
    k, e = int(out["logits"].shape[-1]), int(out["embedding"].shape[-1])
    names = run.get("class_names") or classes or [f"class_{i}" for i in range(k)]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ModelFileError(f"{run_json}: 'class_names' must be a list of names")
    if len(names) != k:
        where = run_json if run.get("class_names") else "--classes"
        raise ModelFileError(f"{where}: {len(names)} class names for a model with {k} outputs")
    if run.get("window") not in (None, window):
        raise ModelFileError(
            f"{run_json}: window {run['window']} but the model takes {window} frames"
        )
    try:
        data_config = DataConfig(**((run.get("config") or {}).get("data") or {}))
    except (ValidationError, TypeError, AttributeError) as exc:
        raise ModelFileError(
            f"{run_json}: unusable 'config.data' ({str(exc).splitlines()[0]})"
        ) from None
    return SourceModel(
        model=model,
        checkpoint=checkpoint,
        class_names=[str(n) for n in names],
        window=int(window),
        layout=str(run.get("layout", "body15")),
        embedding_dim=e,
        data_args=_run_data_args(run),
        data_config=data_config,
    )


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


class SavedModelExport:
    """The classifier as a SavedModel with the contract signature, written once to a temporary
    folder and converted to each variant. Use as a context manager. `batch=None` makes the batch
    dimension resizable (shape [1, T, 60], signature [-1, T, 60]); the default fixed batch of 1 is
    what the app runs, since it is faster per single window (see relsar-bench classifier)."""

    def __init__(self, model, window: int, batch: int | None = 1):
        self.model, self.window, self.batch = model, window, batch
        self._dir: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> SavedModelExport:
        import keras
        import tensorflow as tf

        self._dir = tempfile.TemporaryDirectory(prefix="relsar-export-")
        model = self.model

        def serve(skeleton):
            out = model(skeleton, training=False)
            return {"logits": out["logits"], "embedding": out["embedding"]}

        archive = keras.export.ExportArchive()
        archive.track(model)
        spec = tf.TensorSpec([self.batch, self.window, FEATURE_DIM], tf.float32, name=INPUT_NAME)
        archive.add_endpoint(SIGNATURE_KEY, serve, input_signature=[spec])
        archive.write_out(self._dir.name, verbose=False)
        return self

    def __exit__(self, *exc) -> None:
        if self._dir is not None:
            self._dir.cleanup()

    def convert(self, quantization: str, representative: np.ndarray | None = None) -> bytes:
        import tensorflow as tf

        if quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
        converter = tf.lite.TFLiteConverter.from_saved_model(
            self._dir.name, signature_keys=[SIGNATURE_KEY]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "int8":
            if representative is None or not len(representative):
                raise DataError("full int8 needs calibration windows (--calibration DATA_DIR)")
            reps = np.asarray(representative, np.float32)
            converter.representative_dataset = lambda: ([w[None]] for w in reps)
            # Int8 kernels inside; the float32 interface stays so every variant is a drop-in.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        with native_stderr_silenced():
            return converter.convert()


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
    logits, emb = runner.run_batch(data.validation)
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


def tflite_ops(content: bytes) -> list[str]:
    """Names of the operators a .tflite uses ('CUSTOM' for a custom or Flex op), sorted."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAsModel(content, 0)
    ops = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # Old files keep small codes in the deprecated int8 field; the larger value is the real one.
        ops.add(names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN"))
    return sorted(ops)


def median_latency_ms(runner: TfliteRunner, windows: np.ndarray, repeats: int = 50) -> float:
    """p50 of single-window calls: the number the app cares about (a rough one; relsar-bench for real)."""
    from relsar_core.timing import p50_p95_ms, time_calls

    x = windows[: max(1, min(len(windows), repeats))]
    state = {"i": 0}

    def call() -> None:
        runner.run(x[state["i"] % len(x)])
        state["i"] += 1

    return p50_p95_ms(time_calls(call, repeats, warmup=5))[0]


def sidecar_base_centroids(runner, windows: np.ndarray, labels: np.ndarray, class_names) -> dict:
    """Base-class centroids in the few-shot head's space from the converted model's own
    embeddings of training windows (relsar_core.runtime.fewshot_head)."""
    from relsar_core.runtime.fewshot_head import base_centroids, head_vectors
    from relsar_core.skeleton.descriptors import pose_descriptors

    embeddings = runner.run_batch(windows)[1]
    vectors = head_vectors(embeddings, pose_descriptors(windows))
    return base_centroids(vectors, labels, list(class_names))


def build_sidecar(
    source: SourceModel, quantization: str, content: bytes, parity: ParityReport, data_source: str
) -> dict:
    import hashlib

    k, e = len(source.class_names), source.embedding_dim
    return {
        "format": SIDECAR_FORMAT,
        "class_names": source.class_names,
        "layout": source.layout,
        "window": source.window,
        "features": feature_spec(),
        "quantization": quantization,
        "variant": VARIANT_NAMES[quantization],
        "source_checkpoint": str(source.checkpoint.resolve()),
        "tflite_sha256": hashlib.sha256(content).hexdigest(),
        "tflite_bytes": len(content),
        "signature": SIGNATURE_KEY,
        "input": {"name": INPUT_NAME, "shape": [1, source.window, FEATURE_DIM], "dtype": "float32"},
        "outputs": [{"name": "logits", "shape": [1, k]}, {"name": "embedding", "shape": [1, e]}],
        "embedding_dim": e,
        "ops": tflite_ops(content),
        "parity": {**asdict(parity), "data": data_source},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool": f"relsar-convert {__version__}",
    }


@dataclass
class ExportResult:
    quantization: str
    tflite_path: Path
    json_path: Path
    size_bytes: int
    parity: ParityReport
    latency_ms: float | None  # None when the variant failed parity (nothing was written)
    seconds: float  # conversion + checks

    @property
    def written(self) -> bool:
        return self.parity.passed


def variant_path(out: str | os.PathLike, quantization: str, several: bool) -> Path:
    """NAME.tflite for one variant; NAME_<variant>.tflite when several are written at once."""
    out = Path(out)
    base = out.with_suffix("") if out.suffix in (".tflite", ".json") else out
    if several:
        base = base.with_name(f"{base.name}_{VARIANT_NAMES[quantization]}")
    return base.with_name(base.name + ".tflite")


def export_variant(
    exported: SavedModelExport,
    source: SourceModel,
    quantization: str,
    data: ParityData,
    reference: tuple[np.ndarray, np.ndarray],
    tflite_path: Path,
    num_threads: int | None = None,
) -> ExportResult:
    """Convert and check parity; only a variant that passes is written (`.tflite` + `.json`,
    atomically), so a broken conversion never replaces a good file."""
    start = time.perf_counter()
    try:
        content = exported.convert(quantization, data.calibration)
    except (RelsarError, ValueError):
        raise
    except (
        Exception
    ) as exc:  # ConverterError and friends: the model holds something TFLite cannot take
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = next(
            (ln for ln in lines if "error" in ln.lower()), lines[0] if lines else type(exc).__name__
        )
        raise ModelFileError(
            f"{source.checkpoint}: {VARIANT_NAMES[quantization]} conversion failed: {reason}"
        ) from None
    foreign = [op for op in tflite_ops(content) if op in ("CUSTOM", "UNKNOWN")]
    if foreign:  # the converter was told builtins only; this guards against a silent change there
        raise ModelFileError(
            f"{source.checkpoint}: {quantization} conversion produced non-builtin ops {foreign}"
        )
    with native_stderr_silenced():  # the interpreter's "Created XNNPACK delegate" INFO line
        runner = TfliteRunner(content, num_threads, source=f"{tflite_path} ({quantization})")
    parity = check_parity(runner, reference, data, quantization)
    json_path = sidecar_path(tflite_path)
    if not parity.passed:
        return ExportResult(
            quantization,
            tflite_path,
            json_path,
            len(content),
            parity,
            None,
            time.perf_counter() - start,
        )
    latency = median_latency_ms(runner, data.validation)
    meta = build_sidecar(source, quantization, content, parity, data.source)
    if data.calibration_labels is not None:  # the taught-action gate against the base classes
        meta["base_centroids"] = sidecar_base_centroids(
            runner, data.calibration, data.calibration_labels, source.class_names
        )
    # The pair is one commit: the pending JSON first, then the model, then the JSON renamed last;
    # a kill at any point leaves the old pair or the new one (runtime.finish_pending_pair).
    pending = pending_sidecar_path(tflite_path)
    write_text(pending, json.dumps(meta, indent=2) + "\n")
    atomic_write(tflite_path, lambda tmp: Path(tmp).write_bytes(content))
    os.replace(pending, json_path)
    return ExportResult(
        quantization,
        tflite_path,
        json_path,
        len(content),
        parity,
        latency,
        time.perf_counter() - start,
    )


def convert_run(
    source_path: str | os.PathLike,
    out: str | os.PathLike,
    quantizations: list[str] | tuple[str, ...] = ("none",),
    calibration: str | os.PathLike | None = None,
    classes: list[str] | None = None,
    num_threads: int | None = None,
    on_result=None,
    on_start=None,
) -> list[ExportResult]:
    """The whole of relsar-convert: load the model, cut real windows, convert every requested
    variant with its parity check. `on_start(quantization)` / `on_result(ExportResult)` are called
    as each variant starts / finishes (for progress display).
    Raises ParityError naming every variant that failed (the others are written)."""
    unknown = [q for q in quantizations if q not in QUANTIZATIONS]
    if unknown or not quantizations:
        raise ValueError(f"quantizations must be among {QUANTIZATIONS}, got {list(quantizations)}")
    if Path(out).is_dir():
        raise ModelFileError(f"{out}: is a folder; --out takes a name, e.g. {Path(out) / 'model'}")
    for q in quantizations:  # an unwritable place fails now, not after converting
        path = variant_path(out, q, several=len(quantizations) > 1)
        check_output_file(path)
        check_output_file(sidecar_path(path))
    source = load_source(source_path, classes)
    data = parity_data(source, calibration)
    reference = keras_outputs(source.model, data.validation)
    results = []
    with SavedModelExport(source.model, source.window) as exported:
        for q in quantizations:
            path = variant_path(out, q, several=len(quantizations) > 1)
            if on_start is not None:
                on_start(q)
            result = export_variant(exported, source, q, data, reference, path, num_threads)
            results.append(result)
            if on_result is not None:
                on_result(result)
    failed = [r for r in results if not r.written]
    if failed:
        detail = "; ".join(
            f"{VARIANT_NAMES[r.quantization]}: {', '.join(r.parity.problems)}" for r in failed
        )
        raise ParityError(
            f"{source.checkpoint}: parity failed on {data.source}, not written: {detail}",
            failed[0].parity,
        )
    return results
