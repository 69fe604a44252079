"""The taught head names a window in the context of its stream's recent windows
(fewshot_context.DistanceContext): the same code in the live pipeline (one person or several),
the bench and scripts; a window alone when there is no stream (issue #15)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from relsar_core.live.pipeline import LivePipeline
from relsar_core.live.sources import Frame
from relsar_core.pose.base import Skeleton
from relsar_core.runtime.fewshot_context import (
    CONTEXT_SECONDS,
    RESTART_WINDOWS,
    DistanceContext,
    named_column,
    predict_in_stream,
    predict_streams,
    stream_contexts,
)
from relsar_core.runtime.fewshot_head import BASE_MARGIN, FewShotHead, unit
from relsar_core.skeleton.clip import load_clip

STEP = 5 / 30  # the app's stride at the model's rate


def test_the_context_averages_up_to_four_thirds_of_a_second_and_starts_again():
    assert CONTEXT_SECONDS == pytest.approx(8 * STEP)  # the current window and the seven before
    c = DistanceContext(restart_windows=0)  # the mean alone (the restart: the next test)
    np.testing.assert_allclose(c.add(0.0, [0.9, 0.0]), [0.9, 0.0])
    np.testing.assert_allclose(c.add(STEP, [0.0, 0.3]), [0.45, 0.15])
    np.testing.assert_allclose(c.add(2 * STEP, [0.0, 0.0]), [0.3, 0.1], atol=1e-6)
    np.testing.assert_allclose(c.add(8 * STEP, [0.0, 0.0]), [0.225, 0.075], atol=1e-6)
    # The window of time 0 is more than CONTEXT_SECONDS old now: it leaves the mean.
    np.testing.assert_allclose(c.add(9 * STEP, [0.0, 0.0]), [0.0, 0.075], atol=1e-6)
    # A gap longer than the context: the old windows no longer count.
    np.testing.assert_allclose(c.add(9 * STEP + 2.0, [0.2, 0.2]), [0.2, 0.2])
    # Time going back (a new source) or another number of actions (new taught actions).
    np.testing.assert_allclose(c.add(0.0, [0.4, 0.6]), [0.4, 0.6])
    np.testing.assert_allclose(c.add(STEP, [0.1, 0.1, 0.1]), [0.1, 0.1, 0.1])
    c.reset()
    np.testing.assert_allclose(c.add(2 * STEP, [0.5, 0.5, 0.5]), [0.5, 0.5, 0.5])


def _named_by_context(context: DistanceContext, rows, base_margin=None) -> list[int]:
    return [
        named_column(context.add(i * STEP, row, base_margin), base_margin)
        for i, row in enumerate(rows)
    ]


def test_the_context_starts_again_when_the_last_windows_name_another_action():
    assert RESTART_WINDOWS == 3
    a, b, between = [0.1, 0.5], [0.5, 0.1], [0.32, 0.28]  # near a, near b, a little nearer b
    # Six windows of a, then b: the mean of all eight would still name a at b's third window;
    # the context starts again there and keeps only b's three.
    named = _named_by_context(DistanceContext(), [a] * 6 + [b] * 3)
    assert named == [0] * 8 + [1]
    fixed = _named_by_context(DistanceContext(restart_windows=0), [a] * 6 + [b] * 3)
    assert fixed == [0] * 9  # without the restart: still a
    # Two windows a little nearer b inside a's stream (a spin's wind-up) do not restart it.
    assert _named_by_context(DistanceContext(), [a] * 4 + [between] * 2 + [a]) == [0] * 7
    # The base column (last) counts with the head's margin: a taught action nearer than the
    # base centroid by less than -BASE_MARGIN is the base class.
    assert named_column([0.28, 0.30], BASE_MARGIN) == 1
    assert named_column([0.28, 0.30]) == 0
    base = [0.50, 0.20]
    named = _named_by_context(DistanceContext(), [[0.1, 0.5]] * 6 + [base] * 3, BASE_MARGIN)
    assert named[-1] == 1 and named[-2] == 0


def _two_actions():
    """A head with actions a (around e0) and b (around e1) from two clips each, no base gate,
    and a window w between them, a little nearer b."""
    rng = np.random.default_rng(0)
    e = np.eye(8, dtype=np.float32)
    rows, labels, clips = [], [], []
    for c, (name, axis) in enumerate((("a", 0), ("b", 1))):
        for clip in range(2):
            for _ in range(6):
                rows.append(e[axis] + 0.05 * rng.normal(size=8))
                labels.append(name)
                clips.append(2 * c + clip)
    head = FewShotHead().fit(np.array(rows), labels, clips)
    w = unit(0.48 * e[0] + 0.52 * e[1] + 0.3 * e[2])
    return head, unit(e[0] + 0.1 * e[2]), w


def test_a_window_is_named_from_its_streams_recent_windows():
    head, a, w = _two_actions()
    _, alone = head.predict(np.stack([a, a, w]))
    assert [head.classes[i] for i in alone.argmax(1)] == ["a", "a", "b"]  # w alone: b
    # One stream: w comes right after two windows of a and is named a ...
    contexts, times = stream_contexts(["s", "s", "s"], STEP)
    assert contexts[0] is contexts[2] and times.tolist() == [0.0, STEP, 2 * STEP]
    _, in_stream = head.predict(np.stack([a, a, w]), contexts, times)
    assert [head.classes[i] for i in in_stream.argmax(1)] == ["a", "a", "a"]
    # ... but not when it is another stream's (another person, another clip).
    contexts, times = stream_contexts(["s", "s", "t"], STEP)
    assert contexts[0] is not contexts[2] and times.tolist() == [0.0, STEP, 0.0]
    _, apart = head.predict(np.stack([a, a, w]), contexts, times)
    assert head.classes[int(apart[2].argmax())] == "b"


class _Recorder:
    """A classifier with taught actions (names_in_context) that records what it is given."""

    class_names, window, names_in_context = ["a", "b"], 30, True

    def __init__(self) -> None:
        self.calls: list = []

    def _out(self, n):
        p = np.tile(np.array([0.9, 0.1], np.float32), (n, 1))
        return SimpleNamespace(logits=np.log(p), probabilities=p, embedding=np.zeros((n, 4)))

    def predict(self, features, context=None, time=None):
        rows = None  # how many windows the head's mean is over
        if context is not None:
            context.add(time, np.zeros(2))
            rows = len(context._rows)
        self.calls.append((context, time, rows))
        out = self._out(1)
        return SimpleNamespace(
            logits=out.logits[0], probabilities=out.probabilities[0], embedding=out.embedding[0]
        )

    def predict_batch(self, features, contexts=None, times=None):
        self.calls.append((contexts, times))
        return self._out(len(features))


def test_stream_helpers_give_context_only_to_a_taught_head():
    taught, feats = _Recorder(), np.zeros((30, 60), np.float32)
    ctx = DistanceContext()
    predict_in_stream(taught, feats, ctx, 1.5)
    predict_streams(taught, feats[None].repeat(2, 0), [ctx, DistanceContext()], 2.0)
    assert taught.calls[0][:2] == (ctx, 1.5) and taught.calls[1][1] == [2.0, 2.0]
    predict_in_stream(taught, feats, ctx, None)  # no time: the window alone
    assert taught.calls[2][:2] == (None, None)

    class Plain:  # a model without taught actions takes no context
        def predict(self, features):
            return "alone"

        def predict_batch(self, features):
            return "batch"

    assert predict_in_stream(Plain(), feats, ctx, 1.0) == "alone"
    assert predict_streams(Plain(), feats[None], [ctx], 1.0) == "batch"


def test_the_pipeline_keeps_one_context_per_source_and_person(toy_data):
    kp = load_clip(sorted((toy_data / "wave").glob("*.npz"))[0]).keypoints
    classifier = _Recorder()
    pipeline = LivePipeline(classifier, stride=5, alpha=1.0, threshold=0.5)
    for i in range(40):
        pipeline.process(Frame(i, time.perf_counter(), None, (640, 480), Skeleton(kp[i], "body15")))
    contexts = {id(c) for c, _, _ in classifier.calls}
    assert len(classifier.calls) == 3 and contexts == {id(pipeline.context)}
    assert [t for _, t, _ in classifier.calls] == pytest.approx([29 / 30, 34 / 30, 39 / 30])
    assert [n for _, _, n in classifier.calls] == [1, 2, 3]  # each named with the ones before
    pipeline.reset()  # a new source: the context starts again with the window
    for i in range(40, 70):
        skeleton = Skeleton(kp[i - 40], "body15")
        pipeline.process(Frame(i, time.perf_counter(), None, (640, 480), skeleton))
    assert len(classifier.calls) == 4 and classifier.calls[3][2] == 1
    # Nobody in view for a while, then someone: named afresh, not with the one who left.
    for i in range(70, 100):
        pipeline.process(Frame(i, time.perf_counter(), None, (640, 480), None))
    before = len(classifier.calls)
    for i in range(100, 130):
        pipeline.process(
            Frame(i, time.perf_counter(), None, (640, 480), Skeleton(kp[i - 100], "body15"))
        )
    assert len(classifier.calls) > before and classifier.calls[before][2] == 1


def test_live_naming_of_taught_actions_equals_the_bench_path(tmp_path, toy_data):
    """The pipeline, frame by frame, gives the same probabilities as the bench's batch of a
    clip's windows in one stream (stream_contexts): one code path for the context."""
    import shutil

    from relsar_core.assets import ASSETS_DIR
    from relsar_core.runtime import fewshot
    from relsar_core.runtime.tflite import TfliteClassifier
    from relsar_core.skeleton.features import clip_features

    model = tmp_path / "default.tflite"
    shutil.copy(ASSETS_DIR / "models" / "default.tflite", model)
    shutil.copy(ASSETS_DIR / "models" / "default.json", model.with_suffix(".json"))
    waves = sorted((toy_data / "wave").glob("*.npz"))
    taught = fewshot.teach(TfliteClassifier(model), model, {"wave2": waves[:3]}, save=False)
    kp = load_clip(waves[11]).keypoints
    pipeline = LivePipeline(taught, stride=5, alpha=1.0, threshold=0.0)
    live = []
    for i in range(len(kp)):
        out = pipeline.process(
            Frame(i, time.perf_counter(), None, (640, 480), Skeleton(kp[i], "body15"))
        )
        if out.prediction is not None:
            live.append(out.prediction.probabilities)
    windows = clip_features(kp, 30, 5)
    batch = taught.predict_batch(windows, *stream_contexts(np.zeros(len(windows)), STEP))
    alone = taught.predict_batch(windows)
    assert len(live) == len(windows) >= 5
    np.testing.assert_allclose(np.stack(live), batch.probabilities, atol=1e-5)
    assert not np.allclose(batch.probabilities[2:], alone.probabilities[2:], atol=1e-5)
    one = taught.predict(windows[0])  # one window alone, as before
    assert one.probabilities.shape == (len(taught.class_names),)
    np.testing.assert_allclose(one.probabilities, alone.probabilities[0], atol=1e-5)
    # People mode: two people's first windows, each with a fresh context, are named alone.
    two = predict_streams(taught, windows[:2], [DistanceContext(), DistanceContext()], 1.0)
    np.testing.assert_allclose(two.probabilities, alone.probabilities[:2], atol=1e-5)


