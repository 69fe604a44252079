"""ViTPose runtimes and the estimator: ONNX export parity with PyTorch, int8, caching, the
top-down estimator with detector + tracking, the factory, and fetching without a network."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from relsar_core.errors import ConfigError, ModelFileError
from relsar_core.pose.vitpose.model import ViTPoseConfig, random_vitpose

TINY = dict(embed_dim=64, depth=2, num_heads=4, num_joints=25)


def _user_models_dir():
    from relsar_core.pose.model_store import models_dir

    return models_dir()


# The fetched BlazePose models, found before the `models_dir` fixture points the variable away.
USER_MODELS = _user_models_dir()


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """An empty models folder for the whole module (ONNX exports are cached there)."""
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RELSAR_MODELS_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def vitpose_s(models_dir):
    """A ViTPose-S coco_25 checkpoint with random weights, in easy_ViTPose's file format."""
    model = random_vitpose(ViTPoseConfig.for_size("s"), seed=3)
    path = models_dir / "upload" / "vitpose-s-coco_25.pth"
    path.parent.mkdir()
    torch.save({"state_dict": model.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    """A tiny ViTPose exported to ONNX: the estimator takes `.onnx` files as weights too."""
    from relsar_core.pose.vitpose.onnx_export import export_onnx

    model = random_vitpose(ViTPoseConfig(**TINY), seed=6)
    return export_onnx(model, tmp_path_factory.mktemp("tiny") / "tiny-coco25.onnx")


def scene() -> np.ndarray:
    """A 480×640 BGR frame with structure (a figure-like drawing on a gradient)."""
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:] = np.linspace(40, 200, 640, dtype=np.uint8)[None, :, None]
    cv2.circle(frame, (320, 110), 35, (60, 120, 220), -1)
    cv2.rectangle(frame, (270, 150), (370, 320), (200, 60, 40), -1)
    for a, b in [
        ((280, 160), (200, 260)),
        ((360, 160), (440, 250)),
        ((295, 320), (280, 450)),
        ((345, 320), (370, 450)),
    ]:
        cv2.line(frame, a, b, (30, 200, 90), 18)
    return frame


def test_matmul_head_is_the_same_function():
    from relsar_core.pose.vitpose.onnx_export import export_form

    model = random_vitpose(ViTPoseConfig(**TINY), seed=4)
    x = torch.randn(2, 3, 256, 192)
    with torch.no_grad():
        ref = model(x)
        alt = export_form(model)(x)
    assert alt.shape == ref.shape == (2, 25, 64, 48)
    assert torch.allclose(alt, ref, atol=1e-5), (alt - ref).abs().max()


def test_onnx_float_matches_pytorch_and_int8_stays_close(tmp_path):
    from relsar_core.pose.vitpose.onnx_export import OnnxViTPose, export_onnx, quantize_int8

    model = random_vitpose(ViTPoseConfig(**TINY), seed=5)
    x = np.random.default_rng(0).standard_normal((3, 3, 256, 192)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    float_path = export_onnx(model, tmp_path / "tiny.onnx")
    runner = OnnxViTPose(float_path, num_threads=1)
    assert (runner.num_joints, runner.input_size) == (25, (256, 192))
    out = runner(x)  # batch of 3 through a graph exported with batch 1: dynamic axis
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-4
    int8 = OnnxViTPose(quantize_int8(float_path, tmp_path / "tiny8.onnx"))
    q = int8(x)
    assert (tmp_path / "tiny8.onnx").stat().st_size < 0.5 * float_path.stat().st_size
    rel = np.sqrt(np.mean((q - ref) ** 2)) / np.sqrt(np.mean(ref**2))
    assert 0 < rel < 0.05, rel  # quantized (not identical) yet close
    import onnx

    ops = [n.op_type for n in onnx.load(str(tmp_path / "tiny8.onnx")).graph.node]
    # 2 blocks × 4 weight MatMuls + 2 deconvolutions quantized; float: the heatmap layer and
    # the 2 × 2 activation-by-activation MatMuls of attention.
    assert ops.count("MatMulInteger") == 10 and ops.count("MatMul") == 5


def test_bad_onnx_file_is_a_clear_error(tmp_path):
    from relsar_core.pose.vitpose.onnx_export import OnnxViTPose

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x00not onnx")
    with pytest.raises(ModelFileError, match="broken.onnx: ONNX Runtime cannot load it"):
        OnnxViTPose(bad)
    with pytest.raises(ModelFileError, match="not found"):
        OnnxViTPose(tmp_path / "absent.onnx")


def test_torch_and_onnx_estimators_agree_on_a_frame(vitpose_s, models_dir):
    from relsar_core.pose.vitpose.estimator import ViTPoseEstimator

    frame = scene()
    box = (250.0, 60.0, 450.0, 460.0)
    torch_est = ViTPoseEstimator(str(vitpose_s), "torch")
    onnx_est = ViTPoseEstimator(str(vitpose_s), "onnx", quantize=False)
    int8_est = ViTPoseEstimator(str(vitpose_s), "onnx")
    a = torch_est.estimate_in_box(frame, box)
    b = onnx_est.estimate_in_box(frame, box)
    c = int8_est.estimate_in_box(frame, box)
    assert a.layout == b.layout == c.layout == "coco25"
    assert a.keypoints.shape == (25, 3) and a.keypoints.dtype == np.float32
    assert np.abs(a.keypoints - b.keypoints).max() < 1e-2
    assert np.isfinite(c.keypoints).all()
    # Keypoints are in image pixels, inside the padded crop around the box.
    assert (a.keypoints[:, 0] > 150).all() and (a.keypoints[:, 0] < 550).all()
    assert a.to_body15().shape == (15, 3)
    # Exported once, cached by the checkpoint's hash, reused on the next start.
    (folder,) = (models_dir / "vitpose" / "onnx").iterdir()
    assert folder.name.startswith("vitpose-s-coco_25-")
    assert sorted(p.name for p in folder.iterdir()) == ["float.onnx", "int8.onnx"]
    stamps = [p.stat().st_mtime_ns for p in sorted(folder.iterdir())]
    ViTPoseEstimator(str(vitpose_s), "onnx")
    assert stamps == [p.stat().st_mtime_ns for p in sorted(folder.iterdir())]


class FakeDetector:
    """Stands in for BlazePoseDetector: one fixed person, counting its calls."""

    class Person:
        box = (250.0, 60.0, 450.0, 460.0)
        score = 0.9

    def __init__(self, people: int = 1) -> None:
        self.people = people
        self.calls = 0

    def detect(self, frame):
        self.calls += 1
        return [self.Person()] * self.people


def _shifted(estimator, offset: float):
    """Make the model's heatmaps uniformly confident (+) or empty (−): the estimator's own
    crop/decode/tracking code runs unchanged on top of the real network."""
    inner = estimator._infer
    estimator._infer = lambda pixels: inner(pixels) + offset
    return estimator


def test_tracking_skips_the_detector_until_the_person_is_lost(tiny_onnx):
    from relsar_core.pose.vitpose.estimator import ViTPoseEstimator

    frame = scene()
    detector = FakeDetector()
    est = _shifted(ViTPoseEstimator(str(tiny_onnx), "onnx", detector=detector), 5.0)
    skeletons = [est.estimate(frame) for _ in range(4)]
    assert all(s is not None and s.keypoints.shape == (25, 3) for s in skeletons)
    assert detector.calls == 1 and est.detector_runs == 1  # frames 2–4 tracked
    est.reset()
    est.estimate(frame)
    assert detector.calls == 2
    untracked = ViTPoseEstimator(str(tiny_onnx), "onnx", detector=FakeDetector(), tracking=False)
    _shifted(untracked, 5.0)
    for _ in range(3):
        untracked.estimate(frame)
    assert untracked.detector.calls == 3


def test_nobody_in_the_frame_gives_none(tiny_onnx):
    from relsar_core.pose.vitpose.estimator import ViTPoseEstimator

    frame = scene()
    detector = FakeDetector()
    est = _shifted(ViTPoseEstimator(str(tiny_onnx), "onnx", detector=detector), -5.0)
    assert est.estimate(frame) is None and est.estimate(frame) is None
    assert detector.calls == 2  # nothing to track: detect again every frame
    empty = _shifted(ViTPoseEstimator(str(tiny_onnx), "onnx", detector=FakeDetector(0)), 5.0)
    assert empty.estimate(frame) is None  # the detector finds nobody
    whole = _shifted(ViTPoseEstimator(str(tiny_onnx), "onnx"), 5.0)  # no detector: whole frame
    assert whole.estimate(frame) is not None
    with pytest.raises(ValueError, match="BGR frame"):
        whole.estimate(np.zeros((10, 10), np.uint8))
    with pytest.raises(ConfigError, match="runtime"):
        ViTPoseEstimator(str(tiny_onnx), "tensorrt")


def test_factory_builds_vitpose_from_weights(vitpose_s):
    from relsar_core.pose.factory import create_pose_estimator
    from relsar_core.pose.vitpose.estimator import ViTPoseEstimator

    est = create_pose_estimator("vitpose", weights=str(vitpose_s), runtime="onnx")
    assert isinstance(est, ViTPoseEstimator) and est.layout == "coco25" and est.runtime == "onnx"
    with pytest.raises(ModelFileError, match="not found"):
        create_pose_estimator("vitpose", weights=str(vitpose_s.parent / "nope.pth"))


def test_fetch_fails_at_once_offline_and_names_where_to_put_the_file(models_dir, monkeypatch):
    from relsar_core.pose.vitpose.weights import fetch_vitpose, find_local_vitpose

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ModelFileError) as err:
        fetch_vitpose("b")
    assert time.perf_counter() - start < 2
    message = str(err.value)
    assert "JunkyByte/easy_ViTPose" in message and "torch/coco_25/vitpose-b-coco_25.pth" in message
    assert str(models_dir / "vitpose" / "vitpose-b-coco_25.pth") in message
    with pytest.raises(ModelFileError, match="unknown ViTPose size"):
        fetch_vitpose("xl")
    # A file put there by hand is found and used, with no network at all.
    assert find_local_vitpose() is None
    placed = models_dir / "vitpose" / "vitpose-b-coco_25.pth"
    placed.parent.mkdir(parents=True, exist_ok=True)
    placed.write_bytes(b"placeholder")
    try:
        assert fetch_vitpose("b") == placed and find_local_vitpose() == placed
    finally:
        placed.unlink()


def test_fetch_lands_a_downloaded_checkpoint_and_rejects_a_bad_one(tmp_path, monkeypatch):
    """The download itself is huggingface_hub's; here it is replaced by a local copy to check
    what fetch does with the file: validated, renamed into place, a broken one never lands."""
    import huggingface_hub

    from relsar_core.pose.vitpose import weights as vitpose_weights

    good = tmp_path / "good.pth"
    torch.save(random_vitpose(ViTPoseConfig.for_size("s", num_joints=17)).state_dict(), good)
    payload = {"bytes": good.read_bytes()}

    def fake_download(repo, filename, local_dir):
        assert (repo, filename) == ("JunkyByte/easy_ViTPose", "torch/coco/vitpose-s-coco.pth")
        path = Path(local_dir) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload["bytes"])
        return str(path)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(vitpose_weights, "_unreachable_reason", lambda: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    landed = vitpose_weights.fetch_vitpose("s", "coco", dest=tmp_path / "dest")
    assert landed == tmp_path / "dest" / "vitpose-s-coco.pth"
    assert vitpose_weights.load_vitpose(landed).config.num_joints == 17
    payload["bytes"] = b"<html>proxy login page</html>"
    with pytest.raises(ModelFileError, match="not a readable PyTorch checkpoint"):
        vitpose_weights.fetch_vitpose("s", "coco", dest=tmp_path / "other")
    assert not list((tmp_path / "other").glob("*.pth")) and not list(
        (tmp_path / "other").glob("*.part")
    )


def test_first_crop_comes_from_the_real_blazepose_detector(tiny_onnx):
    from relsar_core.pose.model_store import BLAZEPOSE, bundle_dir, missing_files

    if missing_files(BLAZEPOSE, USER_MODELS, check_hash=False):
        pytest.skip(
            "BlazePose models not fetched: run `relsar-models fetch blazepose` (make test does)"
        )
    skimage_data = pytest.importorskip("skimage.data")
    from relsar_core.pose.blazepose.estimator import BlazePoseDetector
    from relsar_core.pose.vitpose.estimator import ViTPoseEstimator
    from relsar_core.pose.vitpose.topdown import crop_box

    photo = np.ascontiguousarray(skimage_data.astronaut()[..., ::-1])
    detector = BlazePoseDetector(bundle_dir(BLAZEPOSE, USER_MODELS))
    person = detector.detect(photo)[0]
    est = _shifted(ViTPoseEstimator(str(tiny_onnx), detector=detector), 5.0)
    skeleton = est.estimate(photo)
    assert est.detector_runs == 1 and skeleton is not None
    crop = crop_box(person.box)
    xy = skeleton.keypoints[:, :2]
    assert (np.abs(xy[:, 0] - crop.cx) <= crop.width / 2 + 1e-3).all()
    assert (np.abs(xy[:, 1] - crop.cy) <= crop.height / 2 + 1e-3).all()


def test_onnx_path_and_file_lookups_never_import_pytorch(tiny_onnx):
    """The app with ViTPose on ONNX Runtime (or with BlazePose, looking for a checkpoint) must not
    pay for importing PyTorch: seconds at start-up and hundreds of MB."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from relsar_core.pose.factory import resolve_backend\n"
        "from relsar_core.pose.vitpose.estimator import ViTPoseEstimator\n"
        "resolve_backend('auto')\n"
        f"est = ViTPoseEstimator({str(tiny_onnx)!r})\n"
        "est.estimate(np.zeros((120, 160, 3), np.uint8))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
