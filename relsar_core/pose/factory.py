"""One place that turns a backend name (+ weights) into a `PoseEstimator`.

Backends import lazily: asking for BlazePose never imports PyTorch, and nothing imports
TensorFlow. "auto" picks ViTPose when a checkpoint is given or sits in the models folder (the
accurate path), else BlazePose (works out of the box after `relsar-models fetch default`)."""

from __future__ import annotations

from pathlib import Path

from relsar_core.errors import ConfigError, ModelFileError
from relsar_core.pose.base import MAX_PEOPLE, PoseEstimator
from relsar_core.pose.vitpose.config import RUNTIMES

POSE_BACKENDS = (
    "blazepose",
    "vitpose",
    "auto",
)  # the app, relsar-app and relsar-extract offer these
DEFAULT_POSE_BACKEND = "blazepose"


def find_vitpose_weights() -> Path | None:
    """An easy_ViTPose checkpoint in `<models>/vitpose/` (smallest size first), if any.
    Looks at file names only: deciding "auto" must not import PyTorch (hundreds of MB)."""
    from relsar_core.pose.model_store import models_dir

    folder = models_dir() / "vitpose"  # = relsar_core.pose.vitpose.weights.vitpose_dir()
    for size in ("s", "b", "l", "h"):
        found = sorted(folder.glob(f"vitpose-{size}-*.pth"))
        if found:
            return found[0]
    return None


def resolve_backend(backend: str, weights: str | None = None) -> str:
    """The concrete backend "auto" stands for; other names are checked and returned."""
    if backend not in POSE_BACKENDS:
        raise ConfigError(
            f"unknown pose backend {backend!r} (choose from {', '.join(POSE_BACKENDS)})"
        )
    if backend != "auto":
        return backend
    if weights is not None and Path(weights).suffix in (".pth", ".onnx"):
        return "vitpose"
    return "vitpose" if weights is None and find_vitpose_weights() is not None else "blazepose"


def create_pose_estimator(
    backend: str,
    weights: str | None = None,
    runtime: str = "torch",
    num_threads: int | None = None,
    tracking: bool = True,
) -> PoseEstimator:
    """A ready estimator. `weights`: the ViTPose `.pth` (or its exported `.onnx`), or for
    BlazePose a folder holding its two `.tflite` files (default: the models folder). `runtime`
    applies to ViTPose only."""
    backend = resolve_backend(backend, weights)
    if backend == "blazepose":
        from relsar_core.pose.blazepose.estimator import BlazePoseEstimator

        return BlazePoseEstimator(weights, num_threads=num_threads, tracking=tracking)
    return _create_vitpose(weights, runtime, num_threads, tracking)


def create_people_estimator(
    backend: str,
    weights: str | None = None,
    runtime: str = "torch",
    num_threads: int | None = None,
    max_people: int = MAX_PEOPLE,
):
    """The several-people estimator (`estimate_people(frame) -> list[Skeleton]`) of a backend:
    MultiPersonBlazePose, or MultiPersonViTPose (detector boxes, all crops batched in one call).
    """
    backend = resolve_backend(backend, weights)
    if backend == "blazepose":
        from relsar_core.pose.blazepose.people import MultiPersonBlazePose

        return MultiPersonBlazePose(weights, num_threads=num_threads, max_people=max_people)
    from relsar_core.pose.blazepose.people import MIN_DETECTION_SCORE

    single = _create_vitpose(weights, runtime, num_threads, True, MIN_DETECTION_SCORE)
    from relsar_core.pose.vitpose.people import MultiPersonViTPose

    return MultiPersonViTPose(single, max_people=max_people)  # type: ignore[arg-type]


def _create_vitpose(
    weights: str | None,
    runtime: str,
    num_threads: int | None,
    tracking: bool,
    min_score: float = 0.5,
) -> PoseEstimator:
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown pose runtime {runtime!r} (choose from {', '.join(RUNTIMES)})")
    try:
        from relsar_core.pose.vitpose.estimator import ViTPoseEstimator
    except ImportError as err:
        missing = getattr(err, "name", None) or "relsar_core.pose.vitpose.estimator"
        raise ModelFileError(
            f"the ViTPose backend is not available ({missing} cannot be imported); install the "
            "[vitpose] extra or use --pose blazepose"
        ) from None
    if weights is None:
        found = find_vitpose_weights()
        if found is None:
            raise ModelFileError(
                "ViTPose needs a checkpoint: pass --pose-weights FILE.pth or run "
                "`relsar-models fetch vitpose-s`"
            )
        weights = str(found)
    if not Path(weights).is_file():
        raise ModelFileError(f"{weights}: ViTPose weights file not found")
    return ViTPoseEstimator(
        weights,
        runtime,
        detector=_optional_detector(min_score),
        num_threads=num_threads,
        tracking=tracking,
    )


def _optional_detector(min_score: float = 0.5):
    """BlazePose's person detector for ViTPose's first frame, when its model is fetched."""
    from relsar_core.pose.blazepose.estimator import BlazePoseDetector

    try:
        return BlazePoseDetector(min_score=min_score)
    except ModelFileError:
        return None
