"""Training throughput: windows/s of our BYOL step against the upstream eager loop
(relsar_core.train.upstream_byol), same model (base), same batch (64), same machine, same run.
The headline is float32 against float32 (like for like); our bfloat16 step (mixed_bfloat16,
fast only on CPUs with native bfloat16) is measured in the same rounds and reported beside it.

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
    from relsar_core.train.augment import source_window
    from relsar_core.train.byol import BYOL, resolve_precision
    from relsar_core.train.tf_setup import seed_everything, thread_pools
    from relsar_core.train.tfdata import unlabelled_dataset
    from relsar_core.train.upstream_byol import UpstreamBYOL

    rounds, steps = (2, 2) if quick else (5, 3)
    ours_cfg = load_config("byol", BYOLRunConfig, byol={"batch_size": BATCH})
    # Our pipeline feeds source windows longer than the model's (real speed-ups, as relsar-train
    # byol cuts them); the upstream loop gets the model's windows.
    sources = toy_windows(8 * BATCH, window=source_window(WINDOW, ours_cfg.augment.speed))
    windows = toy_windows(8 * BATCH, window=WINDOW)
    model = ModelConfig(size=size)
    loops = {}
    for precision in ("float32", "mixed_bfloat16"):
        seed_everything(0)
        byol_cfg = ours_cfg.byol.model_copy(update={"precision": precision})
        byol = BYOL(
            model, byol_cfg, ours_cfg.augment, WINDOW, steps_per_epoch=len(sources) // BATCH
        )
        # Our input pipeline as relsar-train byol builds it; the upstream slices numpy arrays.
        batches = iter(unlabelled_dataset(sources, BATCH, seed=0, repeat=True))

        def ours_step(byol=byol, batches=batches):
            loss, _ = byol.train_step(next(batches))
            float(loss)  # the loss reaches the host every step in both loops

        loops[precision] = ours_step
    upstream = UpstreamBYOL(model, WINDOW)
    rng = np.random.default_rng(0)

    def upstream_step():
        upstream.train_step(windows[rng.choice(len(windows), BATCH, replace=False)])

    loops["upstream"] = upstream_step
    for step in loops.values():
        _timed(step, 2)  # tracing and warm-up, untimed
    wall = {name: [] for name in loops}
    cpu = {name: [] for name in loops}
    for _ in range(rounds):  # the loops alternate, so a neighbour's load hits all alike
        for name, step in loops.items():
            w, c = _timed(step, steps)
            wall[name].append(w)
            cpu[name].append(c)
    wall = {k: np.array(v) for k, v in wall.items()}
    cpu = {k: np.array(v) for k, v in cpu.items()}

    def ratio(times, name):
        return float(np.median(times["upstream"] / times[name]))

    detail = {
        "model": size,
        "batch": BATCH,
        "rounds": rounds,
        "steps_per_round": steps,
        "step_ms": {k: (v * 1e3).round(1).tolist() for k, v in wall.items()},
        "cpu_time_ratio": {p: round(ratio(cpu, p), 3) for p in ("float32", "mixed_bfloat16")},
        "bfloat16_native": resolve_precision("auto") == "mixed_bfloat16",
        "threads": thread_pools(),
        "ours": "symmetric BYOL + predictor + EMA every step, tf.function, byol.yaml augmentations "
        "on 36-frame source windows",
        "upstream": "eager GradientTape loop, numpy noise+flip views, one direction, no predictor",
    }

    def throughput(name, label):
        return Measurement(
            "train",
            label,
            BATCH / float(np.median(wall[name])),
            "windows/s",
            detail={"step_ms_p50": float(np.median(wall[name]) * 1e3)},
        )

    return [
        throughput("float32", f"BYOL step, ours ({size}, batch {BATCH}, float32)"),
        throughput("mixed_bfloat16", f"BYOL step, ours ({size}, batch {BATCH}, bfloat16)"),
        throughput("upstream", f"BYOL step, upstream loop ({size}, batch {BATCH}, float32)"),
        Measurement(
            "train",
            "BYOL speed-up vs upstream, float32 vs float32 (wall clock)",
            ratio(wall, "float32"),
            "x",
            target=">= 2.5",
            detail=detail,
        ),
        Measurement(
            "train",
            "BYOL speed-up vs upstream, bfloat16 vs float32 (wall clock)",
            ratio(wall, "mixed_bfloat16"),
            "x",
            target=">= 3",
        ),
        Measurement(
            "train", "BYOL speed-up vs upstream, float32 (CPU time)", ratio(cpu, "float32"), "x"
        ),
    ]
