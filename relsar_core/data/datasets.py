"""Labelled skeleton data sets: a folder of clips `<root>/<class>/<clip>.npz`, the upstream
per-class `.npy` files, and NW-UCLA's cross-view split. Everything becomes a `WindowSet`:
model-ready windows with their labels and the clip each came from, so splits stay by clip."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from relsar_core.data.held_out import refuse_overlap
from relsar_core.errors import ClipError, DataError
from relsar_core.files import numpy_file_problem, visible
from relsar_core.skeleton.clip import load_clip
from relsar_core.skeleton.features import (
    MIN_CONFIDENCE,
    WINDOW,
    clip_features,
    context_windows,
    window_features,
)
from relsar_core.skeleton.layouts import LAYOUTS, to_body15

# How a labelled data set is read, and which of its clips are the test side (load_splits;
# relsar-train --format and --protocol offer exactly these).
DATA_FORMATS = ("folder", "upstream-npy")
SPLIT_PROTOCOLS = ("random", "nwucla-cross-view")


@dataclass
class WindowSet:
    windows: np.ndarray  # (N, T, 60) float32
    labels: np.ndarray  # (N,) int32 class index per window
    clip_ids: np.ndarray  # (N,) int32 index into clip_paths
    clip_paths: list[str]
    clip_labels: np.ndarray  # (C,) int32 class index per clip
    class_names: list[str]
    # (N, S, 60): the same windows with context around them (S > T frames, see
    # skeleton.features.context_windows), so the speed augmentation can speed motion up;
    # training reads these when present.
    sources: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, clip_indices) -> WindowSet:
        """The windows of the given clips (clip ids are kept, so reports can name clips)."""
        keep = np.isin(self.clip_ids, np.asarray(clip_indices, dtype=np.int32))
        return WindowSet(
            self.windows[keep],
            self.labels[keep],
            self.clip_ids[keep],
            self.clip_paths,
            self.clip_labels,
            self.class_names,
            None if self.sources is None else self.sources[keep],
        )

    @property
    def training_windows(self) -> np.ndarray:
        """What a training pipeline cuts its views from: the context windows, else the windows."""
        return self.windows if self.sources is None else self.sources

    def without_sources(self) -> WindowSet:
        return replace(self, sources=None)

    def __len__(self) -> int:
        return len(self.labels)


def find_clips(
    root: str | os.PathLike, class_names: list[str] | None = None
) -> tuple[list[tuple[Path, str]], list[str]]:
    """(clip path, class name) pairs of a `<root>/<class>/*.npz` folder, and the class names."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: data folder does not exist")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected <root>/<class>/<clip>.npz)")
    found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not found:
        raise DataError(f"{root}: no class folders found (expected <root>/<class>/<clip>.npz)")
    names = class_names or found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise DataError(
            f"{root}: class folders {unknown} are not among the model's classes {names}"
        )
    pairs = []
    for name in found:
        clips = visible((root / name).glob("*.npz"), root / name)  # no temp file of a killed writer
        if not clips:
            raise DataError(f"{root / name}: class folder has no .npz clips")
        pairs += [(p, name) for p in clips]
    return pairs, list(names)


def _windows_of(keypoints: np.ndarray, window: int, stride: int, source: str) -> np.ndarray:
    if len(keypoints) < window:
        raise ClipError(
            f"{source}: {len(keypoints)} frames is too short for one window of {window} frames"
        )
    return clip_features(keypoints, window, stride)


def _assemble(
    per_clip: list[np.ndarray],
    clip_labels: list[int],
    paths: list[str],
    names: list[str],
    sources: list[np.ndarray] | None = None,
) -> WindowSet:
    counts = [len(w) for w in per_clip]
    return WindowSet(
        windows=np.concatenate(per_clip).astype(np.float32, copy=False),
        labels=np.repeat(np.asarray(clip_labels, np.int32), counts),
        clip_ids=np.repeat(np.arange(len(per_clip), dtype=np.int32), counts),
        clip_paths=paths,
        clip_labels=np.asarray(clip_labels, np.int32),
        class_names=names,
        sources=None if sources is None else np.concatenate(sources).astype(np.float32, copy=False),
    )


