"""The label-efficiency study (`relsar-bench byol-study`): supervised training from scratch
against BYOL + fine-tune, BYOL + linear probe and k-NN on the BYOL embeddings, with 1 %, 5 %,
10 % and 100 % of the training labels, several seeds each, on a held-out test folder.

Design (affordable on a 2-core CPU, and fair):
- One BYOL pre-training on every training clip, without labels, and never a test clip
  (`load_pretraining_windows(..., test_data=...)` refuses one). Pre-training uses no labels,
  so the same encoder serves every label fraction and seed; the seeds' spread is that of the
  downstream part (which labelled clips, head and classifier initialisation, batch order).
- Each (fraction, seed) draws its labelled clips once (`label_fraction_subset`, by clip, at
  least one per class) and the same fraction of the validation clips; all four methods use
  that same draw, so they differ only in the method.
- Supervised from scratch and fine-tuning train the same classifier with the shipped model's
  supervised recipe (`webcam_model`: optimizer, label smoothing, class weights, augmentations;
  fine-tuning at twice its learning rate) for the same fixed schedule, `epochs` ×
  `steps_per_epoch` steps whatever the fraction (a 1 % run is not 1 step per epoch); the
  best-validation-loss epoch (validation cut like training) scores the test side once (and,
  beside it, the last epoch's weights: the fixed-schedule rule, for reference). Only
  the initial weights differ: random (seeded) against the BYOL encoder + the run's linear
  probe as the head (LP-FT, Kumar et al. 2022: a random head's first gradients distort the
  pre-trained features; `finetune_head="random"` gives a seeded random head instead).
- The linear probe is logistic regression on frozen features of the encoder (by default its
  embedding and the mean- and max-pooled frame tokens of its last block, `probe_features`;
  standardised, L2 strength chosen on validation); k-NN is `relsar-train knn`'s cosine k-NN
  on the embedding.
- The test side is a separate folder (`relsar-data webcam`'s held-out viewpoints, styles and
  body proportions), never seen by BYOL, by the probes' choices or by checkpoint selection.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from relsar_core.config import DEFAULT_PROBE_FEATURES, BYOLRunConfig, RunConfig, load_config
from relsar_core.data.datasets import Splits, load_splits
from relsar_core.errors import RelsarError
from relsar_core.files import read_json_object, write_json
from relsar_core.train.augment import view_source_frames
from relsar_core.train.pretrain import load_pretraining_windows, pretrain_byol
from relsar_core.train.protocols import label_fraction_subset

METHODS = ("supervised", "byol_finetune", "byol_linear", "byol_knn")
# The probe runs before fine-tuning, whose head it gives (LP-FT); the table keeps METHODS' order.
RUN_ORDER = ("supervised", "byol_linear", "byol_finetune", "byol_knn")
FINETUNE_HEADS = ("probe", "random")  # LP-FT's start, or a seeded random head
# Written into the BYOL run folder when pre-training finishes: what it was made from.
PRETRAINING_RECORD = "study_pretraining.json"


@dataclass(frozen=True)
class StudyPlan:
    """What the study runs; `epochs` × `steps_per_epoch` is every downstream run's schedule."""

    fractions: tuple[float, ...] = (0.01, 0.05, 0.1, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] = METHODS  # a subset runs only those (and the probe LP-FT needs)
    model_size: str = "micro"
    stride: int = 10
    # 30 epochs: chosen on validation among 10, 30 and 40 (#17, docs/byol.md "Longer
    # pre-training and pooled tokens"); the τ and learning-rate schedules follow the epochs.
    byol_epochs: int = 30
    # The BYOL recipe: `default_model_byol` with the combination chosen on validation (#17,
    # docs/byol.md "Tuning on validation"): batch 64, 1024-256 heads, no joint/frame masking.
    byol_batch: int = 64
    epochs: int = 8
    steps_per_epoch: int = 12
    # 2.0 (was 0.5): chosen on validation among 0.25, 0.5, 1 and 2 at 1, 5 and 10 % labels
    # (#17, docs/byol.md "Fine-tuning's learning rate").
    finetune_lr_scale: float = 2.0
    finetune_head: str = "probe"  # "probe": LP-FT; "random": a seeded random head
    knn_k: int = 20
    # What the linear probe reads (config.PROBE_FEATURES), chosen on validation (#17,
    # docs/byol.md "Longer pre-training and pooled tokens"): the embedding and the last block's
    # mean- and max-pooled frame tokens. k-NN and LP-FT's head read the embedding.
    probe_features: str = DEFAULT_PROBE_FEATURES
    # What LP-FT's head reads: "embedding" (the shipped classifier's form), or the probe's own
    # features (then its start is the linear row's probe itself).
    finetune_features: str = "embedding"
    byol: dict = field(  # overrides of the BYOL section
        default_factory=lambda: {"projector": [1024, 256], "predictor": [1024, 256]}
    )
    augment: dict = field(  # overrides of the BYOL views
        default_factory=lambda: {"joint_mask": 0.0, "frame_mask": 0.0}
    )

    def __post_init__(self):
        from relsar_core.train.study_fit import PROBE_FEATURES

        if not self.methods or set(self.methods) - set(METHODS):
            raise ValueError(f"methods: some of {METHODS}, not {self.methods!r}")
        if self.finetune_head not in FINETUNE_HEADS:
            raise ValueError(f"finetune_head: one of {FINETUNE_HEADS}, not {self.finetune_head!r}")
        if self.probe_features not in PROBE_FEATURES:
            raise ValueError(
                f"probe_features: one of {PROBE_FEATURES}, not {self.probe_features!r}"
            )
        if self.finetune_features not in ("embedding", self.probe_features):
            raise ValueError(
                f"finetune_features: 'embedding' or the probe's {self.probe_features!r}, "
                f"not {self.finetune_features!r}"
            )


