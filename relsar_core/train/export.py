"""TFLite export of a trained classifier: float32, float16, dynamic-range int8 and full int8
variants, each checked against the Keras model on real windows before it is written.

The Keras model goes through a SavedModel written by keras.export.ExportArchive (that is what
freezes Keras 3 variables into constants; converting a bare tf.function leaves them as resource
variables the interpreter cannot read) with one signature, `serving_default`:
`skeleton` float32 [1, T, 60] → `logits` [1, K], `embedding` [1, E]. Builtin ops only.
This module imports TensorFlow; the runtime side (relsar_core.runtime.tflite) does not.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from relsar_core import __version__
from relsar_core.errors import DataError, ModelFileError, RelsarError
from relsar_core.files import check_output_file
from relsar_core.runtime.fewshot import taught_path
from relsar_core.runtime.teach_output import TEACH_OUTPUT, with_teach_output
from relsar_core.runtime.tflite import (
    INPUT_NAME,
    QUANTIZATIONS,
    SIDECAR_FORMAT,
    SIGNATURE_KEY,
    TfliteRunner,
    feature_spec,
    native_stderr_silenced,
    sidecar_path,
    write_model_pair,
)
from relsar_core.skeleton.features import FEATURE_DIM
from relsar_core.train.export_source import SourceModel, load_source
from relsar_core.train.parity import (
    ParityData,
    ParityError,
    ParityReport,
    check_parity,
    keras_outputs,
    parity_data,
)

VARIANT_NAMES = {
    "none": "float32",
    "fp16": "float16",
    "dynamic": "dynamic-int8",
    "int8": "full-int8",
}


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

    outputs = dict(zip(runner.output_names, runner.run_batch(windows), strict=True))
    embeddings = outputs.get(TEACH_OUTPUT, outputs["embedding"])
    vectors = head_vectors(embeddings, pose_descriptors(windows))
    return base_centroids(vectors, labels, list(class_names))


def build_sidecar(
    source: SourceModel,
    quantization: str,
    content: bytes,
    parity: ParityReport,
    data_source: str,
    teach_dim: int | None = None,
) -> dict:
    import hashlib

    k, e = len(source.class_names), source.embedding_dim
    outputs = [{"name": "logits", "shape": [1, k]}, {"name": "embedding", "shape": [1, e]}]
    if teach_dim is not None:
        outputs.append({"name": TEACH_OUTPUT, "shape": [1, teach_dim]})
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
        "outputs": outputs,
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
    try:  # the few-shot head's embedding (runtime.teach_output); logits and embedding unchanged
        content = with_teach_output(content)
    except ValueError:  # no transformer blocks to read it from: teaching uses `embedding`
        pass
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
    teach = runner.output_shapes.get(TEACH_OUTPUT)
    meta = build_sidecar(
        source, quantization, content, parity, data.source, teach[-1] if teach else None
    )
    if data.calibration_labels is not None:  # the taught-action gate against the base classes
        meta["base_centroids"] = sidecar_base_centroids(
            runner, data.calibration, data.calibration_labels, source.class_names
        )
    write_model_pair(tflite_path, content, meta)
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
    replace_taught: bool = False,
) -> list[ExportResult]:
    """The whole of relsar-convert: load the model, cut real windows, convert every requested
    variant with its parity check. `on_start(quantization)` / `on_result(ExportResult)` are called
    as each variant starts / finishes (for progress display). An existing pair is replaced, but
    not one with taught actions beside it (they would no longer match the new model) unless
    `replace_taught`. Raises ParityError naming every variant that failed (the others are written)."""
    unknown = [q for q in quantizations if q not in QUANTIZATIONS]
    if unknown or not quantizations:
        raise ValueError(f"quantizations must be among {QUANTIZATIONS}, got {list(quantizations)}")
    if Path(out).is_dir():
        raise ModelFileError(f"{out}: is a folder; --out takes a name, e.g. {Path(out) / 'model'}")
    for q in quantizations:  # an unwritable place fails now, not after converting
        path = variant_path(out, q, several=len(quantizations) > 1)
        check_output_file(path)
        check_output_file(sidecar_path(path))
        taught = taught_path(path)
        if path.is_file() and taught.is_file() and not replace_taught:
            raise ModelFileError(
                f"{path}: has taught actions ({taught.name}) that would no longer match a new "
                "model; choose another --out, or pass --replace-taught"
            )
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
