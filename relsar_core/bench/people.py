"""`relsar-bench people`: the several-people path on the real sample video, frame by frame:
MultiPersonBlazePose -> PersonTracker -> PeopleRecognizer (the shipped model, batched), for one
person and for up to N. Not yet the live pipeline (no capture thread); frame-to-label here is
the time from a frame's arrival to its labels."""

from __future__ import annotations

import time

import numpy as np

from relsar_core.bench.common import REFERENCE_THREADS, Measurement
from relsar_core.timing import p50_p95_ms

THREADS = REFERENCE_THREADS


def _run(frames: list[np.ndarray], fps: float, max_people: int) -> dict:
    from relsar_core.assets import DEFAULT_MODEL
    from relsar_core.live.people import PeopleRecognizer
    from relsar_core.live.pipeline import LIVE_CLASSIFIER_THREADS
    from relsar_core.live.tracking import PersonTracker
    from relsar_core.pose.blazepose.people import MultiPersonBlazePose
    from relsar_core.runtime.tflite import TfliteClassifier

    est = MultiPersonBlazePose(num_threads=THREADS, max_people=max_people)
    tracker, rec = (
        PersonTracker(fps=fps),
        PeopleRecognizer(TfliteClassifier(DEFAULT_MODEL, num_threads=LIVE_CLASSIFIER_THREADS)),
    )
    times, counts, spans = np.empty(len(frames)), np.zeros(len(frames), int), {}
    cpu = time.process_time()
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        people = tracker.update([s.to_body15() for s in est.estimate_people(frame)])
        rec.update(people, i / fps, tracker.live_ids)
        times[i] = time.perf_counter() - start
        counts[i] = len(people)
        for p in people:
            spans.setdefault(p.person, []).append(i)
    cpu = time.process_time() - cpu
    est.close()
    return {"times": times, "counts": counts, "spans": spans, "cpu_s": cpu, "est": est}


def run(quick: bool, max_people: int = 4) -> list[Measurement]:
    from relsar_core.bench.pose import load_sample_frames

    frames, video = load_sample_frames(100 if quick else 400)
    fps = 10.0  # vtest.avi
    out = []
    for n in (1, max_people):
        r = _run(frames, fps, n)
        p50, p95 = p50_p95_ms(r["times"])
        person_frames = max(int(r["counts"].sum()), 1)
        detail = {
            "video": video,
            "people_per_frame": np.bincount(r["counts"]).tolist(),
            "ids": len(r["spans"]),
            "id_spans": [(v[0], v[-1], len(v)) for v in r["spans"].values()],
            "detector_runs": r["est"].detector_runs,
            "landmark_runs": r["est"].landmark_runs,
        }
        label = f"people (max {n})"
        out += [
            Measurement(
                "people", f"{label} frames/s", 1 / r["times"].mean(), "frames/s", None, detail
            ),
            Measurement("people", f"{label} frame-to-label p95", p95, "ms", "<= 40"),
            Measurement(
                "people", f"{label} CPU ms per person-frame", r["cpu_s"] * 1e3 / person_frames, "ms"
            ),
        ]
    return out