def quick_plan() -> StudyPlan:
    """Seconds, for the tests: the tiny model, two seeds, a few steps of everything."""
    return StudyPlan(
        seeds=(0, 1),
        model_size="tiny",
        stride=10,
        byol_epochs=1,
        byol_batch=32,
        epochs=1,
        steps_per_epoch=3,
        knn_k=5,
    )


def _configs(plan: StudyPlan) -> dict:
    """Supervised and fine-tune: the shipped model's recipe (`webcam_model`) on the study's
    schedule; fine-tuning at `plan.finetune_lr_scale` × its learning rate (chosen on
    validation), everything else equal."""
    base = load_config("webcam_model", RunConfig)

    def run_config(lr_scale: float) -> RunConfig:
        return load_config(
            "webcam_model",
            RunConfig,
            model={"size": plan.model_size},
            data={"stride": plan.stride},
            train={
                "epochs": plan.epochs,
                "warmup_epochs": min(base.train.warmup_epochs, plan.epochs / 4),
                "learning_rate": base.train.learning_rate * lr_scale,
            },
        )

    scales = {"supervised": 1.0, "byol_finetune": plan.finetune_lr_scale}
    return {m: run_config(scale) for m, scale in scales.items() if m in plan.methods}


def run_order(plan: StudyPlan) -> tuple[str, ...]:
    """The methods to run, in RUN_ORDER: the chosen ones, and the probe when LP-FT needs its
    head (then it runs, but only the chosen methods are recorded)."""
    wanted = set(plan.methods)
    if "byol_finetune" in wanted and plan.finetune_head == "probe":
        wanted.add("byol_linear")
    return tuple(m for m in RUN_ORDER if m in wanted)


def byol_config(plan: StudyPlan) -> BYOLRunConfig:
    return load_config(
        "default_model_byol",
        BYOLRunConfig,
        model={"size": plan.model_size},
        data={"stride": plan.stride},
        byol={
            "epochs": plan.byol_epochs,
            "batch_size": plan.byol_batch,
            "warmup_epochs": min(2, plan.byol_epochs / 4),
            **plan.byol,
        },
        augment=plan.augment,
    )