@dataclass
class LabelledClips:
    """Whole labelled clips before windowing: body15 keypoints at the model's frame rate."""

    keypoints: list[np.ndarray]  # (F, 15, 3) per clip
    clip_labels: np.ndarray  # (C,) int32
    clip_paths: list[str]  # the same names as a WindowSet's, so splits treat both alike
    class_names: list[str]


def folder_clips(root: str | os.PathLike, class_names: list[str] | None = None) -> LabelledClips:
    """The clips of a `<root>/<class>/<clip>.npz` folder, body15 at the model's frame rate."""
    pairs, names = find_clips(root, class_names)
    index = {n: i for i, n in enumerate(names)}
    keypoints = []
    for path, _ in pairs:
        kp = load_clip(path).body15_at_model_rate()
        if not (kp[..., 2] >= MIN_CONFIDENCE).any():
            raise ClipError(
                f"{path}: no joint reaches confidence {MIN_CONFIDENCE} in any frame "
                "(nobody in view?); remove the clip"
            )
        keypoints.append(kp)
    labels = np.asarray([index[c] for _, c in pairs], np.int32)
    return LabelledClips(keypoints, labels, [str(p) for p, _ in pairs], names)


def load_clip_folder(
    root: str | os.PathLike,
    window: int = WINDOW,
    stride: int = 5,
    class_names: list[str] | None = None,
    source_frames: int | None = None,
) -> WindowSet:
    """Every clip of a `<root>/<class>/<clip>.npz` folder, cut into windows every `stride` frames;
    with `source_frames` > window also their context windows (WindowSet.sources)."""
    clips = folder_clips(root, class_names)
    per_clip = [
        _windows_of(kp, window, stride, path)
        for kp, path in zip(clips.keypoints, clips.clip_paths, strict=True)
    ]
    sources = None
    if source_frames and source_frames > window:
        sources = [context_windows(kp, window, stride, source_frames) for kp in clips.keypoints]
    return _assemble(
        per_clip, list(clips.clip_labels), clips.clip_paths, clips.class_names, sources
    )


# A frame-to-frame move of the median joint by more than this many body heights, and by more
# than VIDEO_JUMP_RATIO × the file's median move, is a cut between two videos.
VIDEO_JUMP_HEIGHTS = 0.1
VIDEO_JUMP_RATIO = 10.0


def video_starts(body15: np.ndarray) -> np.ndarray:
    """Frame indices where a new video starts in frames of several videos back to back
    (the upstream .npy files carry no boundaries): 0 and every jump of the pose. When unsure
    it merges, which only makes later splits by video more conservative."""
    xy, seen = body15[..., :2], body15[..., 2] > 0
    step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)  # (F-1, J)
    both = seen[1:] & seen[:-1]
    move = np.array([np.median(s[b]) if b.any() else 0.0 for s, b in zip(step, both, strict=True)])
    ys = np.where(seen, xy[..., 1], np.nan)
    with np.errstate(all="ignore"):
        height = np.nan_to_num(np.nanmax(ys, axis=1) - np.nanmin(ys, axis=1), nan=0.0)
    typical = np.median(move) if len(move) else 0.0
    jump = (move > VIDEO_JUMP_HEIGHTS * np.maximum(height[1:], 1e-6)) & (
        move > VIDEO_JUMP_RATIO * typical
    )
    return np.concatenate([[0], np.flatnonzero(jump) + 1])


