"""Training throughput: windows/s of our BYOL step against the upstream eager loop
(relsar_core.train.upstream_byol), same model (base), same batch (64), same machine, same run.

Ours does twice the upstream's work per window (both loss directions, a predictor, the EMA every
step) and still has to be ≥ 2.5× faster. The two loops alternate in rounds and the ratio is taken
per round (then the median), so a neighbour's load on a shared machine hits both alike. The
ratio of CPU seconds per window is reported beside it: the work each loop spends per window,
whatever the cores it manages to keep busy (the eager upstream loop leaves part of them idle,
which the wall-clock ratio counts and this one does not).
"""

from __future__ import annotations

import time

import numpy as np

from relsar_core.bench.common import Measurement
from relsar_core.skeleton.synthetic import toy_windows

BATCH = 64
WINDOW = 30


def _timed(step, count: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) per call of step(), over `count` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        step()
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


def run(quick: bool, size: str = "base") -> list[Measurement]:
    from relsar_core.config import BYOLRunConfig, ModelConfig, load_config
    from relsar_core.train.byol import BYOL
    from relsar_core.train.tf_setup import seed_everything, thread_pools
    from relsar_core.train.tfdata import unlabelled_dataset
    from relsar_core.train.upstream_byol import UpstreamBYOL

    rounds, steps = (2, 2) if quick else (5, 3)
    windows = toy_windows(8 * BATCH, window=WINDOW)
    model = ModelConfig(size=size)
    ours_cfg = load_config("byol", BYOLRunConfig, byol={"batch_size": BATCH})
    seed_everything(0)
    ours = BYOL(
        model, ours_cfg.byol, ours_cfg.augment, WINDOW, steps_per_epoch=len(windows) // BATCH
    )
    # Our input pipeline as relsar-train byol builds it; the upstream slices numpy arrays.
    batches = iter(unlabelled_dataset(windows, BATCH, seed=0, repeat=True))
    upstream = UpstreamBYOL(model, WINDOW)
    rng = np.random.default_rng(0)

    def ours_step():
        loss, _ = ours.train_step(next(batches))
        float(loss)  # the loss reaches the host every step in both loops

    def upstream_step():
        upstream.train_step(windows[rng.choice(len(windows), BATCH, replace=False)])

    _timed(ours_step, 2)  # tracing and warm-up, untimed
    _timed(upstream_step, 2)
    ours_wall, ours_cpu, up_wall, up_cpu = [], [], [], []
    for _ in range(rounds):
        wall, cpu = _timed(ours_step, steps)
        ours_wall.append(wall)
        ours_cpu.append(cpu)
        wall, cpu = _timed(upstream_step, steps)
        up_wall.append(wall)
        up_cpu.append(cpu)
    ours_wall, ours_cpu, up_wall, up_cpu = map(np.array, (ours_wall, ours_cpu, up_wall, up_cpu))
    ratio = float(np.median(up_wall / ours_wall))
    cpu_ratio = float(np.median(up_cpu / ours_cpu))
    detail = {
        "model": size,
        "batch": BATCH,
        "rounds": rounds,
        "steps_per_round": steps,
        "precision": ours.precision,
        "ours_step_ms": (ours_wall * 1e3).round(1).tolist(),
        "upstream_step_ms": (up_wall * 1e3).round(1).tolist(),
        "cpu_time_ratio": round(cpu_ratio, 3),
        "threads": thread_pools(),
        "ours": "symmetric BYOL + predictor + EMA every step, tf.function, byol.yaml augmentations and precision",
        "upstream": "eager GradientTape loop, numpy noise+flip views, one direction, no predictor",
    }
    return [
        Measurement(
            "train",
            f"BYOL step, ours ({size}, batch {BATCH}, {ours.precision})",
            BATCH / float(np.median(ours_wall)),
            "windows/s",
            detail={"step_ms_p50": float(np.median(ours_wall) * 1e3)},
        ),
        Measurement(
            "train",
            f"BYOL step, upstream loop ({size}, batch {BATCH})",
            BATCH / float(np.median(up_wall)),
            "windows/s",
            detail={"step_ms_p50": float(np.median(up_wall) * 1e3)},
        ),
        Measurement(
            "train",
            "BYOL speed-up vs upstream (wall clock)",
            ratio,
            "x",
            target=">= 2.5",
            detail=detail,
        ),
        Measurement("train", "BYOL speed-up vs upstream (CPU time)", cpu_ratio, "x"),
    ]
