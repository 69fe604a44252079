"""Identity switches of `PersonTracker` on synthetic crossings: 2-4 walking skeletons whose
straight paths cross (the nearer one hides the other for a few frames at each crossing), ids
known, with pose-estimator noise and dropped joints."""

from __future__ import annotations

import numpy as np

from relsar_core.bench.common import Measurement

# A standing body15 skeleton, unit height ~1 (x right, y down), hips at the origin.
_BODY = np.array(
    [
        [0, -0.85], [0, -0.7], [-0.12, -0.68], [-0.16, -0.45], [-0.18, -0.22],
        [0.12, -0.68], [0.16, -0.45], [0.18, -0.22], [0, 0], [-0.08, 0],
        [-0.09, 0.25], [-0.1, 0.5], [0.08, 0], [0.09, 0.25], [0.1, 0.5],
    ],
    np.float32,
)  # fmt: skip


def crossing_scene(
    people: int, frames: int, rng: np.random.Generator, size=(640, 480)
) -> list[list[tuple[int, np.ndarray]]]:
    """Per frame, the visible people as (true id, (15, 3) keypoints). Each walks from one side
    to the other at its own height and depth; paths cross in the middle."""
    w, h = size
    # Same-direction walkers start far apart, so that one hides the other for well under a
    # second (longer, a new id is right: the tracker forgets after about a second).
    starts = (np.where(np.arange(people) % 4 < 2, 0.03, 0.25) + rng.uniform(0, 0.02, people)) * w
    sides = np.where(np.arange(people) % 2 == 0, 1.0, -1.0)  # alternate directions: crossings
    x0 = np.where(sides > 0, starts, w - starts)
    x1 = np.where(sides > 0, w - starts, starts)
    heights = rng.uniform(150, 260, people)  # px: nearer people are taller
    base_y = h * 0.55 + (heights - 200) * 0.6
    scene = []
    for t in range(frames):
        a = t / (frames - 1)
        xs = x0 + (x1 - x0) * a
        order = np.argsort(-heights)  # nearest first
        visible = []
        for i in range(people):
            hidden = any(
                heights[j] > heights[i] and abs(xs[j] - xs[i]) < 0.1 * heights[j]
                for j in order
                if j != i
            )
            if hidden:
                continue
            swing = np.sin(t / 3 + i) * 0.08
            body = _BODY.copy()
            body[[10, 11], 0] += swing
            body[[13, 14], 0] -= swing
            xy = body * heights[i] + [xs[i], base_y[i]]
            xy += rng.normal(0, 0.01 * heights[i], xy.shape)
            conf = rng.uniform(0.6, 1.0, 15)
            conf[rng.random(15) < 0.05] = 0.0  # dropped joints
            visible.append((i, np.concatenate([xy, conf[:, None]], 1).astype(np.float32)))
        scene.append(visible)
    return scene


def count_switches(scene, fps: float = 30.0) -> tuple[int, int]:
    """(identity switches, crossings): a switch is a true person's assigned id changing."""
    from relsar_core.live.tracking import PersonTracker

    tracker = PersonTracker(fps=fps)
    assigned: dict[int, int] = {}
    switches = 0
    for visible in scene:
        people = tracker.update([kp for _, kp in visible])
        for person in people:
            true = next(
                i
                for i, kp in visible
                if kp is person.keypoints or np.array_equal(kp, person.keypoints)
            )
            if true in assigned and assigned[true] != person.person:
                switches += 1
            assigned[true] = person.person
    n = max(len(v) for v in scene) if scene else 0
    return switches, n * (n - 1) // 2


def run(quick: bool) -> list[Measurement]:
    rng = np.random.default_rng(0)
    switches = crossings = 0
    for trial in range(10 if quick else 40):
        scene = crossing_scene(2 + trial % 3, 90, rng)
        s, c = count_switches(scene)
        switches, crossings = switches + s, crossings + c
    return [
        Measurement(
            "tracking",
            "identity switches per 10 crossings (synthetic)",
            10 * switches / max(crossings, 1),
            "",
            "<= 1",
            {"switches": switches, "crossings": crossings},
        )
    ]
