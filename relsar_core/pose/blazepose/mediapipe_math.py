"""MediaPipe 0.10.14's tracking arithmetic, operation for operation: its calculators work on
normalized float32 rectangles and landmarks, with a few steps in double, and the tracking loop
(each ROI from the last frame's landmarks) amplifies any rounding difference from 1 ulp to
tenths of a pixel within ten frames. So every step here rounds where the C++ does (numpy
float32 arrays round each operation, as the compiled code does: no fused multiply-adds), and
calls the C library's expf/atan2f/cosf/sinf where numpy's own would round differently.

Checked bit for bit against MediaPipe's own outputs on the sample video (tests/fixtures):
landmarks given its ROI, next-frame ROIs given its landmarks, detections and their ROIs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from dataclasses import dataclass

import numpy as np

from relsar_core.pose.roi import Roi

F32 = np.float32
# DetectionsToRectsCalculator: M_PI * 90 / 180.f, stored as float.
TARGET_ANGLE = F32(math.pi * 90 / 180.0)
ROI_SCALE = F32(1.25)  # RectTransformationCalculator scale_x / scale_y, square_long
FRAME_NS = 33_333_000  # solutions' simulated timestamps: 33333 us per frame


def _libm():
    name = ctypes.util.find_library("m")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        lib = None
    if lib is None:
        return None
    for fn, nargs in (("atan2f", 2), ("cosf", 1), ("sinf", 1)):
        f = getattr(lib, fn)
        f.restype = ctypes.c_float
        f.argtypes = [ctypes.c_float] * nargs
    return lib


_LIBM = _libm()


def atan2f(y: F32, x: F32) -> F32:
    if _LIBM is None:  # no C library to ask: correctly rounded, agrees nearly always
        return F32(math.atan2(float(y), float(x)))
    return F32(_LIBM.atan2f(float(y), float(x)))


def cos_sin_f(angle: F32) -> tuple[F32, F32]:
    if _LIBM is None:
        return F32(math.cos(float(angle))), F32(math.sin(float(angle)))
    return F32(_LIBM.cosf(float(angle))), F32(_LIBM.sinf(float(angle)))


def sigmoid_f32(x: np.ndarray) -> np.ndarray:
    """1.0f / (1.0f + expf(-x)) in float32. expf is taken as exp in double rounded to float:
    glibc's expf is correctly rounded on every value of the fixture (checked against it)."""
    x = np.asarray(x, F32)
    with np.errstate(over="ignore"):
        e = np.exp(-x.astype(np.float64)).astype(F32)
    return (F32(1) / (F32(1) + e)).astype(F32)


def normalize_radians(angle: F32) -> F32:
    a = float(angle)  # the C++ computes this one in double
    return F32(a - 2 * math.pi * math.floor((a - (-math.pi)) / (2 * math.pi)))


@dataclass(frozen=True)
class NormRect:
    """MediaPipe's NormalizedRect: centre and size as fractions of the image (float32), rotation
    in radians; `image_size` (w, h) is the frame it belongs to."""

    x_center: F32
    y_center: F32
    width: F32
    height: F32
    rotation: F32
    image_size: tuple[int, int]

    def pixel_size(self) -> tuple[F32, F32]:
        w, h = self.image_size
        return F32(self.width * F32(w)), F32(self.height * F32(h))

    def roi(self) -> Roi:
        """The pixel square ImageToTensorCalculator crops (GetRoi, then PadRoi to a square)."""
        w, h = self.image_size
        pw, ph = self.pixel_size()
        cx, cy = F32(self.x_center * F32(w)), F32(self.y_center * F32(h))
        return Roi(float(cx), float(cy), float(max(pw, ph)), float(self.rotation))

    def padding(self) -> tuple[F32, F32]:
        """PadRoi's (horizontal, vertical) letterbox padding for a square tensor: 0 or 1 ulp-ish,
        because width × w and height × h of a square ROI rarely round to the same float."""
        pw, ph = self.pixel_size()
        ratio = F32(ph / pw)
        if F32(1) > ratio:
            return F32(0), F32(F32(F32(1) - ratio) / F32(2))
        return F32(F32(F32(1) - F32(F32(1) / ratio)) / F32(2)), F32(0)


def alignment_rect(p0: np.ndarray, p1: np.ndarray, image_size: tuple[int, int]) -> NormRect:
    """AlignmentPointsRectsCalculator: centre p0, size 2 × |p1 - p0|, rotation so p1 is "up";
    p0, p1 normalized float32."""
    w, h = F32(image_size[0]), F32(image_size[1])
    xc, yc = F32(F32(p0[0]) * w), F32(F32(p0[1]) * h)
    xs, ys = F32(F32(p1[0]) * w), F32(F32(p1[1]) * h)
    dx, dy = F32(xs - xc), F32(ys - yc)
    box = F32(float(np.sqrt(F32(F32(dx * dx) + F32(dy * dy)))) * 2.0)
    rotation = normalize_radians(F32(TARGET_ANGLE - atan2f(-dy, dx)))
    return NormRect(
        F32(xc / w), F32(yc / h), F32(box / w), F32(box / h), rotation, tuple(image_size)
    )


def transform_rect(rect: NormRect, scale: F32 = ROI_SCALE) -> NormRect:
    """RectTransformationCalculator with scale 1.25, square_long, no shift (a zero shift leaves
    the centre as it is)."""
    w, h = F32(rect.image_size[0]), F32(rect.image_size[1])
    long_side = max(F32(rect.width * w), F32(rect.height * h))
    return NormRect(
        rect.x_center,
        rect.y_center,
        F32(F32(long_side / w) * scale),
        F32(F32(long_side / h) * scale),
        rect.rotation,
        rect.image_size,
    )


