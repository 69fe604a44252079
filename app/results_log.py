"""The predictions of the current run, exportable from the window as CSV or JSON lines."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import deque
from pathlib import Path

from relsar_core.errors import RelsarError
from relsar_core.files import write_text

MAX_ROWS = 100_000  # about an hour at 30 predictions a second


class ResultsLog:
    def __init__(self) -> None:
        self.rows: deque[dict] = deque(maxlen=MAX_ROWS)
        self.class_names: tuple[str, ...] = ()

    def clear(self) -> None:
        self.rows.clear()

    def add(self, pred) -> None:
        self.class_names = pred.class_names
        probs = pred.smoothed.probabilities
        self.rows.append(
            {
                "time": round(time.time(), 3),
                "frame": pred.frame_index,
                "label": pred.smoothed.label,
                "confidence": round(float(pred.smoothed.confidence), 4),
                "latency_ms": round(pred.latency_ms, 2),
                "probabilities": {
                    n: round(float(p), 4) for n, p in zip(pred.class_names, probs, strict=False)
                },
            }
        )

    def export(self, path: Path) -> Path:
        """Write the rows to `path`: .jsonl as JSON lines, anything else as CSV (atomic)."""
        if not self.rows:
            raise RelsarError("nothing to export yet: run a source first")
        if path.suffix.lower() in (".jsonl", ".json"):
            text = "".join(json.dumps(r) + "\n" for r in self.rows)
        else:
            out = io.StringIO()
            writer = csv.writer(out)
            names = list(self.class_names)
            writer.writerow(["time", "frame", "label", "confidence", "latency_ms", *names])
            for r in self.rows:
                probs = [r["probabilities"].get(n, "") for n in names]
                writer.writerow(
                    [r["time"], r["frame"], r["label"], r["confidence"], r["latency_ms"], *probs]
                )
            text = out.getvalue()
        write_text(path, text)
        return path
