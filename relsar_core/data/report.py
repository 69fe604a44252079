"""The evaluation report every training mode writes: accuracy (per window and per clip),
macro-F1, per-class precision/recall/F1, and the confusion matrix as CSV and PNG."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from relsar_core.data.datasets import WindowSet
from relsar_core.files import atomic_write, write_json, write_text


def clip_probabilities(probabilities: np.ndarray, data: WindowSet) -> tuple[np.ndarray, np.ndarray]:
    """Mean window probabilities per clip → (clip probabilities (C', K), true clip labels (C',))."""
    clips, inverse = np.unique(data.clip_ids, return_inverse=True)
    sums = np.zeros((len(clips), probabilities.shape[1]))
    np.add.at(sums, inverse, probabilities)
    counts = np.bincount(inverse, minlength=len(clips))[:, None]
    return sums / counts, data.clip_labels[clips]


def _plot_confusion(matrix: np.ndarray, names: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.6 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i, j in np.ndindex(matrix.shape):
        ax.text(
            j,
            i,
            str(matrix[i, j]),
            ha="center",
            va="center",
            color="white" if norm[i, j] > 0.5 else "black",
            fontsize=8,
        )
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


def write_report(
    probabilities: np.ndarray, data: WindowSet, out_dir: str | os.PathLike, title: str = "test"
) -> dict:
    """Score window probabilities (N, K) against `data`'s labels and write report.json,
    confusion_matrix.csv and confusion_matrix.png into out_dir. Returns the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = data.class_names
    labels = np.arange(len(names))
    pred = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        data.labels, pred, labels=labels, zero_division=0
    )
    clip_probs, clip_true = clip_probabilities(probabilities, data)
    matrix = confusion_matrix(data.labels, pred, labels=labels)
    report = {
        "split": title,
        "windows": int(len(pred)),
        "clips": int(len(clip_true)),
        "accuracy": float((pred == data.labels).mean()),
        # Over the classes the folder holds: a model class with no clips here (e.g. a rejection
        # class, or whole-body classes in an upper-body-only folder) has no F1 to average; its
        # wrong predictions still cost the true classes their recall.
        "macro_f1": float(
            f1_score(
                data.labels, pred, labels=np.unique(data.labels), average="macro", zero_division=0
            )
        ),
        "clip_accuracy": float((clip_probs.argmax(axis=1) == clip_true).mean()),
        "per_class": {
            n: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for n, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": matrix.tolist(),
        "class_names": names,
    }
    write_json(out / "report.json", report)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["true \\ predicted", *names])
    writer.writerows([name, *row] for name, row in zip(names, matrix.tolist(), strict=True))
    write_text(out / "confusion_matrix.csv", buf.getvalue())
    _plot_confusion(
        matrix, names, out / "confusion_matrix.png", f"{title}: accuracy {report['accuracy']:.3f}"
    )
    return report


def format_report(report: dict) -> str:
    """A short human-readable summary for the terminal."""
    lines = [
        f"{report['split']}: accuracy {report['accuracy']:.3f} (clips {report['clip_accuracy']:.3f}), "
        f"macro-F1 {report['macro_f1']:.3f} on {report['windows']} windows / {report['clips']} clips",
        f"{'class':<16}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}",
    ]
    for name, m in report["per_class"].items():
        lines.append(
            f"{name:<16}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>8.3f}{m['support']:>9}"
        )
    return "\n".join(lines)
