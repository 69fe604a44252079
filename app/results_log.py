"""The predictions of this session, exportable from the window as CSV or JSON lines.

Rows are added in the pipeline's inference thread (app/bridge.py), one per classified window
and person, so none is lost when the UI draws fewer results than the pipeline makes (results
are coalesced for drawing); the lock keeps an export from reading a row half-added."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import deque
from pathlib import Path

from relsar_core.errors import RelsarError
from relsar_core.files import write_text

MAX_ROWS = 100_000  # about an hour at 30 predictions a second
COLUMNS = ("time", "source", "person", "frame", "label", "confidence", "latency_ms")


class ResultsLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: deque[dict] = deque(maxlen=MAX_ROWS)
        # Every class any row has a probability for, in order of first appearance: a new model
        # or a taught action mid-session adds columns, and rows without one leave it empty.
        self.class_names: dict[str, None] = {}

    def clear(self) -> None:
        with self._lock:
            self.rows.clear()
            self.class_names.clear()

    def add(self, pred, source: str, person: int | None) -> None:
        """One classified window: `source` as the user opened it, `person` the track id in
        people mode (None in one-person mode, or when nobody is in view)."""
        probs = pred.smoothed.probabilities
        row = {
            "time": round(time.time(), 3),
            "source": source,
            "person": person,
            "frame": pred.frame_index,
            "label": pred.smoothed.label,
            "confidence": round(float(pred.smoothed.confidence), 4),
            "latency_ms": round(pred.latency_ms, 2),
            "probabilities": {
                n: round(float(p), 4) for n, p in zip(pred.class_names, probs, strict=False)
            },
        }
        with self._lock:
            self.class_names.update(dict.fromkeys(pred.class_names))
            self.rows.append(row)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.rows)

    def export(self, path: Path) -> int:
        """Write the rows to `path`: .jsonl as JSON lines, anything else as CSV (atomic).
        Returns how many rows were written."""
        with self._lock:
            rows, names = list(self.rows), list(self.class_names)
        if not rows:
            raise RelsarError("nothing to export yet: run a source first")
        if path.suffix.lower() in (".jsonl", ".json"):
            text = "".join(json.dumps(r) + "\n" for r in rows)
        else:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow([*COLUMNS, *names])
            for r in rows:
                fixed = ["" if r[c] is None else r[c] for c in COLUMNS]
                writer.writerow([*fixed, *(r["probabilities"].get(n, "") for n in names)])
            text = out.getvalue()
        write_text(path, text)
        return len(rows)