def pretrain(train_dir, test_dir, plan: StudyPlan, out: Path, show_progress: bool) -> dict:
    """One BYOL pre-training on the training folder (labels unused, the test folder refused).
    A finished one in `out` with the same config and the same clips is reused (its summary
    gets `reused: True`): the downstream runs can be redone without the longest step."""
    cfg = byol_config(plan)
    windows, info = load_pretraining_windows(
        [train_dir],
        cfg.data.window,
        cfg.data.stride,
        False,
        cfg.data,
        test_data=test_dir,
        source_frames=view_source_frames(cfg.data.window, cfg.augment),
    )
    out = Path(out)
    recipe = {"config": cfg.model_dump(mode="json"), "clips": info["pretraining_clips"]}
    done = out / PRETRAINING_RECORD
    if done.is_file() and (out / "encoder.keras").is_file():
        try:
            record = read_json_object(done)
        except RelsarError:  # unreadable: it proves nothing, so pre-train again
            record = {}
        if {k: record.get(k) for k in recipe} == recipe:
            return {**record["summary"], "reused": True}
    if out.exists():  # another recipe's, an unfinished or an unreadable pre-training
        shutil.rmtree(out)
    started = time.perf_counter()
    summary = pretrain_byol(
        windows, cfg, out, show_progress=show_progress, run_info={"data_info": info}
    )
    summary.update(
        seconds=round(time.perf_counter() - started, 1),
        windows=int(len(windows)),
        config=recipe["config"]["byol"],
    )
    write_json(done, {**recipe, "summary": summary})
    return summary


def cut(splits: Splits, fraction: float, seed: int) -> Splits:
    """The labelled clips of one (fraction, seed): training and validation cut alike."""
    train = label_fraction_subset(splits.train, fraction, seed)
    val = label_fraction_subset(splits.val, fraction, seed + 1000)
    return Splits(train, val, splits.test)


def summarise(runs: list[dict], plan: StudyPlan) -> list[dict]:
    """Mean, sample standard deviation, min and max over the seeds of each (method, fraction)."""
    rows = []
    for method in METHODS:
        for fraction in plan.fractions:
            mine = [r for r in runs if r["method"] == method and r["fraction"] == fraction]
            if not mine:
                continue
            acc = np.array([r["accuracy"] for r in mine])
            f1 = np.array([r["macro_f1"] for r in mine])
            rows.append(
                {
                    "method": method,
                    "fraction": fraction,
                    "seeds": len(mine),
                    "accuracy_mean": float(acc.mean()),
                    "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                    "accuracy_min": float(acc.min()),
                    "accuracy_max": float(acc.max()),
                    "macro_f1_mean": float(f1.mean()),
                    "labelled_clips": int(np.mean([r["labelled_clips"] for r in mine])),
                    "seconds_mean": float(np.mean([r["seconds"] for r in mine])),
                }
            )
            if all("accuracy_last" in r for r in mine):  # supervised and fine-tune
                last = np.array([r["accuracy_last"] for r in mine])
                rows[-1].update(
                    accuracy_last_mean=float(last.mean()),
                    accuracy_last_std=float(last.std(ddof=1)) if len(last) > 1 else 0.0,
                )
    return rows


