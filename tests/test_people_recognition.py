"""Per-person windows classified in one batched TFLite call (same outputs as single calls),
reasons for people not classified, state dropped with the track."""

from __future__ import annotations

import numpy as np

from relsar_core.live.people import FILLING, TOO_FEW_JOINTS, TOO_SMALL, PeopleRecognizer
from relsar_core.live.tracking import TrackedPerson
from relsar_core.skeleton.features import window_features
from relsar_core.skeleton.synthetic import TOY_CLASSES, toy_clip


def _tracked(person: int, kp: np.ndarray) -> TrackedPerson:
    good = kp[kp[:, 2] > 0.2, :2]
    box = (*good.min(axis=0), *good.max(axis=0)) if len(good) else (0, 0, 0, 0)
    return TrackedPerson(person, kp, tuple(float(v) for v in box))


def test_batched_classification_equals_single_calls(tiny_tflite_model):
    from relsar_core.runtime.tflite import TfliteClassifier

    clf = TfliteClassifier(tiny_tflite_model)
    feats = window_features(np.random.default_rng(0).normal(300, 40, (5, 30, 15, 3)).clip(0, 1e3))
    batch = clf.predict_batch(feats)
    for i, f in enumerate(feats):
        np.testing.assert_allclose(batch.logits[i], clf.predict(f).logits, atol=1e-5)


def test_two_people_one_batched_call_per_frame_and_reasons(tiny_tflite_model):
    from relsar_core.runtime.tflite import TfliteClassifier

    clf = TfliteClassifier(tiny_tflite_model)
    rec = PeopleRecognizer(clf, alpha=1.0)
    rng = np.random.default_rng(3)
    clips = [toy_clip(TOY_CLASSES[i], 30, rng) for i in (0, 1)]  # (30, 15, 3) in pixels
    for t in range(30):
        a, b = clips[0][t].copy(), clips[1][t].copy()
        small = a.copy()
        small[:, :2] = small[:, :2] * 0.05  # a far-away person a few pixels tall
        few = b.copy()
        few[5:, 2] = 0.0  # mostly hidden
        people = [_tracked(1, a), _tracked(2, b), _tracked(3, small), _tracked(4, few)]
        results = rec.update(people, t / 30, {1, 2, 3, 4})
    by_id = {r.person: r for r in results}
    assert by_id[3].reason == TOO_SMALL and by_id[4].reason == TOO_FEW_JOINTS
    assert by_id[1].reason is None and by_id[2].reason is None
    assert rec.batch_calls == 1  # frames 0-28: windows filling; frame 29: one call for both
    for person, clip in ((1, clips[0]), (2, clips[1])):
        single = clf.predict(window_features(clip)).probabilities
        np.testing.assert_allclose(by_id[person].label.probabilities, single, atol=1e-5)
    first = rec.update([_tracked(5, clips[0][0])], 1.0, {1, 5})
    assert first[0].reason == FILLING
    assert len(rec) == 2  # 2, 3 and 4 died with their tracks