def upstream_clips(root: str | os.PathLike, layout: str | None = None) -> LabelledClips:
    """The upstream per-class files `<root>/<class>.npy`, each (frames, joints, channels) of all
    that class's videos back to back, split into videos (video_starts): one clip per video.
    Two channels mean x, y with full confidence; the layout is guessed from the joint count."""
    root = Path(root)
    files = visible(root.glob("*.npy"), root) if root.is_dir() else []
    if not files:
        raise DataError(f"{root}: no per-class .npy files found")
    by_joints = {
        lay.num_joints: name for name, lay in reversed(LAYOUTS.items())
    }  # 25 → body25 ≠ coco25
    keypoints, labels, paths = [], [], []
    for label, path in enumerate(files):
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(
                f"{path}: not a readable .npy array ({numpy_file_problem(exc, path)})"
            ) from None
        if arr.ndim != 3 or arr.shape[2] not in (2, 3) or not np.isfinite(arr).all():
            raise DataError(
                f"{path}: expected finite (frames, joints, 2 or 3) values, got shape {arr.shape}"
            )
        if arr.shape[2] == 2:
            arr = np.concatenate([arr, np.ones_like(arr[..., :1])], axis=-1)
        name = layout or by_joints.get(arr.shape[1])
        if name is None:
            raise DataError(
                f"{path}: cannot tell the layout of {arr.shape[1]} joints; pass the layout"
            )
        body15 = to_body15(arr.astype(np.float32), name)
        bounds = [*video_starts(body15), len(body15)]
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            keypoints.append(body15[a:b])
            labels.append(label)
            paths.append(f"{path}#video{i}")
    return LabelledClips(keypoints, np.asarray(labels, np.int32), paths, [p.stem for p in files])


def load_upstream_npy(
    root: str | os.PathLike,
    layout: str | None = None,
    window: int = WINDOW,
    source_frames: int | None = None,
) -> WindowSet:
    """The upstream per-class .npy files (upstream_clips), each video cut into consecutive
    `window`-frame blocks, the upstream protocol; a video's blocks form one clip, so they never
    land in different splits or folds. Videos shorter than one block are dropped. With
    `source_frames` > window also each block's context window in its video (WindowSet.sources)."""
    clips = upstream_clips(root, layout)
    widen = bool(source_frames and source_frames > window)
    per_clip, labels, paths, sources = [], [], [], []
    for kp, label, path in zip(clips.keypoints, clips.clip_labels, clips.clip_paths, strict=True):
        blocks = len(kp) // window
        if blocks:
            per_clip.append(window_features(kp[: blocks * window].reshape(blocks, window, 15, 3)))
            if widen:
                sources.append(context_windows(kp, window, window, source_frames))
            labels.append(int(label))
            paths.append(path)
    for label, name in enumerate(clips.class_names):
        if label not in labels:
            raise DataError(
                f"{Path(root) / name}.npy: no video of {window} frames or more (too short for one window)"
            )
    return _assemble(per_clip, labels, paths, clips.class_names, sources if widen else None)


_VIEW = re.compile(r"_v0*(\d+)(?:\D|$)")


def nwucla_view(path: str | os.PathLike) -> int:
    """The camera view of an NW-UCLA clip from its file name, e.g. a01_s01_e00_v03.npz → 3."""
    match = _VIEW.search(Path(str(path)).stem)
    if not match:
        raise DataError(f"{path}: no NW-UCLA view (…_vNN) in the file name")
    return int(match.group(1))


def cross_view_split(
    data: WindowSet | LabelledClips, train_views=(1, 2), test_views=(3,)
) -> tuple[np.ndarray, np.ndarray]:
    """NW-UCLA cross-view protocol: clip indices of views 1, 2 (train) and view 3 (test)."""
    views = np.array([nwucla_view(p) for p in data.clip_paths])
    return np.flatnonzero(np.isin(views, train_views)), np.flatnonzero(np.isin(views, test_views))