def _flickering_actions():
    """Two actions, three clips each, one stream per clip: every third window of a clip lies
    nearer the other action (alone it is misnamed; with its two neighbours it is not)."""
    rng = np.random.default_rng(5)
    e = np.eye(10, dtype=np.float32)
    rows, labels, clips = [], [], []
    for name, own, other in (("hop", 0, 1), ("flap", 1, 0)):
        for clip in range(3):
            # Each clip's odd windows differ (e[2 + ...]): unlike the other clips' odd ones.
            odd = e[other] + 0.3 * e[own] + 0.5 * e[2 + clip + 3 * own]
            for i in range(12):
                centre = odd if i % 3 == 2 else e[own]
                rows.append(unit(centre + 0.05 * rng.normal(size=10)))
                labels.append(name)
                clips.append(clip)
    return np.array(rows), np.array(labels), np.array(clips)


def test_the_leave_one_clip_out_score_names_held_out_windows_in_context():
    """The score shown before *Use them* is what the live head does: each held-out clip's
    windows named in order with a DistanceContext (the bench's stream_contexts), not alone."""
    from relsar_core.runtime.fewshot_head import loco_scores

    x, labels, clips = _flickering_actions()
    streams, times = np.zeros(len(x), int), np.tile(np.arange(12) * STEP, 6)
    in_context = loco_scores(x, labels, clips, None, streams, times)
    alone = loco_scores(x, labels, clips)
    expected = {}
    for cls in ("flap", "hop"):
        right = 0
        for clip in range(3):
            out = (labels == cls) & (clips == clip)
            head = FewShotHead().fit(x[~out], labels[~out], clips[~out])
            gate, probs = head.predict(x[out], *stream_contexts(np.zeros(out.sum()), STEP))
            right += int(((gate > 0.5) & (np.array(head.classes)[probs.argmax(1)] == cls)).sum())
        expected[cls] = right / 36
    assert in_context == pytest.approx(expected)
    assert all(in_context[c] > alone[c] + 0.1 for c in expected), (in_context, alone)


