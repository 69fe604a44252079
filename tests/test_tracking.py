"""PersonTracker (norfair-enough): birth, short occlusion, death after about a second, bounded
memory, and identity switches on synthetic crossings."""

from __future__ import annotations

import numpy as np

from relsar_core.bench.tracking import _BODY, count_switches, crossing_scene
from relsar_core.live.tracking import PersonTracker


def _person(x: float, y: float = 300.0, height: float = 200.0) -> np.ndarray:
    xy = _BODY * height + [x, y]
    return np.concatenate([xy, np.full((15, 1), 0.9)], 1).astype(np.float32)


def test_birth_needs_two_frames_then_keeps_the_id():
    tracker = PersonTracker(fps=30)
    assert tracker.update([_person(100)]) == []  # one frame: maybe a false detection
    ids = {p.person for t in range(1, 10) for p in tracker.update([_person(100 + 2 * t)])}
    assert len(ids) == 1


def test_short_occlusion_keeps_the_id_and_a_long_absence_does_not():
    tracker = PersonTracker(fps=30)
    for t in range(30):
        people = tracker.update([_person(100 + 3 * t)])
    first = people[0].person
    for _ in range(10):  # a third of a second behind someone
        assert tracker.update([]) == []
    assert first in tracker.live_ids
    people = [tracker.update([_person(190 + 3 * t)]) for t in range(3)][-1]
    assert [p.person for p in people] == [first]
    for _ in range(45):  # a second and a half away
        tracker.update([])
    assert tracker.live_ids == set()
    people = [tracker.update([_person(200)]) for _ in range(3)][-1]
    assert people and people[0].person != first


def test_two_people_get_their_own_ids_and_boxes():
    tracker = PersonTracker(fps=30)
    for _ in range(3):
        people = tracker.update([_person(100), _person(400)])
    assert len({p.person for p in people}) == 2
    left = min(people, key=lambda p: p.box[0])
    assert left.box[0] < 100 < left.box[2]


def test_memory_is_bounded_as_people_come_and_go():
    tracker = PersonTracker(fps=30)
    for t in range(600):  # a new person every 20 frames, each for 10 frames
        tracker.update([_person(50 + (t // 20) % 10 * 50)] if t % 20 < 10 else [])
        assert len(tracker) <= 3


def test_synthetic_crossings_switch_identity_at_most_once_per_ten():
    rng = np.random.default_rng(1)
    switches = crossings = 0
    for trial in range(9):
        s, c = count_switches(crossing_scene(2 + trial % 3, 90, rng))
        switches, crossings = switches + s, crossings + c
    assert crossings >= 20
    assert switches * 10 <= crossings