def split_clips(
    clip_labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified clip-level split into train / val / test clip indices, fixed by `seed`.
    Each class keeps at least one training clip; a fraction > 0 gets at least one clip when
    the class has three or more."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for cls in np.unique(clip_labels):
        idx = rng.permutation(np.flatnonzero(clip_labels == cls))
        n = len(idx)
        n_test = max(round(n * test_fraction), 1 if test_fraction and n >= 3 else 0)
        n_val = max(round(n * val_fraction), 1 if val_fraction and n - n_test >= 2 else 0)
        n_val = min(n_val, n - n_test - 1)
        test += list(idx[:n_test])
        val += list(idx[n_test : n_test + n_val])
        train += list(idx[n_test + n_val :])
    return (
        np.sort(np.array(train, np.int32)),
        np.sort(np.array(val, np.int32)),
        np.sort(np.array(test, np.int32)),
    )


def class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Balanced weights n / (K · n_k) per class (0 for a class with no samples)."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    return np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0).astype(
        np.float32
    )


@dataclass
class Splits:
    train: WindowSet
    val: WindowSet | None
    test: WindowSet | None

    def describe(self) -> dict:
        def part(ws: WindowSet | None) -> dict | None:
            if ws is None:
                return None
            return {"windows": len(ws), "clips": [ws.clip_paths[i] for i in np.unique(ws.clip_ids)]}

        return {"train": part(self.train), "val": part(self.val), "test": part(self.test)}


def split_indices(
    full: WindowSet | LabelledClips,
    protocol: str,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    separate_test: bool = False,
    source: str | os.PathLike = "",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) clip indices of a protocol; the one rule shared by the evaluation modes
    and by BYOL pre-training (which must leave exactly these test clips out). `separate_test`:
    the test set is another folder, so nothing here is held out for it."""
    clip_labels = full.clip_labels
    if protocol == "nwucla-cross-view":
        pool, test_idx = cross_view_split(full)
        if len(pool) == 0 or len(test_idx) == 0:
            raise DataError(
                f"{source}: the cross-view protocol needs clips of views 1/2 and of view 3"
            )
        sub_train, sub_val, _ = split_clips(clip_labels[pool], val_fraction, 0.0, seed)
        return pool[sub_train], pool[sub_val], test_idx
    if protocol == "random":
        return split_clips(clip_labels, val_fraction, 0.0 if separate_test else test_fraction, seed)
    raise DataError(f"unknown protocol {protocol!r} ({', '.join(SPLIT_PROTOCOLS)})")


def load_splits(
    data: str | os.PathLike,
    window: int,
    stride: int,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    data_format: str = "folder",
    protocol: str = "random",
    test_data: str | os.PathLike | None = None,
    source_frames: int | None = None,
) -> Splits:
    """Load a data set and split it by clip.

    protocol `random`: stratified train/val/test by clip with `seed`; `nwucla-cross-view`: views
    1, 2 train (val carved from them), view 3 test. `test_data` (a second folder) replaces the
    test split, e.g. held-out cameras of a generated data set. `source_frames`: the training
    side also gets context windows of that many frames (augment.source_window)."""
    if data_format == "folder":
        full = load_clip_folder(data, window, stride, source_frames=source_frames)
    elif data_format == "upstream-npy":
        full = load_upstream_npy(data, window=window, source_frames=source_frames)
    else:
        raise DataError(f"unknown data format {data_format!r} ({', '.join(DATA_FORMATS)})")
    train_idx, val_idx, test_idx = split_indices(
        full, protocol, val_fraction, test_fraction, seed, test_data is not None, data
    )
    test = full.subset(test_idx).without_sources() if len(test_idx) else None
    if test_data is not None:
        test = load_clip_folder(test_data, window, stride, class_names=full.class_names)
        refuse_overlap(test_data, full.clip_paths, test.clip_paths, "training")
    val = full.subset(val_idx).without_sources() if len(val_idx) else None
    return Splits(full.subset(train_idx), val, test)
