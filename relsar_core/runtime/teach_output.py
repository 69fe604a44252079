"""The teaching embedding: a third output of a converted classifier, for the few-shot head.

The `embedding` output is the supervised model's last layer (its CLS token, projected): made to
tell the model's own classes apart, so it discards much of what tells a *new* action apart.
The output of the encoder's middle transformer block, averaged over the window's frame tokens,
keeps more of it (relsar-bench teach, docs/teach.md: k = 5 accuracy 0.891 → 0.905 over seeds
0-7, every seed up). It costs nothing to compute: the model computes it anyway; this module
only names it as an output, `teach_embedding` (1, d_model), by adding two ops (a slice that
drops the CLS token and a mean over time) to the converted flatbuffer. The logits and the
embedding are untouched, bit for bit. relsar-convert adds it to every variant it writes;
`relsar-teach MODEL --base-data DIR` adds it to a model converted before."""

from __future__ import annotations

import re

import numpy as np

TEACH_OUTPUT = "teach_embedding"
_BLOCK = re.compile(r"(?:^|/)block(\d+)_ln2")  # the encoder's post-LN block outputs (train.model)


def teach_block(block_numbers: set[int]) -> int:
    """Which block's tokens: the middle one (block 2 of 0-3, the one measured)."""
    return (max(block_numbers) + 1) // 2


def has_teach_output(model: bytes) -> bool:
    from ai_edge_litert import schema_py_generated as schema

    m = schema.Model.GetRootAs(model, 0)
    for s in range(m.SignatureDefsLength()):
        sig = m.SignatureDefs(s)
        if any(sig.Outputs(i).Name() == TEACH_OUTPUT.encode() for i in range(sig.OutputsLength())):
            return True
    return False


def with_teach_output(model: bytes) -> bytes:
    """The classifier flatbuffer with a `teach_embedding` output added (returned unchanged when
    it has one). ValueError when the graph has no encoder block outputs to read it from."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    if has_teach_output(model):
        return model
    m = schema.ModelT.InitFromPackedBuf(model, 0)
    graph = m.subgraphs[0]
    names = [(t.name or b"").decode("utf-8", "replace") for t in graph.tensors]
    found = {int(x.group(1)) for n in names if (x := _BLOCK.search(n))}
    if not found or not m.signatureDefs:
        raise ValueError("no encoder block outputs (blockN_ln2) or no signature in the graph")
    wanted = f"block{teach_block(found)}_ln2"
    # The block's output: the last op writing a tensor of its final layer norm.
    source = [o for op in graph.operators for o in op.outputs if wanted in names[o]][-1]
    batch, tokens, width = (int(v) for v in graph.tensors[source].shape)

    def constant(values: list[int]) -> int:
        buffer = schema.BufferT()
        buffer.data = np.asarray(values, "<i4").view(np.uint8)
        m.buffers.append(buffer)
        return tensor([len(values)], None, len(m.buffers) - 1, schema.TensorType.INT32)

    def tensor(shape, signature, buffer=0, kind=schema.TensorType.FLOAT32, name=b"") -> int:
        t = schema.TensorT()
        t.shape, t.type, t.buffer, t.name = np.asarray(shape, np.int32), kind, buffer, name
        if signature is not None:
            t.shapeSignature = np.asarray(signature, np.int32)
        graph.tensors.append(t)
        return len(graph.tensors) - 1

    def opcode(builtin: int) -> int:
        for i, code in enumerate(m.operatorCodes):
            if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
                return i
        code = schema.OperatorCodeT()
        code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
        m.operatorCodes.append(code)
        return len(m.operatorCodes) - 1

    def operator(builtin: int, inputs, output: int, options_type, options) -> None:
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = opcode(builtin), list(inputs), [output]
        op.builtinOptionsType, op.builtinOptions = options_type, options
        graph.operators.append(op)

    if graph.tensors[source].type != schema.TensorType.FLOAT32:  # full-int8: back to float
        real = tensor([batch, tokens, width], [-1, tokens, width])
        operator(schema.BuiltinOperator.DEQUANTIZE, [source], real, 0, None)
        source = real
    frames = tensor([batch, tokens - 1, width], [-1, tokens - 1, width])
    operator(  # tokens 1.. (0 is the CLS token); -1: all of that dimension, whatever the batch
        schema.BuiltinOperator.SLICE,
        [source, constant([0, 1, 0]), constant([-1, -1, -1])],
        frames,
        schema.BuiltinOptions.SliceOptions,
        schema.SliceOptionsT(),
    )
    pooled = tensor([batch, width], [-1, width], name=TEACH_OUTPUT.encode())
    mean = schema.ReducerOptionsT()
    mean.keepDims = False
    operator(
        schema.BuiltinOperator.MEAN,
        [frames, constant([1])],
        pooled,
        schema.BuiltinOptions.ReducerOptions,
        mean,
    )
    graph.outputs = [*graph.outputs, pooled]
    entry = schema.TensorMapT()
    entry.name, entry.tensorIndex = TEACH_OUTPUT.encode(), pooled
    m.signatureDefs[0].outputs.append(entry)
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def teach_embedding_of(out) -> np.ndarray:
    """What the few-shot head embeds a window (or windows) with: a classifier output's
    `teach_embedding` where the model has that output, else its `embedding` (models converted
    before it existed)."""
    teach = getattr(out, "teach_embedding", None)
    return out.embedding if teach is None else teach


def teach_dim_of(classifier) -> int | None:
    """The size of teach_embedding_of(classifier's output); None when unknown."""
    return getattr(classifier, "teach_embedding_dim", None) or getattr(
        classifier, "embedding_dim", None
    )
