"""When BlazePose finds nobody, the window says why: people too small (found when the frame is
looked at again in tiles) or nobody in view; on the full real sample video, six small walkers."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from app import session, texts
from relsar_core.pose.blazepose import small_people
from relsar_core.pose.model_store import BLAZEPOSE, SAMPLE_VIDEO, missing_files
from tests.test_app import make_window  # noqa: F401 - a fixture


class CountingDetector:
    def __init__(self, found: int) -> None:
        self.found, self.calls = found, 0

    def detect(self, tile: np.ndarray) -> list:
        self.calls += 1
        return [object()] * self.found


def test_probe_runs_once_a_second_and_remembers_small_people():
    probe = small_people.MissProbe()
    frame = np.zeros((576, 768, 3), np.uint8)
    detector = CountingDetector(1)
    for _ in range(small_people.PROBE_EVERY + 1):
        probe.missed(detector, frame)
    assert probe.probes == 2 and detector.calls == 8  # 4 tiles, at frames 0 and 30 only
    assert probe.reason == small_people.SMALL
    detector.found = 0
    for _ in range(small_people.PROBE_EVERY * (small_people.REMEMBER_PROBES - 1)):
        probe.missed(detector, frame)
    assert probe.reason == small_people.SMALL  # seen in one of the last 3 probes
    for _ in range(small_people.PROBE_EVERY):
        probe.missed(detector, frame)
    assert probe.reason == small_people.NONE
    probe.found()
    assert probe.reason is None


def test_probe_with_a_score_bar_ignores_weak_detections():
    class Det:
        def __init__(self, score: float) -> None:
            self.score = score

    class WeakDetector:
        def detect(self, tile: np.ndarray) -> list:
            return [Det(0.35)]

    frame = np.zeros((576, 768, 3), np.uint8)
    probe = small_people.MissProbe(min_score=0.5)  # the several-people BlazePose's probe
    probe.missed(WeakDetector(), frame)
    assert probe.reason == small_people.NONE  # a 0.35 box is not "people too small"
    assert small_people.people_in_tiles(WeakDetector(), frame, 0.3) == 4


def test_tiles_cover_the_frame_at_twice_the_scale():
    frame = np.zeros((576, 768, 3), np.uint8)
    parts = small_people.tiles(frame)
    assert len(parts) == 4 and all(t.shape == (346, 461, 3) for t in parts)
    covered = np.zeros(frame.shape[:2], bool)
    for t in parts:
        offset = t.__array_interface__["data"][0] - frame.__array_interface__["data"][0]
        y, x = divmod(offset // 3, 768)
        covered[y : y + t.shape[0], x : x + t.shape[1]] = True
    assert covered.all()


class FakePose:
    def __init__(self, reason):
        self.reason = reason

    def miss_reason(self):
        return self.reason


def test_the_window_words_the_reason():
    assert "too small" in texts.nobody_text(FakePose("small"))
    assert "ViTPose" in texts.nobody_text(FakePose("small"))
    assert texts.nobody_text(FakePose("none")) == "nobody in view"
    assert texts.nobody_text(FakePose(None)) == "nobody in view"
    assert texts.nobody_text(None) == "nobody in view"  # a replay, a backend without reasons


def test_the_selected_persons_reason_is_worded():
    from relsar_core.live.people import FILLING, TOO_FEW_JOINTS, TOO_SMALL

    assert set(texts.PERSON_HINTS) == {TOO_SMALL, TOO_FEW_JOINTS, FILLING}

    class Pred:
        class smoothed:  # noqa: N801 - a stand-in for SmoothedLabel
            label = "—"

        probabilities = None
        reason = TOO_SMALL

    assert "too small" in texts.confidence_text(Pred()) and "ViTPose" in texts.confidence_text(
        Pred()
    )


def _unsure(probabilities, names):
    import numpy as np

    class Pred:
        class smoothed:  # noqa: N801 - a stand-in for SmoothedLabel
            label = "—"

        class_names = names

    Pred.smoothed.probabilities = np.asarray(probabilities, np.float32)
    Pred.probabilities = Pred.smoothed.probabilities
    return texts.confidence_text(Pred())


def test_no_action_names_the_best_real_action_never_the_rejection_class():
    names = ["wave", "clap", "other"]
    assert _unsure([0.4, 0.35, 0.25], names) == "unsure (best: wave 40%)"
    # The gate moved most of the mass to `other`: say so, and name the nearest action.
    assert _unsure([0.1, 0.2, 0.7], names) == "no known action (closest: clap 20%)"
    assert _unsure([1.0], ["other"]) == "no known action"


@pytest.mark.skipif(
    bool(
        missing_files(BLAZEPOSE, check_hash=False) or missing_files(SAMPLE_VIDEO, check_hash=False)
    ),
    reason="BlazePose models or sample video not fetched: run `make models`",
)
@pytest.mark.parametrize("people", [1, 4])
def test_full_sample_video_says_people_too_small_and_a_blank_frame_nobody(people):
    from relsar_core.pose.blazepose.estimator import BlazePoseEstimator
    from relsar_core.pose.blazepose.people import MultiPersonBlazePose
    from relsar_core.pose.sample_media import sample_video_path

    cap = cv2.VideoCapture(str(sample_video_path()))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (576, 768, 3)
    if people == 1:
        pose = BlazePoseEstimator(num_threads=1)
        estimate = pose.estimate
    else:  # the several-people estimator (people mode) gives the same reason
        pose = MultiPersonBlazePose(num_threads=1, max_people=people)
        estimate = pose.estimate_people
    try:
        assert pose.detector.detect(frame) == []  # the whole frame: walkers too small to see
        assert not estimate(frame)
        assert pose.miss_reason() == small_people.SMALL
        assert "people too small" in texts.nobody_text(pose)
        pose.reset()
        assert not estimate(np.full_like(frame, 128))
        assert pose.miss_reason() == small_people.NONE
    finally:
        pose.close()


@pytest.mark.skipif(
    bool(
        missing_files(BLAZEPOSE, check_hash=False) or missing_files(SAMPLE_VIDEO, check_hash=False)
    ),
    reason="BlazePose models or sample video not fetched: run `make models`",
)
@pytest.mark.parametrize("people", [1, 4])
def test_window_on_the_full_sample_video_says_people_too_small(make_window, qtbot, people):
    from relsar_core.assets import DEFAULT_MODEL
    from relsar_core.pose.sample_media import sample_video_path

    window = make_window(
        str(sample_video_path()), DEFAULT_MODEL, pose_backend="blazepose", people=people
    )
    qtbot.waitUntil(
        lambda: "people too small" in window.results.confidence_label.full_text(), timeout=20000
    )
    assert window.results.action_label.full_text() == "—"
    hinted = time.monotonic()
    # The banner explains it once the reason has held for a few seconds (not on a brief miss).
    qtbot.waitUntil(lambda: "too small for BlazePose" in window.banner.text, timeout=20000)
    assert time.monotonic() - hinted >= session.SMALL_PEOPLE_BANNER_S - 1.0
    assert window.banner.level == "info"
    window.stop()


def test_a_new_source_hides_the_last_sources_too_small_note(make_window, qtbot):
    """The note is about the video it was shown for: the demo played after it does not keep it
    (it stayed above the skeleton replay after Ctrl+D from the full sample video)."""
    from relsar_core.assets import DEFAULT_MODEL

    window = make_window("demo", DEFAULT_MODEL)
    window.show_message(texts.SMALL_PEOPLE_NOTE, "info")
    assert "too small for BlazePose" in window.banner.text
    window.open_source("demo")
    qtbot.waitUntil(lambda: not window.tasks and window.running, timeout=20000)
    assert window.banner.text == ""
    window.stop()


def test_the_too_small_note_goes_once_someone_is_classified(make_window, qtbot):
    """The "nobody recognised" note stayed above walkers named walk on the full sample video."""
    from types import SimpleNamespace

    from relsar_core.assets import DEFAULT_MODEL

    window = make_window("demo", DEFAULT_MODEL)
    window.stop()
    window.show_message(texts.SMALL_PEOPLE_NOTE, "info")
    window.nobody_explained = True  # shown once for this source
    session.explain_nobody(window, SimpleNamespace(probabilities=None))
    assert "too small for BlazePose" in window.banner.text  # still nobody classified
    session.explain_nobody(window, SimpleNamespace(probabilities=np.full(3, 1 / 3)))
    assert window.banner.text == ""
    window.show_message("Results not exported: disk full", "error")
    session.explain_nobody(window, SimpleNamespace(probabilities=np.full(3, 1 / 3)))
    assert window.banner.text.startswith("Results not exported")  # other messages stay