def rect_from_alignment(p0: np.ndarray, p1: np.ndarray, image_size: tuple[int, int]) -> NormRect:
    """The landmark model's ROI from two alignment points (PoseDetectionToRoi and
    PoseLandmarksToRoi: both the same two calculators)."""
    return transform_rect(alignment_rect(p0, p1, image_size))


def project_to_image(xy: np.ndarray, rect: NormRect) -> np.ndarray:
    """(N, 2) normalized crop coordinates -> normalized image coordinates, float32:
    LandmarkLetterboxRemovalCalculator then LandmarkProjectionCalculator (NORM_RECT)."""
    hpad, vpad = rect.padding()
    x = (xy[:, 0].astype(F32) - hpad) / (F32(1) - F32(hpad + hpad))
    y = (xy[:, 1].astype(F32) - vpad) / (F32(1) - F32(vpad + vpad))
    c, s = cos_sin_f(rect.rotation)
    x, y = x - F32(0.5), y - F32(0.5)
    nx = c * x - s * y
    ny = s * x + c * y
    out = np.empty((len(xy), 2), F32)
    out[:, 0] = nx * rect.width + rect.x_center
    out[:, 1] = ny * rect.height + rect.y_center
    return out


def to_pixels(xy: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Normalized -> pixels as MediaPipe's users get them (x × width, y × height)."""
    return (xy.astype(np.float64) * np.asarray(image_size, np.float64)).astype(F32)


class _LowPass:
    """LowPassFilter: float state, one step in double."""

    def __init__(self) -> None:
        self.stored: np.ndarray | None = None
        self.raw: np.ndarray | None = None

    def __call__(self, value: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        value, alpha = value.astype(F32), alpha.astype(F32)
        if self.stored is None:
            result = value
        else:
            keep = (1.0 - alpha.astype(np.float64)) * self.stored.astype(np.float64)
            result = ((alpha * value).astype(np.float64) + keep).astype(F32)
        self.raw, self.stored = value, result
        return result


class MediaPipeOneEuro:
    """OneEuroFilter + LandmarksSmoothingCalculator's per-axis use, element-wise over an array
    of float32 pixel values. Time comes from `timestamp_ns` (the frame's, as MediaPipe's)."""

    def __init__(
        self, min_cutoff: float, beta: float, derivate_cutoff: float, frequency: float = 30.0
    ) -> None:
        self.min_cutoff, self.beta, self.derivate_cutoff = min_cutoff, beta, derivate_cutoff
        self.initial_frequency = frequency
        self.reset()

    def reset(self) -> None:
        self.frequency = self.initial_frequency
        self.last_ns = 0
        self._x, self._dx = _LowPass(), _LowPass()

    @property
    def is_fresh(self) -> bool:
        return self._x.stored is None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray:
        te = 1.0 / self.frequency
        tau = 1.0 / (2 * math.pi * np.asarray(cutoff, np.float64))
        return 1.0 / (1.0 + tau / te)

    def __call__(self, value: np.ndarray, value_scale: F32, timestamp_ns: int) -> np.ndarray:
        value = np.asarray(value, F32)
        if self.last_ns >= timestamp_ns:
            return value
        if self.last_ns != 0 and timestamp_ns != 0:
            self.frequency = 1.0 / ((timestamp_ns - self.last_ns) * 1e-9)
        self.last_ns = timestamp_ns
        if self._x.raw is None:
            dvalue = np.zeros(value.shape)
        else:
            diff = value.astype(np.float64) - self._x.raw.astype(np.float64)
            dvalue = diff * float(value_scale) * self.frequency
        edvalue = self._dx(
            dvalue.astype(F32), np.full(value.shape, self._alpha(self.derivate_cutoff))
        )
        cutoff = self.min_cutoff + self.beta * np.abs(edvalue.astype(np.float64))
        return self._x(value, self._alpha(cutoff))


class RoiTracker:
    """The next frame's ROI from this frame's two auxiliary landmarks, as pose_landmark_cpu does:
    PoseLandmarkFiltering's One Euro filter on them (min_cutoff 0.01, beta 10, derivate cutoff
    1, value scale 1 / the size of their own alignment rect), then PoseLandmarksToRoi."""

    def __init__(self) -> None:
        self.filter = MediaPipeOneEuro(min_cutoff=0.01, beta=10.0, derivate_cutoff=1.0)

    def reset(self) -> None:
        self.filter.reset()

    def __call__(self, aux: np.ndarray, image_size: tuple[int, int], timestamp_ns: int) -> NormRect:
        """aux: (2, 2) normalized float32 hip centre and body-scale point."""
        aux = np.asarray(aux, F32)
        w, h = F32(image_size[0]), F32(image_size[1])
        scale_rect = alignment_rect(aux[0], aux[1], image_size)
        object_scale = F32(F32(F32(scale_rect.width * w) + F32(scale_rect.height * h)) / F32(2))
        size = np.array([w, h], F32)
        pixels = (aux * size).astype(F32)
        if object_scale < F32(1e-6):  # min_allowed_object_scale: returned unfiltered
            smooth = pixels
        else:
            smooth = self.filter(pixels.ravel(), F32(F32(1) / object_scale), timestamp_ns)
        norm = (smooth.reshape(2, 2) / size).astype(F32)
        return rect_from_alignment(norm[0], norm[1], image_size)
