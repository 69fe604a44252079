"""The checks a `.tflite` file gets before the interpreter sees it: present, a TFLite flatbuffer,
and byte for byte the file its sidecar JSON records (size and SHA-256)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from relsar_core.errors import ModelFileError

TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of every .tflite


def check_model_file(model_path: Path) -> None:
    """ModelFileError unless `model_path` is a file: a folder is named as one."""
    if model_path.is_dir():
        raise ModelFileError(f"{model_path}: is a folder, not a .tflite model file")
    if not model_path.is_file():
        raise ModelFileError(f"{model_path}: no such model file")


def model_file_content(model_path: Path, meta: dict, json_path: Path) -> bytes:
    """The model file's bytes; ModelFileError naming the problem when they are not the ones
    `meta` (its sidecar, read from `json_path`) records."""
    check_model_file(model_path)
    content = model_path.read_bytes()
    expected: int = meta["tflite_bytes"]
    if not content:
        raise ModelFileError(f"{model_path}: empty file (an interrupted copy or download?)")
    if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
        if 0 < len(content) < expected:
            raise ModelFileError(f"{model_path}: truncated ({len(content)} of {expected} bytes)")
        raise ModelFileError(
            f"{model_path}: not a TFLite flatbuffer (no '{TFLITE_IDENTIFIER.decode()}' identifier)"
        )
    if len(content) != expected:
        what = "truncated" if len(content) < expected else "larger than recorded"
        raise ModelFileError(
            f"{model_path}: {what} ({len(content)} bytes, {json_path.name} records {expected})"
        )
    digest = hashlib.sha256(content).hexdigest()
    if digest != meta["tflite_sha256"]:
        raise ModelFileError(
            f"{model_path}: SHA-256 {digest[:12]}… does not match {json_path.name} "
            f"({str(meta['tflite_sha256'])[:12]}…): the model or its JSON was changed"
        )
    return content