def test_taught_examples_keep_each_copys_stream_for_the_score(tmp_path, toy_data):
    """Teaching stores which copy (speed, width) of its clip each row is and its time in it,
    through save and load; TaughtClassifier.loco_scores names held-out rows per copy in
    context. A file without them (taught before) scores each window alone."""
    import shutil

    from relsar_core.assets import ASSETS_DIR
    from relsar_core.runtime import fewshot
    from relsar_core.runtime.fewshot_head import loco_scores
    from relsar_core.runtime.tflite import TfliteClassifier

    model = tmp_path / "default.tflite"
    shutil.copy(ASSETS_DIR / "models" / "default.tflite", model)
    shutil.copy(ASSETS_DIR / "models" / "default.json", model.with_suffix(".json"))
    base = TfliteClassifier(model)
    clips = {a: sorted((toy_data / a).glob("*.npz"))[:2] for a in ("wave", "squat")}
    taught = fewshot.teach(base, model, clips)
    ex = fewshot.load_taught(model)
    copies = (1 + len(fewshot.TEACH_SPEEDS)) * (1 + len(fewshot.TEACH_WIDTHS))
    assert set(ex.copies.tolist()) == set(range(copies))
    np.testing.assert_array_equal(ex.copies, taught.examples.copies)
    for key in set(zip(ex.clips.tolist(), ex.copies.tolist(), strict=True)):
        rows = (ex.clips == key[0]) & (ex.copies == key[1])
        np.testing.assert_allclose(ex.times[rows], np.arange(rows.sum()) * STEP, atol=1e-5)
    vectors, centres = ex.vectors(), taught.head.base
    scores = loco_scores(vectors, ex.labels, ex.clips, centres, ex.streams(), ex.times)
    assert taught.loco_scores() == scores
    old = fewshot.TaughtExamples(ex.embeddings, ex.descriptors, ex.labels, ex.clips)
    assert set(old.copies.tolist()) == {-1}
    assert fewshot.TaughtClassifier(base, old).loco_scores() == loco_scores(
        vectors, ex.labels, ex.clips, centres
    )