def run_study(
    train_dir: str | os.PathLike,
    test_dir: str | os.PathLike,
    work: str | os.PathLike,
    plan: StudyPlan,
    log=print,
    show_progress: bool = False,
) -> dict:
    """Pre-train once, then every (fraction, seed, method) → {"plan", "byol", "runs", "rows"}."""
    from relsar_core.train.tf_setup import seed_everything

    work = Path(work)
    started = time.perf_counter()
    seed_everything(0)
    byol = pretrain(train_dir, test_dir, plan, work / "byol", show_progress)
    took = "reused from " + str(work / "byol") if byol.get("reused") else f"{byol['seconds']:.0f} s"
    log(f"BYOL: {byol['epochs']} epochs, loss {byol['loss']:.3f}, {took}")
    encoder = work / "byol"
    configs = _configs(plan)
    first = load_config("webcam_model", RunConfig, data={"stride": plan.stride})
    splits = load_splits(
        train_dir,
        first.data.window,
        first.data.stride,
        first.data.val_fraction,
        0.0,
        first.data.seed,
        test_data=test_dir,
        source_frames=view_source_frames(first.data.window, first.augment),
    )
    from relsar_core.train.protocols import load_encoder
    from relsar_core.train.study_fit import (
        ReusableTrainer,
        frozen_features,
        knn_embeddings,
        linear_probe_embeddings,
        probe_head_weights,
        scores,
    )

    frozen = load_encoder(encoder)
    encoder_weights = frozen.get_weights()
    sides = ("train", "val", "test")
    emb = {name: frozen_features(frozen, getattr(splits, name).windows) for name in sides}
    feats = (
        emb
        if plan.probe_features == "embedding"
        else {
            name: frozen_features(frozen, getattr(splits, name).windows, plan.probe_features)
            for name in sides
        }
    )
    fitted: dict = {}  # the probe fit is deterministic: one fit per labelled set (100 %: one)

    def probe_on(bank: dict, train_rows, val_rows, part: Splits):
        key = (id(bank), train_rows.tobytes(), val_rows.tobytes())
        if key not in fitted:
            fitted[key] = linear_probe_embeddings(
                bank["train"][train_rows], part.train.labels, bank["val"][val_rows], part.val.labels
            )
        return fitted[key]

    trainers = {
        method: ReusableTrainer(
            cfg.model,
            splits.train.num_classes,
            cfg.data.window,
            cfg.train,
            cfg.augment,
            plan.steps_per_epoch,
            head_features=plan.finetune_features if method == "byol_finetune" else "embedding",
        )
        for method, cfg in configs.items()
    }
    runs = []
    for fraction in plan.fractions:
        for seed in plan.seeds:
            part = cut(splits, fraction, seed)
            train_rows = np.isin(splits.train.clip_ids, np.unique(part.train.clip_ids))
            val_rows = np.isin(splits.val.clip_ids, np.unique(part.val.clip_ids))
            head = None  # the probe's head, for LP-FT
            for method in run_order(plan):
                t0 = time.perf_counter()
                extra: dict = {}
                if method in trainers:
                    trainer = trainers[method]
                    finetune = method == "byol_finetune"
                    start = trainer.initial_weights(
                        seed,
                        encoder_weights if finetune else None,
                        head if finetune and plan.finetune_head == "probe" else None,
                    )
                    extra = trainer.run(start, part.train, part.val, seed)
                    predicted = trainer.predict(splits.test.windows)
                    # the fixed-schedule rule beside it: the same run's last weights
                    last = scores(
                        trainer.predict(splits.test.windows, trainer.last_weights), splits.test
                    )
                    extra.update(accuracy_last=last["accuracy"], macro_f1_last=last["macro_f1"])
                elif method == "byol_linear":
                    probe, c = probe_on(feats, train_rows, val_rows, part)
                    predicted, extra = probe.predict(feats["test"]), {"C": c}
                    # LP-FT's head is this probe when it reads the same features, else the
                    # same fit on the embedding
                    same = feats is emb or plan.finetune_features == plan.probe_features
                    start_probe = probe if same else probe_on(emb, train_rows, val_rows, part)[0]
                    head = probe_head_weights(start_probe, splits.train.num_classes)
                else:
                    predicted = knn_embeddings(
                        emb["train"][train_rows], part.train.labels, emb["test"], plan.knn_k
                    )
                run = {
                    "method": method,
                    "fraction": fraction,
                    "seed": seed,
                    **scores(predicted, splits.test),
                    "labelled_clips": int(len(np.unique(part.train.clip_ids))),
                    "labelled_windows": int(len(part.train)),
                    "val_clips": int(len(np.unique(part.val.clip_ids))),
                    **extra,
                    "seconds": round(time.perf_counter() - t0, 1),
                }
                if method not in plan.methods:  # only LP-FT's start
                    continue
                runs.append(run)
                log(
                    f"{method:14s} {fraction:>5.0%} seed {seed}: accuracy {run['accuracy']:.3f} "
                    f"({run['labelled_clips']} clips, {run['seconds']:.0f} s)"
                )
    return {
        "plan": asdict(plan),
        "data": {"train": str(train_dir), "test": str(test_dir)},
        "split": splits.describe(),
        "byol": byol,
        "runs": runs,
        "rows": summarise(runs, plan),
        "seconds": round(time.perf_counter() - started, 1),
    }
