"""Skeleton clips on disk: `.npz` with `keypoints` (frames, joints, 3), `layout`, `fps`,
`image_size` (width, height) and an optional `label`. Read with `allow_pickle=False`,
validated, and written atomically so a crash never leaves half a file behind."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relsar_core.errors import ClipError
from relsar_core.files import atomic_write, numpy_file_problem
from relsar_core.skeleton.features import MAX_ABS_COORDINATE, MIN_CONFIDENCE
from relsar_core.skeleton.layouts import LAYOUTS, to_body15

# Frame rates a clip may declare: outside this, resampling to the model's rate is a mistake
# (fps 0.001 would turn 60 frames into 1.8 million).
MIN_FPS, MAX_FPS = 1.0, 1000.0
# A confident joint may lie this many image widths/heights outside the frame (a limb cut off by
# the border), no further: 3e38 is a broken estimator or file, not a pose.
IMAGE_MARGIN = 2.0


@dataclass
class Clip:
    keypoints: np.ndarray  # (frames, joints, 3) float32: x, y in pixels, confidence in [0, 1]
    layout: str = "body15"
    fps: float = 30.0
    image_size: tuple[int, int] = (640, 480)  # width, height
    label: str | None = None

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    def body15_at_model_rate(self) -> np.ndarray:
        """body15 keypoints resampled from the clip's fps to the model's rate: what training,
        teaching and pre-training cut windows from."""
        from relsar_core.skeleton.features import to_model_fps

        return to_model_fps(to_body15(self.keypoints, self.layout), self.fps)

    def to_body15(self) -> Clip:
        return Clip(
            to_body15(self.keypoints, self.layout), "body15", self.fps, self.image_size, self.label
        )


def validate_keypoints(
    keypoints: np.ndarray,
    layout: str,
    source: str,
    image_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Check shape, layout, finiteness, coordinate bounds (by `image_size` with a margin, when
    given) and confidence range; return float32 keypoints."""
    if layout not in LAYOUTS:
        raise ClipError(
            f"{source}: unknown layout {layout!r} (known: {', '.join(sorted(LAYOUTS))})"
        )
    kp = np.asarray(keypoints)
    expected = LAYOUTS[layout].num_joints
    if kp.ndim != 3 or kp.shape[1:] != (expected, 3):
        raise ClipError(
            f"{source}: keypoints have shape {kp.shape}, expected (frames, {expected}, 3) for layout {layout!r}"
        )
    if kp.shape[0] == 0:
        raise ClipError(f"{source}: clip has no frames")
    if not np.issubdtype(kp.dtype, np.floating) and not np.issubdtype(kp.dtype, np.integer):
        raise ClipError(f"{source}: keypoints have non-numeric dtype {kp.dtype}")
    kp = kp.astype(np.float32, copy=False)
    if not np.isfinite(kp).all():
        raise ClipError(f"{source}: keypoints contain NaN or infinite values")
    conf = kp[..., 2]
    if conf.min() < 0.0 or conf.max() > 1.0:
        raise ClipError(
            f"{source}: confidences must lie in [0, 1], found [{conf.min():.3g}, {conf.max():.3g}]"
        )
    biggest = float(np.abs(kp[..., :2]).max())
    if biggest > MAX_ABS_COORDINATE:
        raise ClipError(
            f"{source}: a coordinate of {biggest:.3g} pixels is absurd (at most {MAX_ABS_COORDINATE:.0e})"
        )
    if image_size is not None:
        size = np.asarray(image_size, np.float32)
        xy = kp[..., :2][conf >= MIN_CONFIDENCE]
        outside = (xy < -IMAGE_MARGIN * size) | (xy > (1 + IMAGE_MARGIN) * size)
        if outside.any():
            bad = xy[outside.any(axis=-1)][0]
            raise ClipError(
                f"{source}: a confident joint at ({bad[0]:.4g}, {bad[1]:.4g}) lies far outside "
                f"the {image_size[0]}x{image_size[1]} image (keypoints must be in pixels)"
            )
    return kp


def check_fps(fps: float, source: str) -> float:
    """A clip's or source's frame rate within [MIN_FPS, MAX_FPS]; ClipError otherwise."""
    if not np.isfinite(fps) or not MIN_FPS <= fps <= MAX_FPS:
        raise ClipError(
            f"{source}: fps {fps:g} is outside the plausible range {MIN_FPS:g}–{MAX_FPS:g}"
        )
    return float(fps)


def check_image_size(size: tuple, source: str) -> tuple[int, int]:
    if len(size) != 2:
        raise ClipError(f"{source}: image_size must be (width, height), got {size}")
    if min(size) <= 0:
        raise ClipError(f"{source}: image_size must be positive (width, height), got {size}")
    return (int(size[0]), int(size[1]))


def load_clip(path: str | os.PathLike) -> Clip:
    """Read and validate one clip; any problem raises ClipError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ClipError(f"{path}: no such clip file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "keypoints" not in data.files:
                raise ClipError(
                    f"{path}: missing 'keypoints' array (has: {', '.join(data.files) or 'nothing'})"
                )
            keypoints = data["keypoints"]
            layout = str(data["layout"]) if "layout" in data.files else "body15"
            fps = float(data["fps"]) if "fps" in data.files else 30.0
            size = (
                tuple(int(v) for v in data["image_size"])
                if "image_size" in data.files
                else (640, 480)
            )
            label = str(data["label"]) if "label" in data.files else None
    except ClipError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, TypeError) as exc:
        raise ClipError(
            f"{path}: not a readable .npz clip ({numpy_file_problem(exc, path)})"
        ) from None
    size = check_image_size(size, str(path))
    fps = check_fps(fps, str(path))
    kp = validate_keypoints(keypoints, layout, str(path), size)
    return Clip(kp, layout, fps, size, label or None)


def save_clip(path: str | os.PathLike, clip: Clip) -> None:
    size = check_image_size(tuple(clip.image_size), str(path))
    check_fps(float(clip.fps), str(path))
    kp = validate_keypoints(clip.keypoints, clip.layout, str(path), size)
    arrays = dict(
        keypoints=kp,
        layout=np.str_(clip.layout),
        fps=np.float32(clip.fps),
        image_size=np.asarray(clip.image_size, dtype=np.int32),
    )
    if clip.label:
        arrays["label"] = np.str_(clip.label)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    atomic_write(path, write)
