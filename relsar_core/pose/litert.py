"""Opening a `.tflite` model with ai-edge-litert (never TensorFlow), with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

from relsar_core.errors import ModelFileError, first_line
from relsar_core.threads import default_threads


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
        first = first_line(err, 160)
        raise ModelFileError(f"{path}: not a usable .tflite model ({first})") from None
    return interpreter
