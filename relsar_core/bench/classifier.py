"""`relsar-bench classifier`: ms per window of the classifier through Keras `model.predict`, a
`tf.function` call and every TFLite variant through ai-edge-litert (TfliteClassifier, the app's
path: checks, copy-out and softmax included), in one run, with the ratios; the batch API both
ways; and the memory of a fresh process that only runs TfliteClassifier.

The network is the `base` ReL-SAR classifier with 10 classes and random weights: speed does not
depend on the weights, and the bench must not train. Inputs are real feature windows of
synthetic toy clips (relsar_core.skeleton.synthetic), which also calibrate full int8. When a shipped
model exists (relsar_core/assets/models/default.tflite), it is timed too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from relsar_core.assets import DEFAULT_MODEL
from relsar_core.bench.common import REFERENCE_THREADS, Measurement
from relsar_core.runtime.tflite import QUANTIZATIONS
from relsar_core.skeleton.synthetic import toy_windows
from relsar_core.timing import p50_p95_ms, time_calls

THREADS = REFERENCE_THREADS  # Keras gets both of the reference machine's cores
NUM_CLASSES = 10
WINDOW = 30
_MEMORY_PROBE = """
import sys, numpy as np
from relsar_core.runtime.tflite import TfliteClassifier
clf = TfliteClassifier(sys.argv[1])
windows = np.load(sys.argv[2])
for i in range({calls}):
    clf.predict(windows[i % len(windows)])
