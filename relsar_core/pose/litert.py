"""Opening a `.tflite` model with ai-edge-litert (never TensorFlow), with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

from relsar_core.errors import ModelFileError


def default_threads() -> int:
    """Interpreter threads: the machine's cores, at most 4 (more only adds sync overhead for
    models this small)."""
    return max(1, min(4, os.cpu_count() or 1))


def open_interpreter(path: str | os.PathLike, num_threads: int | None = None):
    """An allocated ai_edge_litert Interpreter for `path`."""
    from ai_edge_litert.interpreter import Interpreter

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        interpreter = Interpreter(
            model_path=str(path), num_threads=num_threads or default_threads()
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelFileError(f"{path}: not a usable .tflite model ({first[:160]})") from None
    return interpreter
