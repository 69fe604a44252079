"""The TensorFlow-free classifier runtime: a `.tflite` model and its sidecar JSON, run with
ai-edge-litert. This is what the app imports; it must never import TensorFlow.

Loading checks everything that can be checked before the first window arrives, so a bad model
fails at once with one clear line (ModelFileError) instead of crashing the caller later: the file
exists and is a TFLite flatbuffer of the size and SHA-256 the JSON records, the interpreter
accepts it, its `skeleton` → `logits`, `embedding` signature matches the JSON, and the JSON was
made for the feature function this library has.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relsar_core.errors import ModelFileError, first_line
from relsar_core.files import atomic_write, read_json_object, write_text
from relsar_core.runtime.flip_average import flip_averaged, read_flip_average
from relsar_core.runtime.model_file import check_model_file, model_file_content
from relsar_core.runtime.teach_output import TEACH_OUTPUT
from relsar_core.skeleton.features import FEATURE_DIM, FEATURES_VERSION, MIN_CONFIDENCE
from relsar_core.threads import default_threads

SIDECAR_FORMAT = 1
QUANTIZATIONS = ("none", "fp16", "dynamic", "int8")
INPUT_NAME = "skeleton"
OUTPUT_NAMES = ("logits", "embedding")
OPTIONAL_OUTPUTS = (TEACH_OUTPUT,)  # runtime.teach_output: the few-shot head's embedding
SIGNATURE_KEY = "serving_default"
# One (T, 60) window is ~1 ms of work: extra threads mostly add synchronisation, which turns
# into waiting when the cores are busy (pose, capture, UI). Measured on the 2-core box under
# load, base float32: 1 thread 1.1 ms p50, 2 threads 2.9 ms (docs/convert.md). So half the
# cores, at most 4.
_REQUIRED_KEYS = (
    *("format", "class_names", "layout", "window", "features", "quantization"),
    *("tflite_sha256", "tflite_bytes", "input", "outputs", "embedding_dim"),
)


def feature_spec() -> dict:
    """How model inputs are made; written into the sidecar and compared when a model loads."""
    return {
        "name": "relsar_core.skeleton.features.window_features",
        "version": FEATURES_VERSION,
        "min_confidence": MIN_CONFIDENCE,
        "channels": ["x", "y", "vx", "vy"],
        "feature_dim": FEATURE_DIM,
    }


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """`<name>.json` beside `<name>.tflite`."""
    return Path(model_path).with_suffix(".json")


def pending_sidecar_path(model_path: str | os.PathLike) -> Path:
    """`.<name>.json.pending`: the new JSON, written before its `.tflite` replaces the old one."""
    path = Path(model_path)
    return path.with_name(f".{path.stem}.json.pending")


def write_model_pair(model_path: str | os.PathLike, content: bytes, meta: dict) -> None:
    """Write a `.tflite` and its sidecar as one commit: the pending JSON first, then the model,
    then the JSON renamed last; a kill at any point leaves the old pair or the new one
    (finish_pending_pair rolls a half-done one forward). OSError when it cannot write."""
    pending = pending_sidecar_path(model_path)
    write_text(pending, json.dumps(meta, indent=2) + "\n")
    try:
        atomic_write(model_path, lambda tmp: Path(tmp).write_bytes(content))
    except OSError:
        pending.unlink(missing_ok=True)  # the old pair stands: leave nothing of the new one
        raise
    os.replace(pending, sidecar_path(model_path))


def finish_pending_pair(model_path: str | os.PathLike, json_path: str | os.PathLike) -> None:
    """relsar-convert writes a pair as: pending JSON, then the `.tflite`, then JSON renamed into
    place. After a kill between the last two steps the pending JSON describes the `.tflite` on
    disk: rename it now (roll forward). A pending JSON that does not match was left by a kill
    before the `.tflite` moved, so the old pair is intact and the leftover is removed."""
    pending = pending_sidecar_path(model_path)
    if not pending.is_file() or not Path(model_path).is_file():
        return
    try:
        recorded = json.loads(pending.read_text()).get("tflite_sha256")
        digest = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
        if recorded == digest:
            os.replace(pending, json_path)
        else:
            pending.unlink()
    except (OSError, ValueError, AttributeError):
        pass  # read-only folder or a broken leftover: the normal checks below decide


@contextlib.contextmanager
def native_stderr_silenced():
    """C++ libraries (the TFLite interpreter, the converter) print INFO lines straight to file
    descriptor 2; keep them off the user's terminal. Errors still arrive as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def default_num_threads() -> int:
    """Half the cores: measured faster than all of them when pose runs beside the classifier."""
    return default_threads(share=0.5)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


