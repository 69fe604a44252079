"""ViTPose for several people (#16): every box a crop, all crops in one model call, decoded per
person; batched results equal one-by-one calls on both runtimes; N people in, N skeletons out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from relsar_core.pose.vitpose.model import ViTPoseConfig, random_vitpose

TINY = dict(embed_dim=64, depth=2, num_heads=4, num_joints=25)
BOXES = [(40.0, 60.0, 200.0, 440.0), (250.0, 60.0, 450.0, 460.0), (470.0, 120.0, 620.0, 420.0)]


def torch_runner(seed: int = 8):
    """A tiny ViTPose in PyTorch as the estimator runs it: (N, 3, 256, 192) → (N, K, 64, 48)."""
    model = random_vitpose(ViTPoseConfig(**TINY), seed=seed).eval()

    def run(pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(pixels)).numpy()

    return run


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    from relsar_core.pose.vitpose.onnx_export import export_onnx

    model = random_vitpose(ViTPoseConfig(**TINY), seed=9)
    return export_onnx(model, tmp_path_factory.mktemp("vpo") / "tiny-coco25.onnx")


def frame() -> np.ndarray:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    return np.ascontiguousarray(img)


class Boxes:
    """Stands in for BlazePoseDetector: fixed person boxes, counting its calls."""

    class Det:
        def __init__(self, box):
            self.box, self.score = box, 0.9

    def __init__(self, boxes) -> None:
        self.boxes, self.calls = list(boxes), 0

    def detect(self, image):
        self.calls += 1
        return [self.Det(b) for b in self.boxes]


class Counting:
    """Wraps a runner: how many calls, and the batch size of each."""

    def __init__(self, inner, offset: float = 0.0) -> None:
        self.inner, self.offset, self.batches = inner, offset, []

    def __call__(self, pixels):
        self.batches.append(len(pixels))
        return self.inner(pixels) + self.offset


def figure_runner(pixels: np.ndarray) -> np.ndarray:
    """A stand-in model that sees one upright person filling every crop: Gaussian peaks at fixed
    heatmap spots, so the box built from the joints stays on that person frame after frame."""
    ys, xs = np.mgrid[0:64, 0:48]
    px = np.tile(np.linspace(12, 36, 5), 5)
    py = np.repeat(np.linspace(8, 56, 5), 5)
    maps = np.exp(-((xs - px[:, None, None]) ** 2 + (ys - py[:, None, None]) ** 2) / 8.0)
    return np.repeat(maps[None].astype(np.float32), len(pixels), axis=0)


def _multi(weights, runtime, detector=None, offset=0.0, **kw):
    """The batched estimator on the tiny ONNX graph, or (runtime "torch") the tiny PyTorch
    model put in as the runner (a `.pth` loader accepts only the real S/B/L/H sizes)."""
    from relsar_core.pose.vitpose.estimator import ViTPoseEstimator
    from relsar_core.pose.vitpose.people import MultiPersonViTPose

    single = ViTPoseEstimator(str(weights), "onnx", detector=detector, quantize=False)
    inner = {"torch": torch_runner, "figure": lambda: figure_runner}.get(runtime)
    inner = inner() if inner else single._infer
    single._infer = Counting(inner, offset)
    return MultiPersonViTPose(single, **kw)


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_batched_equals_one_by_one(runtime, tiny_onnx):
    multi = _multi(tiny_onnx, runtime)
    image = frame()
    batched = multi.estimate_boxes(image, BOXES)
    assert multi.estimator._infer.batches == [3]  # one model call for all three people
    singles = [multi.estimator.estimate_in_box(image, box) for box in BOXES]
    assert multi.estimator._infer.batches == [3, 1, 1, 1]
    assert len(batched) == 3
    for b, s in zip(batched, singles, strict=True):
        assert b.layout == s.layout == "coco25" and b.keypoints.shape == (25, 3)
        assert np.abs(b.keypoints[:, 2] - s.keypoints[:, 2]).max() < 1e-4
        assert np.abs(b.keypoints[:, :2] - s.keypoints[:, :2]).max() < 1e-2
    # Decoded per person: each skeleton lies in its own padded crop, not in a neighbour's.
    from relsar_core.pose.vitpose.topdown import crop_box

    for sk, box in zip(batched, BOXES, strict=True):
        crop = crop_box(box)
        assert (np.abs(sk.keypoints[:, 0] - crop.cx) <= crop.width / 2 + 1e-3).all()
        assert (np.abs(sk.keypoints[:, 1] - crop.cy) <= crop.height / 2 + 1e-3).all()
    assert multi.estimate_boxes(image, []) == []


def test_n_people_in_n_skeletons_out_and_tracked_between_detections(tiny_onnx):
    image = frame()
    detector = Boxes(BOXES)
    multi = _multi(tiny_onnx, "figure", detector, max_people=4, detect_every=3)
    counts = [len(multi.estimate_people(image)) for _ in range(4)]
    assert counts == [3, 3, 3, 3]
    # Detector on frame 1, then frame 4 (room for a fourth); every frame one batch of 3.
    assert detector.calls == multi.detector_runs == 2
    assert multi.estimator._infer.batches == [3, 3, 3, 3]
    assert multi.landmark_runs == 12 and multi.batch_runs == 4
    assert multi.layout == "coco25"
    # A cap below the crowd: only max_people followed.
    capped = _multi(tiny_onnx, "figure", Boxes(BOXES), max_people=2)
    assert len(capped.estimate_people(image)) == 2
    multi.reset()
    assert len(multi.estimate_people(image)) == 3 and detector.calls == 3


def test_nobody_and_duplicates(tiny_onnx):
    image = frame()
    empty = _multi(tiny_onnx, "onnx", Boxes(BOXES), offset=-5.0)
    assert empty.estimate_people(image) == [] and empty.estimate_people(image) == []
    assert empty.detector_runs == 2  # nobody to track: detect again every frame
    # Two detections of one body (same box, or one inside the other): followed once.
    dup = _multi(tiny_onnx, "onnx", Boxes([BOXES[1], BOXES[1], (260.0, 80.0, 440.0, 440.0)]), 5.0)
    assert len(dup.estimate_people(image)) == 1
    whole = _multi(tiny_onnx, "onnx", None, offset=5.0)  # no detector: the frame is one person
    assert len(whole.estimate_people(image)) == 1 and whole.detector_runs == 0
    with pytest.raises(ValueError, match="BGR frame"):
        whole.estimate_people(np.zeros((10, 10), np.uint8))


def test_factory_and_pipeline_pick_the_batched_estimator(tiny_onnx, monkeypatch):
    from relsar_core.live.pipeline import open_pose
    from relsar_core.pose import factory
    from relsar_core.pose.vitpose.people import MultiPersonViTPose

    monkeypatch.setattr(factory, "_optional_detector", lambda min_score=0.5: None)
    est = open_pose("vitpose", tiny_onnx, max_people=3)
    assert isinstance(est, MultiPersonViTPose) and est.max_people == 3
    assert est.layout == "coco25" and est.estimator.runtime == "onnx"
    assert len(est.estimate_people(frame())) <= 1  # no detector: the whole frame, one crop
    assert est.batch_runs == 1
    est.close()
