"""People mode of the live pipeline: several people replayed at once (no camera, no pose
model), each with their own id, box and label; the selected person drives `prediction`; headless
writes a line per person with their id and box."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relsar_core.live.crowd import CrowdReplaySource, open_any_source
from relsar_core.live.people import FILLING
from relsar_core.live.pipeline import LivePipeline, PipelineRunner
from relsar_core.live.sources import SourceError
from relsar_core.pose.model_store import BLAZEPOSE, SAMPLE_VIDEO, missing_files
from relsar_core.skeleton.clip import load_clip
from relsar_core.skeleton.features import window_features
from relsar_core.skeleton.layouts import to_body15


def _clip_paths(toy_data, classes=("squat", "arms_up")):
    return [sorted((toy_data / c).glob("*.npz"))[2] for c in classes]


def _run(pipeline, source):
    results = []
    runner = PipelineRunner(source, pipeline, results.append)
    runner.start()
    assert runner.wait(20)
    return results


def test_two_people_each_get_an_id_a_box_and_their_own_label(tiny_tflite_model, toy_data):
    from relsar_core.runtime.tflite import TfliteClassifier

    paths = _clip_paths(toy_data)
    clips = [load_clip(p) for p in paths]
    classifier = TfliteClassifier(tiny_tflite_model)
    pipeline = LivePipeline(classifier, stride=5, alpha=1.0, threshold=0.0, people=2, fps=30)
    source = CrowdReplaySource(paths, loop=False)
    width = source.image_size[0] // 2
    results = _run(pipeline, source)
    assert len(results) == 60
    assert [len(r.people) for r in results[:3]] == [0, 0, 2]  # an id after 3 frames seen
    assert all(len(r.people) == 2 for r in results[2:])
    ids = {r.people[0].person for r in results[2:]} | {r.people[1].person for r in results[2:]}
    assert len(ids) == 2  # nobody switched ids or was born twice
    preds = [p for r in results for p in r.predictions if p.person is not None]
    classified = [p for p in preds if p.probabilities is not None]
    assert {p.reason for p in preds if p.probabilities is None} == {FILLING}
    # Both, on every 5th frame once their window (from frame 2) is full at frame 31.
    assert len(classified) == 2 * len(range(35, 60, 5))
    for pred in classified:
        side = 0 if pred.box[2] < width else 1  # whose half of the frame the box is in
        assert (pred.box[0] >= width) == bool(side)
        clip = clips[side]
        assert pred.raw_label == clip.label
        # Same as the one-person classifier on that person's own last 30 frames.
        window = to_body15(clip.keypoints, clip.layout)[
            pred.frame_index - 29 : pred.frame_index + 1
        ]
        window = window.copy()
        window[:, :, 0] += side * width
        single = classifier.predict(window_features(window))
        np.testing.assert_allclose(pred.probabilities, single.probabilities, atol=1e-4)
    # The panels follow one person: the largest at first, whoever is picked after a click.
    last = results[-1]
    assert last.prediction is None or last.prediction.person == last.selected
    picked = [p.person for p in last.people if p.person != last.selected][0]
    pipeline.select_person(picked)
    more = _run(pipeline, CrowdReplaySource(paths, loop=False))
    followed = [r for r in more if r.prediction is not None and r.prediction.person]
    assert len(followed) == 12  # the same tracks go on: frames 0, 5, ..., 55
    assert all(r.prediction.person == r.selected for r in followed)
    assert {r.selected for r in more} == {picked}  # the click holds while they live


def test_people_mode_nobody_and_a_person_who_leaves(tiny_tflite_model, toy_data):
    from relsar_core.runtime.tflite import TfliteClassifier
    from relsar_core.skeleton.clip import Clip

    long, short = (load_clip(p) for p in _clip_paths(toy_data))
    short = Clip(short.keypoints[:20], short.layout, short.fps, short.image_size, short.label)
    pipeline = LivePipeline(TfliteClassifier(tiny_tflite_model), stride=5, people=4, fps=30)
    results = _run(pipeline, CrowdReplaySource([long, short], loop=False))
    counts = [len(r.people) for r in results]
    assert counts[2:20] == [2] * 18 and counts[20:] == [1] * 40
    # The one who left is forgotten within about a second (no state kept for them).
    assert len(pipeline.crowd.recognizer) == 1 and len(pipeline.crowd.tracker) == 1
    first = results[0].predictions  # frame 0: nobody has an id yet -> one "nobody" line
    assert len(first) == 1 and first[0].person is None and first[0].smoothed.label == "—"


def test_open_any_source_reads_several_clips_as_people(toy_data, tmp_path):
    paths = _clip_paths(toy_data)
    source = open_any_source(f"{paths[0]}+{paths[1]}", loop=False)
    frame = source.read()
    assert len(frame.people) == 2 and frame.image_size == (1280, 480)
    assert frame.people[1].keypoints[:, 0].min() >= 640  # side by side
    with pytest.raises(SourceError, match="nope.npz"):
        open_any_source(f"{paths[0]}+{tmp_path / 'nope.npz'}")


def test_headless_writes_a_line_per_person_with_id_and_box(tiny_tflite_model, toy_data, tmp_path):
    from app.main import main

    paths = _clip_paths(toy_data)
    out = tmp_path / "people.jsonl"
    args = ["--headless", "--model", str(tiny_tflite_model), "--out", str(out), "--threshold", "0"]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--source", f"{paths[0]}+{paths[1]}", "--people", "2"])
    assert exit_.value.code == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    people = {x["person"] for x in lines if x["person"] is not None}
    assert len(people) == 2
    labelled = [x for x in lines if x["probabilities"] is not None]
    assert len(labelled) == 10  # 2 people x frames 35, 40, ..., 55
    for x in labelled:
        x0, y0, x1, y1 = x["box"]
        assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 480 and x["reason"] is None
        want = "squat" if x1 <= 640 else "arms_up"
        assert x["raw_label"] == want
    by_person = {}
    for x in labelled:
        by_person.setdefault(x["person"], set()).add(x["box"][0] >= 640)
    assert sorted(len(v) for v in by_person.values()) == [1, 1]  # each id stays on one side
    assert all(x["reason"] == "window filling" for x in lines if x["frame"] in (5, 10))

    # One-person mode (the default) keeps today's lines: person 1 while someone is in view.
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--source", str(paths[0])])
    assert exit_.value.code == 0
    single = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["frame"] for x in single] == list(range(29, 60, 5))
    assert all(x["person"] == 1 and len(x["box"]) == 4 for x in single)
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--source", str(paths[0]), "--people", "0"])
    assert exit_.value.code == 2


@pytest.mark.skipif(
    bool(
        missing_files(BLAZEPOSE, check_hash=False) or missing_files(SAMPLE_VIDEO, check_hash=False)
    ),
    reason="BlazePose models or sample video not fetched: run `make models`",
)
def test_people_bench_runs_the_real_pipeline_on_walkers(tmp_path):
    """relsar-bench pipeline --people: the several-people path on real frames, end to end."""
    from relsar_core.assets import DEFAULT_MODEL
    from relsar_core.bench.people_pipeline import _run
    from relsar_core.bench.pose import load_sample_frames
    from relsar_core.bench.videos import write_video
    from relsar_core.live.pipeline import open_classifier

    images, desc = load_sample_frames(50, start=40)  # a walker crosses (id 2 in docs/app.md)
    spec = str(write_video(tmp_path, images))
    classifier, _ = open_classifier(DEFAULT_MODEL)
    r = _run(spec, classifier, 2, len(images), realtime=False)
    assert len(r["counts"]) == len(images) and r["counts"].max() <= 2
    assert r["counts"].sum() >= len(images) // 2, desc  # BlazePose follows the walker
    longest = max(n for _, _, n in r["spans"].values())
    assert longest >= 30 and 1.0 < r["cpu_ms_per_frame"] < 2000