@dataclass
class ClassifierOutput:
    logits: np.ndarray  # (K,) or (N, K)
    probabilities: np.ndarray  # softmax of logits, same shape
    embedding: np.ndarray  # (E,) or (N, E)
    mirror_embedding: np.ndarray | None = None  # the mirror image's, with flip averaging
    teach_embedding: np.ndarray | None = None  # (D,) or (N, D): runtime.teach_output's, if any


class TfliteRunner:
    """One interpreter on a `skeleton` → `logits`, `embedding` model, with no file checks: the
    checked entry point is TfliteClassifier; conversion uses this on bytes before writing them."""

    def __init__(
        self, model_content: bytes, num_threads: int | None = None, source: str = "<bytes>"
    ):
        from ai_edge_litert.interpreter import Interpreter

        self.source = source
        try:
            with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
                self.interpreter = Interpreter(
                    model_content=model_content, num_threads=num_threads or default_num_threads()
                )
            signatures = self.interpreter.get_signature_list()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"{source}: the TFLite interpreter cannot load it ({first_line(exc)})"
            ) from None
        if SIGNATURE_KEY not in signatures:
            raise ModelFileError(
                f"{source}: no '{SIGNATURE_KEY}' signature (has: {', '.join(signatures) or 'none'})"
            )
        sig = signatures[SIGNATURE_KEY]
        extra = sorted(set(sig["outputs"]) - set(OUTPUT_NAMES))
        if (
            list(sig["inputs"]) != [INPUT_NAME]
            or not set(OUTPUT_NAMES) <= set(sig["outputs"])
            or not set(extra) <= set(OPTIONAL_OUTPUTS)
        ):
            raise ModelFileError(
                f"{source}: signature is {list(sig['inputs'])} → {sorted(sig['outputs'])}, "
                f"expected ['{INPUT_NAME}'] → {sorted(OUTPUT_NAMES)} (+ optional {list(OPTIONAL_OUTPUTS)})"
            )
        # Always logits, embedding first; then the optional ones the model has.
        self.output_names = (*OUTPUT_NAMES, *(n for n in OPTIONAL_OUTPUTS if n in extra))
        runner = self.interpreter.get_signature_runner(SIGNATURE_KEY)
        inp = runner.get_input_details()[INPUT_NAME]
        outs = runner.get_output_details()
        self.input_shape = tuple(int(v) for v in inp["shape"])
        self.input_dtype = np.dtype(inp["dtype"])
        # -1 in the batch slot: the interpreter can be resized to a whole batch at once.
        self.dynamic_batch = int(inp["shape_signature"][0]) == -1
        self.output_shapes = {
            name: tuple(int(v) for v in outs[name]["shape"]) for name in self.output_names
        }
        self.output_dtypes = {name: np.dtype(outs[name]["dtype"]) for name in self.output_names}
        self._input_index = int(inp["index"])
        self._output_index = {name: int(outs[name]["index"]) for name in self.output_names}
        self._batch = self.input_shape[0]
        del runner, inp, outs  # the runner pins interpreter memory; allocate_tensors refuses that
        try:
            with native_stderr_silenced():  # the XNNPACK delegate is applied here
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:  # a graph the flatbuffer parser let through
            raise ModelFileError(
                f"{source}: the TFLite interpreter cannot prepare its graph ({first_line(exc)})"
            ) from None

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            self.interpreter.resize_tensor_input(
                self._input_index, [batch, *self.input_shape[1:]], strict=True
            )
            self.interpreter.allocate_tensors()
            self._batch = batch

    def _invoke(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        self.interpreter.set_tensor(self._input_index, x)
        self.interpreter.invoke()
        # get_tensor copies, so the interpreter may run again while the caller keeps the arrays.
        return tuple(self.interpreter.get_tensor(self._output_index[n]) for n in self.output_names)

    def run(self, features: np.ndarray) -> tuple[np.ndarray, ...]:
        """features (T, 60) → (logits (K,), embedding (E,)[, teach_embedding (D,)]) float32,
        one array per name in `output_names`."""
        if self._batch != 1:
            self._resize(1)
        return tuple(v[0] for v in self._invoke(features[None].astype(np.float32, copy=False)))

    def run_batch(self, features: np.ndarray, chunk: int = 64) -> tuple[np.ndarray, ...]:
        """features (N, T, 60) → (logits (N, K), embedding (N, E)[, teach_embedding (N, D)]).
        Whole chunks through a resized interpreter when the model allows it (measured ~2x
        faster per window than a loop on a 2-core CPU, see docs), else one window at a time."""
        x = np.ascontiguousarray(features, dtype=np.float32)
        n = len(x)
        outs = [np.empty((n, self.output_shapes[m][-1]), np.float32) for m in self.output_names]
        step = chunk if self.dynamic_batch else 1
        for start in range(0, n, step):
            part = x[start : start + step]
            if self.dynamic_batch:
                self._resize(len(part))
            for out, value in zip(outs, self._invoke(part), strict=True):
                out[start : start + len(part)] = value
        return tuple(outs)


def read_sidecar(json_path: Path, model_name: str = "the model") -> dict:
    """Parse and shape-check the sidecar JSON; ModelFileError on any problem."""
    if not json_path.is_file():
        raise ModelFileError(
            f"{json_path}: sidecar JSON of {model_name} missing (relsar-convert writes NAME.json beside NAME.tflite)"
        )
    meta = read_json_object(json_path, ModelFileError)
    missing = [k for k in _REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelFileError(f"{json_path}: missing keys {missing}")
    if meta["format"] != SIDECAR_FORMAT:
        raise ModelFileError(
            f"{json_path}: sidecar format {meta['format']!r}, this version reads {SIDECAR_FORMAT}"
        )
    names = meta["class_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ModelFileError(f"{json_path}: 'class_names' must be a non-empty list of names")
    if len(set(names)) != len(names):
        raise ModelFileError(f"{json_path}: 'class_names' has duplicates")
    # window_features makes body15 features only, so that is the one layout a model can take.
    if meta["layout"] != "body15":
        raise ModelFileError(
            f"{json_path}: layout {meta['layout']!r}, but the features are made from body15"
        )
    if meta["quantization"] not in QUANTIZATIONS:
        raise ModelFileError(
            f"{json_path}: quantization {meta['quantization']!r} is not one of {QUANTIZATIONS}"
        )
    for key in ("window", "embedding_dim", "tflite_bytes"):
        if type(meta[key]) is not int or meta[key] < 1:
            raise ModelFileError(
                f"{json_path}: '{key}' must be a positive integer, got {meta[key]!r}"
            )
    if not isinstance(meta["tflite_sha256"], str) or not isinstance(meta["outputs"], list):
        raise ModelFileError(f"{json_path}: 'tflite_sha256' must be a string and 'outputs' a list")
    if not isinstance(meta.get("flip_average", False), bool):  # optional: runtime.flip_average
        raise ModelFileError(f"{json_path}: 'flip_average' must be true or false")
    # Optional (written at conversion for the taught-action gate), but never silently corrupt.
    if "base_centroids" in meta:
        centroids = meta["base_centroids"]
        fields = (("space", str), ("labels", list), ("shape", list), ("float16_base64", str))
        if not isinstance(centroids, dict) or not all(
            isinstance(centroids.get(k), t) for k, t in fields
        ):
            raise ModelFileError(
                f"{json_path}: 'base_centroids' is damaged (re-run relsar-convert)"
            )
    return meta


def _check_against_sidecar(
    runner: TfliteRunner, meta: dict, model_path: Path, json_path: Path
) -> None:
    """The interpreter's real signature must be the one the JSON describes."""
    k, window = len(meta["class_names"]), meta["window"]
    want_input = [1, window, FEATURE_DIM]
    if meta["input"] != {"name": INPUT_NAME, "shape": want_input, "dtype": "float32"}:
        raise ModelFileError(
            f"{json_path}: 'input' is {meta['input']}, expected skeleton float32 {want_input}"
        )
    if list(runner.input_shape) != want_input or runner.input_dtype != np.float32:
        raise ModelFileError(
            f"{model_path}: input is {runner.input_dtype} {list(runner.input_shape)}, "
            f"{json_path.name} says float32 {want_input}"
        )
    want_out = {"logits": [1, k], "embedding": [1, meta["embedding_dim"]]}
    if TEACH_OUTPUT in runner.output_shapes:
        want_out[TEACH_OUTPUT] = list(runner.output_shapes[TEACH_OUTPUT])
    recorded = {o.get("name"): o.get("shape") for o in meta["outputs"] if isinstance(o, dict)}
    if recorded != want_out:
        raise ModelFileError(
            f"{json_path}: 'outputs' {meta['outputs']} disagree with its class names / "
            f"embedding_dim or with the model's outputs {sorted(runner.output_shapes)}"
        )
    for name, shape in want_out.items():
        if list(runner.output_shapes[name]) != shape or runner.output_dtypes[name] != np.float32:
            raise ModelFileError(
                f"{model_path}: output '{name}' is {runner.output_dtypes[name]} {list(runner.output_shapes[name])}, "
                f"{json_path.name} says float32 {shape}"
            )
    mine = feature_spec()
    theirs = meta["features"] if isinstance(meta["features"], dict) else {}
    for key in ("name", "version", "min_confidence", "feature_dim"):
        if theirs.get(key) != mine[key]:
            raise ModelFileError(
                f"{json_path}: made for features {key}={theirs.get(key)!r}, this library computes {mine[key]!r}; "
                "re-convert the model with this version"
            )


class TfliteClassifier:
    """Classify body15 feature windows (T, 60) with a checked `.tflite` + sidecar JSON.

    Attributes: class_names, window, layout, embedding_dim, quantization, metadata (the JSON).
    One interpreter inside: use an instance from one thread at a time (the app's inference
    thread); the returned arrays are copies and may be kept. `flip_average` (None: what the
    sidecar says) averages each window's logits with its mirror image's (runtime.flip_average)."""

    def __init__(
        self,
        model_path: str | os.PathLike,
        json_path: str | os.PathLike | None = None,
        num_threads: int | None = None,
        flip_average: bool | None = None,
    ):
        self.model_path = Path(model_path)
        check_model_file(self.model_path)
        self.json_path = Path(json_path) if json_path is not None else sidecar_path(self.model_path)
        if json_path is None:
            finish_pending_pair(self.model_path, self.json_path)
        self.metadata = read_sidecar(self.json_path, self.model_path.name)
        content = model_file_content(self.model_path, self.metadata, self.json_path)
        self._runner = TfliteRunner(content, num_threads, source=str(self.model_path))
        _check_against_sidecar(self._runner, self.metadata, self.model_path, self.json_path)
        self.class_names: list[str] = list(self.metadata["class_names"])
        self.window: int = int(self.metadata["window"])
        self.layout: str = str(self.metadata["layout"])
        self.embedding_dim: int = int(self.metadata["embedding_dim"])
        # What the few-shot head embeds with: the teach_embedding output where the model has it.
        teach = self._runner.output_shapes.get(TEACH_OUTPUT)
        self.teach_embedding_dim: int = int(teach[-1]) if teach else self.embedding_dim
        self.quantization: str = str(self.metadata["quantization"])
        self.flip_average = (
            read_flip_average(self.metadata) if flip_average is None else bool(flip_average)
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def _check_features(self, features: np.ndarray, batched: bool) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        want = (self.window, FEATURE_DIM)
        if x.shape[int(batched) :] != want or x.ndim != 2 + int(batched):
            lead = "(N, " if batched else "("
            raise ValueError(f"expected features {lead}{want[0]}, {want[1]}), got {x.shape}")
        if not np.isfinite(x).all():  # NaN in, a confident label out: refuse instead
            raise ValueError("features contain NaN or infinite values (a broken skeleton?)")
        return x

    def predict(self, features: np.ndarray) -> ClassifierOutput:
        """One window (T, 60) from relsar_core.skeleton.features.window_features → (K,), (K,), (E,)."""
        x = self._check_features(features, batched=False)
        if not self.flip_average:
            logits, embedding, *teach = self._runner.run(x)
            return ClassifierOutput(logits, softmax(logits), embedding, None, *teach)
        logits, embedding, mirror, *teach = (
            v[0] for v in flip_averaged(self._runner.run_batch, x[None])
        )
        return ClassifierOutput(logits, softmax(logits), embedding, mirror, *teach)

    def predict_batch(self, features: np.ndarray) -> ClassifierOutput:
        """Many windows (N, T, 60), e.g. all windows of a clip → (N, K), (N, K), (N, E)."""
        x = self._check_features(features, batched=True)
        if self.flip_average:
            logits, embedding, mirror, *teach = flip_averaged(self._runner.run_batch, x)
            return ClassifierOutput(logits, softmax(logits), embedding, mirror, *teach)
        logits, embedding, *teach = self._runner.run_batch(x)
        return ClassifierOutput(logits, softmax(logits), embedding, None, *teach)
