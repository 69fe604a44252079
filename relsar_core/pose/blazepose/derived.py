"""The landmark model as this project runs it: pose_landmark_full.tflite without its
segmentation head, and with its float16 weights stored as float32.

MediaPipe's full landmark model always computes a 256×256 person mask, which nothing here uses;
its decoder (ops at 128×128 and 256×256) costs about a third of an invoke on a CPU. Dropping the
mask output and every op only it needs leaves the other outputs bit for bit the same (checked
each time the file is made, on a fixed input); storing the weights as float32 removes the
DEQUANTIZE ops (XNNPACK already folded them, so that alone changes nothing). The derived file is
made once from the fetched, checksummed one and kept in a `derived/` folder beside it, named by
the source's SHA-256; where it cannot be made or written, the fetched file is used as it is."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from relsar_core.errors import ModelFileError
from relsar_core.files import atomic_write, sha256_file

log = logging.getLogger(__name__)
SEGMENTATION_SHAPE = (1, 256, 256, 1)
DERIVED_FOLDER = "derived"


def without_segmentation(model: bytes) -> bytes:
    """The landmark flatbuffer without its segmentation output (and the ops only it needs),
    float16 weights as float32, with a serving signature. Raises ValueError when the model has
    no 256×256×1 output to drop."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(model, 0)
    graph = m.subgraphs[0]
    dequantize = {
        i
        for i, code in enumerate(m.operatorCodes)
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.DEQUANTIZE
    }
    ops = []
    for op in graph.operators:
        src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        data = m.buffers[src.buffer].data if op.opcodeIndex in dequantize else None
        if data is not None and len(data) and src.type == schema.TensorType.FLOAT16:
            weights = np.asarray(data, np.uint8).view(np.float16).astype(np.float32)
            buffer = schema.BufferT()
            buffer.data = weights.view(np.uint8)
            m.buffers.append(buffer)
            dst.buffer = len(m.buffers) - 1  # the op's output becomes the constant itself
            continue
        ops.append(op)
    outputs = [i for i in graph.outputs if tuple(graph.tensors[i].shape) != SEGMENTATION_SHAPE]
    if len(outputs) == len(graph.outputs):
        raise ValueError("no 256×256×1 segmentation output to drop")
    needed, kept = set(outputs), []
    for op in reversed(ops):  # backwards from the outputs kept: the ops they depend on
        if any(o in needed for o in op.outputs):
            kept.append(op)
            needed.update(i for i in op.inputs if i >= 0)
    kept.reverse()
    used = sorted(
        {i for op in kept for i in (*op.inputs, *op.outputs) if i >= 0}
        | set(graph.inputs)
        | set(outputs)
    )
    new_index = {old: new for new, old in enumerate(used)}
    live = {graph.tensors[i].buffer for i in used}
    for i, buffer in enumerate(m.buffers):
        if i and i not in live:
            buffer.data = None  # weights of dropped ops
    graph.tensors = [graph.tensors[i] for i in used]
    for op in kept:
        op.inputs = [new_index[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [new_index[i] for i in op.outputs]
    graph.operators = kept
    graph.inputs = [new_index[i] for i in graph.inputs]
    graph.outputs = [new_index[i] for i in outputs]

    def tensor_map(i: int):
        entry = schema.TensorMapT()
        entry.name, entry.tensorIndex = graph.tensors[i].name, i
        return entry

    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = b"serving_default", 0
    signature.inputs = [tensor_map(i) for i in graph.inputs]
    signature.outputs = [tensor_map(i) for i in graph.outputs]
    m.signatureDefs = [signature]
    builder = flatbuffers.Builder(len(model) * 3)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _outputs(path: Path, image: np.ndarray) -> dict[tuple, np.ndarray]:
    from relsar_core.pose.litert import open_interpreter

    interpreter = open_interpreter(path, 1)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    return {
        tuple(d["shape"]): interpreter.get_tensor(d["index"]).copy()
        for d in interpreter.get_output_details()
    }


def same_outputs(source: Path, derived: Path) -> bool:
    """Every output of `derived` equals the same-shaped output of `source`, bit for bit, on a
    fixed pseudo-random image."""
    image = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    want, got = _outputs(source, image), _outputs(derived, image)
    return bool(got) and all(k in want and np.array_equal(want[k], v) for k, v in got.items())


def landmark_model(source: str | Path) -> Path:
    """The derived landmark model for the fetched `source` file (made and checked on first use),
    or `source` itself where it cannot be made."""
    source = Path(source)
    target = (
        source.parent / DERIVED_FOLDER / f"{source.stem}-nomask-{sha256_file(source)[:16]}.tflite"
    )
    if target.is_file():
        return target

    def write_checked(tmp: str) -> None:
        Path(tmp).write_bytes(content)
        if not same_outputs(source, Path(tmp)):
            raise ValueError("its outputs differ from the source's")

    try:
        content = without_segmentation(source.read_bytes())
        atomic_write(target, write_checked, keep_suffix=True)
        return target
    except (OSError, ValueError, RuntimeError, ModelFileError) as err:
        log.warning("%s: no mask-free copy (%s); using it as it is", source, err)
    return source
