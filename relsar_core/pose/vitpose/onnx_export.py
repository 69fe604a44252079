"""ViTPose through ONNX Runtime: export from PyTorch, int8 quantization, and a session runner.

int8 is dynamic quantization of every weight MatMul but the heatmap layer (weights int8 per
output channel, activations quantized per call), which these CPUs run with VNNI int8 dot
products. ORT has no int8 ConvTranspose, and the classic head's two deconvolutions are a third
of ViTPose-S's work, so the export rewrites each (deconv + BatchNorm) as one MatMul followed by
an overlap-add of its 4×4 taps: the same function (parity-tested), but quantizable. The head
also stays channels-last, as the backbone's tokens already are, so no layout transposes run
between the layers.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from relsar_core.errors import ModelFileError, first_line
from relsar_core.files import atomic_write
from relsar_core.threads import default_threads

INPUT_NAME = "pixels"
OUTPUT_NAME = "heatmaps"
OPSET = 17
# Part of cached file names: bump when the exported graph or the quantization changes, so
# files cached by an older version are not reused.
EXPORT_VERSION = 2


def export_form(model):
    """A torch module computing exactly what `model` does, in the graph shape that exports and
    quantizes best (see the module docstring). Simple-head models export as they are."""
    from relsar_core.pose.vitpose.export_form import MatMulHeadViTPose

    if model.config.head != "classic":
        return model.eval()
    return MatMulHeadViTPose(model).eval()


def export_onnx(model, path: str | os.PathLike) -> Path:
    """Write `model` (a torch ViTPose) as ONNX with a dynamic batch axis; returns the path."""
    import torch

    cfg = model.config
    dummy = torch.zeros(1, 3, *cfg.image_size)
    graph = export_form(model)

    def write(tmp: str) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter is deprecated in favour of the dynamo one, which needs the
            # extra onnxscript package; for a plain ViT both give the same graph.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                (dummy,),
                tmp,
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            )

    atomic_write(path, write, keep_suffix=True)
    return Path(path)


def quantize_int8(float_path: str | os.PathLike, int8_path: str | os.PathLike) -> Path:
    """Dynamic int8 quantization of the MatMuls of a float ViTPose ONNX file."""
    import onnx
    from onnx.external_data_helper import uses_external_data
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # ViTPose-H's float graph is past protobuf's 2 GB and is stored with external data.
    header = onnx.load(str(float_path), load_external_data=False)
    external = any(uses_external_data(t) for t in header.graph.initializer)

    def write(tmp: str) -> None:
        quantize_dynamic(
            Path(float_path),
            Path(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            use_external_data_format=external,
            nodes_to_exclude=_final_matmul(header),
            extra_options={"DefaultTensorType": 1},  # onnx.TensorProto.FLOAT
        )

    atomic_write(int8_path, write, keep_suffix=True)
    return Path(int8_path)


def _final_matmul(model) -> list[str]:
    """The MatMul that writes the heatmaps (the head's 1×1 layer), if there is one: kept float,
    since its error lands on the heatmaps directly and it is < 1 % of the work."""
    producer = {out: node for node in model.graph.node for out in node.output}
    name = model.graph.output[0].name
    for _ in range(4):  # heatmaps ← Transpose ← Add (bias) ← MatMul
        node = producer.get(name)
        if node is None:
            return []
        if node.op_type == "MatMul":
            return [node.name]
        name = node.input[0]
    return []


def file_digest(path: str | os.PathLike, length: int = 16) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()[:length]


def cached_onnx(weights: str | os.PathLike, int8: bool, cache_dir: Path | None = None) -> Path:
    """The ONNX file (float or int8) for a `.pth` checkpoint, exported once and cached by the
    checkpoint's hash in `<models folder>/vitpose/onnx/<name>-<hash>-v<version>/`, so later
    runs start in a second."""
    from relsar_core.pose.vitpose.weights import load_vitpose, vitpose_dir  # torch: only to export

    weights = Path(weights)
    root = (vitpose_dir() / "onnx") if cache_dir is None else Path(cache_dir)
    # One folder per checkpoint: ViTPose-H's graphs keep their tensors in external files named
    # after the tensors, which would collide between checkpoints in a shared folder.
    folder = root / f"{weights.stem}-{file_digest(weights)}-v{EXPORT_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    float_path = folder / "float.onnx"
    if not float_path.is_file():
        export_onnx(load_vitpose(weights), float_path)
    if not int8:
        return float_path
    int8_path = folder / "int8.onnx"
    if not int8_path.is_file():
        quantize_int8(float_path, int8_path)
    return int8_path


class OnnxViTPose:
    """An ONNX Runtime session for a ViTPose ONNX file: (B, 3, 256, 192) → (B, K, 64, 48)."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFileError(f"{self.path}: ONNX model not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads or default_threads()
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: on a shared 2-core machine (the app's
        # capture and UI threads, other processes) spinning threads steal the cores the other
        # thread of this very inference needs; measured here under load: int8 wall time
        # ~2× lower, CPU time unchanged.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:
            first = first_line(err, 160)
            raise ModelFileError(f"{self.path}: ONNX Runtime cannot load it ({first})") from None
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs[0].shape) != 4:
            raise ModelFileError(f"{self.path}: not a ViTPose model (one NCHW input → heatmaps)")
        fixed = [*inputs[0].shape[2:], outputs[0].shape[1]]
        if not all(isinstance(d, int) for d in fixed):
            raise ModelFileError(
                f"{self.path}: input size and joint count must be fixed in the graph"
            )
        self.input_name = inputs[0].name
        self.input_size = (int(fixed[0]), int(fixed[1]))
        self.num_joints = int(fixed[2])

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(pixels, dtype=np.float32)
        return self.session.run(None, {self.input_name: batch})[0]