fields = dict(line.split(":", 1) for line in open("/proc/self/status") if line.startswith("Vm"))
tf_loaded = any(m.split(".")[0] == "tensorflow" for m in sys.modules)
print(int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0]), tf_loaded)
"""


def _interleaved_ms(
    calls: dict[str, object], windows: np.ndarray, rounds: int, every: dict[str, int]
) -> dict[str, tuple[float, float]]:
    """(p50, p95) ms per window of each call, timed round-robin: the CPU is shared, and load
    that comes and goes then hits every contender alike, keeping the ratios honest.
    `every[name] = k` times that call only every k-th round (model.predict is slow)."""
    import time

    samples: dict[str, list[float]] = {name: [] for name in calls}
    for fn in calls.values():  # warm-up: first-call allocations, graph tracing
        for i in range(3):
            fn(windows[i][None])
    for r in range(rounds):
        x = windows[r % len(windows)][None]
        for name, fn in calls.items():
            if r % every.get(name, 1):
                continue
            start = time.perf_counter()
            fn(x)
            samples[name].append(time.perf_counter() - start)
    return {name: p50_p95_ms(np.asarray(s)) for name, s in samples.items()}


def memory_probe(model: Path, windows: np.ndarray, calls: int) -> tuple[float, float, bool]:
    """(RSS MB, peak RSS MB, whether TensorFlow got imported) of a fresh runtime-only process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "windows.npy"
        np.save(path, windows[:64])
        code = _MEMORY_PROBE.format(calls=calls)
        done = subprocess.run(
            [sys.executable, "-c", code, str(model), str(path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed: {done.stderr.strip().splitlines()[-1:]}")
    rss, peak, tf_loaded = done.stdout.split()[-3:]
    return int(rss) / 1024, int(peak) / 1024, tf_loaded == "True"


def _convert_variants(model, windows: np.ndarray, folder: Path, quick: bool) -> dict[str, Path]:
    """Every variant (+ a batch-resizable float32) written with a sidecar, parity recorded but not
    gated: with random weights the logits are near-ties, so agreement says little here."""
    from relsar_core.config import DataConfig
    from relsar_core.runtime.tflite import TfliteRunner, sidecar_path
    from relsar_core.train.export import SavedModelExport
    from relsar_core.train.export import build_sidecar as sidecar
    from relsar_core.train.export_source import SourceModel
    from relsar_core.train.parity import ParityData, check_parity, keras_outputs

    source = SourceModel(
        model,
        folder / "random-base.keras",
        [f"class_{i}" for i in range(NUM_CLASSES)],
        WINDOW,
        "body15",
        int(model.output["embedding"].shape[-1]),
        None,
        DataConfig(),
    )
    data = ParityData(
        windows[: 50 if quick else 200], windows[:200], np.zeros(200, np.int64), "toy windows"
    )
    reference = keras_outputs(model, data.validation)
    paths = {}

    def write(name: str, content: bytes, quantization: str) -> None:
        path = folder / f"base_{name}.tflite"
        parity = check_parity(TfliteRunner(content, THREADS), reference, data, quantization)
        path.write_bytes(content)
        sidecar_path(path).write_text(
            json.dumps(sidecar(source, quantization, content, parity, data.source))
        )
        paths[name] = path

    with SavedModelExport(model, WINDOW) as exported:
        for q in QUANTIZATIONS:
            write(q, exported.convert(q, data.calibration), q)
    with SavedModelExport(model, WINDOW, batch=None) as exported:
        write("none-dynamic-batch", exported.convert("none"), "none")
    return paths


def tflite_timings(
    paths: dict[str, str], windows_path: str, rounds: int, batch_repeats: int
) -> dict:
    """Runs in a fresh process without TensorFlow (as the app does): TF's thread pool keeps
    spinning after each Keras call and would slow whichever interpreter ran next. Every
    variant round-robin; then predict_batch as a loop (fixed batch 1) and resized (batch-resizable
    model); returns {name: [p50, p95]} in ms, batch numbers in ms per window."""
    from relsar_core.runtime.tflite import TfliteClassifier, default_num_threads

    windows = np.load(windows_path)
    # The runtime's default thread count (what the app runs), and float32 on all cores to compare.
    clfs = {name: TfliteClassifier(path) for name, path in paths.items()}
    clfs["none, all cores"] = TfliteClassifier(paths["none"], num_threads=THREADS)
    calls = {name: (lambda x, c=c: c.predict(x[0])) for name, c in clfs.items()}
    result: dict = {
        name: list(v) for name, v in _interleaved_ms(calls, windows, rounds, {}).items()
    }
    for name in ("none", "none-dynamic-batch"):
        seconds = time_calls(lambda c=clfs[name]: c.predict_batch(windows), batch_repeats, warmup=1)
        result[f"batch {name}"] = float(np.median(seconds)) * 1e3 / len(windows)
    result["threads"] = default_num_threads()
    return result


def _run_tflite_timings(
    paths: dict[str, Path], windows: np.ndarray, rounds: int, batch_repeats: int
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "windows.npy"
        np.save(path, windows)
        args = json.dumps([{k: str(v) for k, v in paths.items()}, str(path), rounds, batch_repeats])
        code = (
            "import json, sys; from relsar_core.bench.classifier import tflite_timings; "
            "print(json.dumps(tflite_timings(*json.loads(sys.argv[1]))))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, args], capture_output=True, text=True, timeout=1200
        )
    if done.returncode != 0:
        raise RuntimeError(f"TFLite timing process failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[Measurement]:
    from relsar_core.config import ModelConfig
    from relsar_core.train.export import VARIANT_NAMES
    from relsar_core.train.model import build_classifier
    from relsar_core.train.tf_setup import compiled_forward, seed_everything, set_intra_op_threads

    try:
        set_intra_op_threads(THREADS)
    except RuntimeError:  # TF already started by an earlier part of `relsar-bench all`
        pass
    rounds = 100 if quick else 1000
    seed_everything(0)
    model = build_classifier(ModelConfig(size="base"), NUM_CLASSES, WINDOW)
    windows = toy_windows(256, window=WINDOW)
    out: list[Measurement] = []
    detail = {
        "model": f"base, {NUM_CLASSES} classes, random weights, {model.count_params():,} parameters",
        "windows": "toy clip features (relsar_core.skeleton.synthetic)",
        "threads": THREADS,
    }

    def add(name: str, p50_p95, target: str | None = None, **extra) -> None:
        out.append(
            Measurement("classifier", f"{name} p50", p50_p95[0], "ms", target, {**detail, **extra})
        )
        out.append(
            Measurement("classifier", f"{name} p95", p50_p95[1], "ms", None, {**detail, **extra})
        )

    def ratio(name: str, value: float, target: str | None = None) -> None:
        out.append(Measurement("classifier", name, value, "x", target, detail))

    graph = compiled_forward(model)
    keras_calls = {
        "keras model.predict": lambda x: model.predict(x, verbose=0),
        "keras tf.function": graph,
    }
    keras_ms = _interleaved_ms(keras_calls, windows, rounds // 5, {"keras model.predict": 5})
    for name, value in keras_ms.items():
        add(name, value)
    with tempfile.TemporaryDirectory(prefix="relsar-bench-") as tmp:
        paths = _convert_variants(model, windows, Path(tmp), quick)
        tfl = _run_tflite_timings(paths, windows, rounds, 3 if quick else 10)
        for q in VARIANT_NAMES:
            add(
                f"tflite {VARIANT_NAMES[q]}",
                tfl[q],
                "<= 1.5" if q == "none" else None,
                size_kib=round(paths[q].stat().st_size / 1024),
                threads=tfl["threads"],
            )
        add(f"tflite float32, {THREADS} threads", tfl["none, all cores"], threads=THREADS)
        add(
            "tflite float32 batch-resizable model",
            tfl["none-dynamic-batch"],
            threads=tfl["threads"],
        )
        float32 = tfl["none"][0]
        ratio(
            "tflite float32 speed-up vs model.predict",
            keras_ms["keras model.predict"][0] / float32,
            ">= 30",
        )
        ratio("tflite float32 speed-up vs tf.function", keras_ms["keras tf.function"][0] / float32)
        for q in QUANTIZATIONS[1:]:  # every quantized variant against float32
            ratio(f"tflite {VARIANT_NAMES[q]} / float32 time", tfl[q][0] / float32)
        for key, label in (
            ("none", "loop, fixed batch 1"),
            ("none-dynamic-batch", "resized, chunks of 64"),
        ):
            out.append(
                Measurement(
                    "classifier",
                    f"tflite float32 predict_batch per window ({label})",
                    tfl[f"batch {key}"],
                    "ms",
                    None,
                    {**detail, "batch": len(windows)},
                )
            )
        rss, peak, tf_loaded = memory_probe(paths["none"], windows, 200 if quick else 2000)
        mem = {**detail, "tensorflow_imported": tf_loaded}
        out.append(
            Measurement("classifier", "tflite-only process peak RSS", peak, "MB", "<= 150", mem)
        )
        out.append(Measurement("classifier", "tflite-only process RSS", rss, "MB", None, mem))
        if (
            DEFAULT_MODEL.is_file()
        ):  # the shipped model keeps the contract's window, so the same inputs fit
            shipped = _run_tflite_timings(
                {"none": DEFAULT_MODEL, "none-dynamic-batch": DEFAULT_MODEL},
                windows,
                rounds // 2,
                1,
            )
            add("shipped default.tflite", shipped["none"], model=str(DEFAULT_MODEL))
    return out
