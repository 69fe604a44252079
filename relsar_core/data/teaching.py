"""Teaching from folders, as `relsar-teach` does it: every class folder of a data set taught
to a model through fewshot.teach (the app's Teach path), and, for a model converted before
the sidecar held them, the teaching embedding output and the base-class centroids."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from relsar_core.data.datasets import load_clip_folder
from relsar_core.data.recording import check_action_name
from relsar_core.errors import DataError, ModelFileError
from relsar_core.files import visible, write_json
from relsar_core.runtime import fewshot
from relsar_core.runtime.fewshot_head import base_centroids, head_vectors
from relsar_core.runtime.teach_output import (
    TEACH_OUTPUT,
    has_teach_output,
    teach_embedding_of,
    with_teach_output,
)
from relsar_core.runtime.tflite import (
    TfliteClassifier,
    TfliteRunner,
    sidecar_path,
    write_model_pair,
)
from relsar_core.skeleton.descriptors import pose_descriptors


def example_folders(data: str | os.PathLike) -> dict[str, list[Path]]:
    """{action: clip paths} of a `<data>/<action>/*.npz` folder; DataError naming the problem."""
    root = Path(data)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected {root}/<action>/<clip>.npz)")
    found = {}
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        clips = visible(folder.glob("*.npz"), folder)  # never a killed writer's temp file
        if clips:
            found[check_action_name(folder.name)] = clips
    if not found:
        raise DataError(f"{root}: no <action>/<clip>.npz folders with clips in it")
    return found


def teach_folder(
    model_path: str | os.PathLike, data: str | os.PathLike, stride: int = 5
) -> fewshot.TaughtClassifier:
    """Teach every action folder of `data` to the model (replacing those actions' examples)."""
    base = TfliteClassifier(model_path)
    return fewshot.teach(base, model_path, example_folders(data), stride=stride)


def add_teach_output(model_path: str | os.PathLike) -> bool:
    """Give a model converted before the teaching embedding existed its `teach_embedding`
    output (runtime.teach_output; logits and embedding stay bit for bit the same) and update its
    sidecar; False when it has one already. Written as relsar-convert writes a pair
    (tflite.write_model_pair), so a kill leaves the old pair or the new one."""
    base = TfliteClassifier(model_path)  # a damaged pair fails here, before anything changes
    content = Path(model_path).read_bytes()
    if has_teach_output(content):
        return False
    try:
        new = with_teach_output(content)
    except ValueError as exc:
        raise ModelFileError(f"{model_path}: cannot add a teaching embedding ({exc})") from None
    meta = dict(base.metadata)
    shape = TfliteRunner(new, 1, source=str(model_path)).output_shapes[TEACH_OUTPUT]
    meta["outputs"] = [*meta["outputs"], {"name": TEACH_OUTPUT, "shape": list(shape)}]
    meta["tflite_sha256"], meta["tflite_bytes"] = hashlib.sha256(new).hexdigest(), len(new)
    meta.pop("base_centroids", None)  # of the old embedding: the caller makes new ones
    try:
        write_model_pair(model_path, new, meta)
    except OSError as exc:
        raise ModelFileError(f"{model_path}: cannot write ({exc.strerror})") from None
    return True


def add_base_centroids(
    model_path: str | os.PathLike, data: str | os.PathLike, stride: int = 5
) -> tuple[int, bool]:
    """Write `base_centroids` into the model's sidecar from the windows of `data` (a
    `<class>/*.npz` folder of the model's own classes, e.g. its training data); a model without
    the teaching embedding output gets it first (add_teach_output), once `data` has been read
    and checked, so a bad folder changes nothing. Returns (windows used, output added)."""
    base = TfliteClassifier(model_path)
    windows = load_clip_folder(data, base.window, stride, base.class_names)
    if len(windows.windows) == 0:
        raise DataError(f"{data}: no windows of {base.window} frames in its clips")
    missing = sorted(set(range(len(base.class_names))) - set(np.unique(windows.labels).tolist()))
    if missing:
        names = [base.class_names[i] for i in missing]
        raise DataError(f"{data}: no clips of the model's classes {names}")
    added = add_teach_output(model_path)
    if added:
        base = TfliteClassifier(model_path)
    embeddings = teach_embedding_of(base.predict_batch(windows.windows))
    vectors = head_vectors(embeddings, pose_descriptors(windows.windows))
    meta = dict(base.metadata)
    meta["base_centroids"] = base_centroids(vectors, windows.labels, base.class_names)
    try:
        write_json(sidecar_path(model_path), meta)
    except OSError as exc:
        raise ModelFileError(f"{sidecar_path(model_path)}: cannot write ({exc.strerror})") from None
    return len(windows.windows), added
