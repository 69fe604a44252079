"""A scripted run of the real relsar-app on a virtual screen, driven by real key presses.

    python tools/app_xvfb_run.py [--size 1366x768] [--shots docs/img] [--out /tmp/relsar-xrun]

Starts Xvfb and openbox (a window manager, so xdotool's key presses reach the focused window),
then `relsar-app --report` on the demo, and with xdotool: opens the walkers video (Ctrl+O and
its file dialog), names an action (Ctrl+N, typing, Enter) and records 3 takes (R … R), teaches
it (Ctrl+T, then Enter on the review dialog's "Use them"), switches model (Ctrl+M), opens a
stream on a local server that accepts and never answers (Ctrl+U; it gives up after 8 s), opens
the full sample video, pauses (Space) and quits (Ctrl+Q). The app prints every event-loop gap over 50 ms as it happens and the longest one on
closing; this prints the longest gap per step and over the run, as JSON. With --shots, PNG
screenshots of the screen at the demo, a video with people, recording and teaching. Exits 1
when the window showed an error message outside the stalled-stream step.

Needs: apt-get install -y xvfb xdotool imagemagick openbox libxcb-icccm4 libxcb-keysyms1;
`relsar-models fetch default sample-video`. Not part of `make test` (about 45 s)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stalled_server() -> tuple[str, socket.socket]:
    """127.0.0.1: accepts connections, never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    held = []

    def accept() -> None:
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}/stream.mjpg", srv


class Screen:
    """Xvfb + openbox on a free display; xdotool and screenshots on it."""

    def __init__(self, size: str) -> None:
        self.size = size
        self.display = (
            f":{next(n for n in range(91, 140) if not Path(f'/tmp/.X{n}-lock').exists())}"
        )
        self.env = {**os.environ, "DISPLAY": self.display}
        self.env.pop("QT_QPA_PLATFORM", None)
        self.procs = [
            subprocess.Popen(
                ["Xvfb", self.display, "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        ]
        for _ in range(100):
            if subprocess.run(["xdpyinfo"], env=self.env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        self.procs.append(
            subprocess.Popen(
                ["openbox"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        time.sleep(0.5)

    def xdo(self, *args: str) -> str:
        out = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True)
        return out.stdout.strip()

    def key(self, *keys: str) -> None:
        self.xdo("key", "--delay", "60", *keys)

    def type(self, text: str) -> None:
        self.xdo("type", "--delay", "15", text)

    def window(self, name: str, timeout: float = 30) -> str | None:
        end = time.time() + timeout
        while time.time() < end:
            found = self.xdo("search", "--onlyvisible", "--name", name).split()
            if found:
                return found[-1]
            time.sleep(0.2)
        return None

    def shot(self, path: Path) -> None:
        raw = path.with_suffix(".raw.png")
        subprocess.run(["import", "-window", "root", str(raw)], env=self.env, check=True)
        # A small PNG: 8-bit palette, the video frame needs no more for a docs page.
        for colours in (128, 64, 32):  # docs pages want < 200 KB per picture
            subprocess.run(
                ["convert", str(raw), "+dither", "-colors", str(colours), "-strip", f"PNG8:{path}"],
                check=True,
            )
            if path.stat().st_size < 200_000:
                break
        raw.unlink()

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            proc.wait(5)


BASELINE = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel
from app.gaps import GapMeter
app = QApplication([])
label = QLabel("baseline"); label.resize(400, 300); label.show()
meter = GapMeter(time.perf_counter(), print_over_ms=100)
QTimer.singleShot(int(float(sys.argv[1]) * 1000), app.quit)
app.exec()
print("max", round(meter.max_ms, 1))
"""


def baseline(screen: Screen, seconds: float) -> dict:
    """The longest gap of an empty Qt window's event loop on this machine, right now: what the
    machine's load alone does to the app's gaps."""
    out = subprocess.run(
        [sys.executable, "-c", BASELINE, str(seconds)],
        env={**screen.env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    lines = out.stdout.splitlines()
    over = [json.loads(line)["ms"] for line in lines if line.startswith("{")]
    top = next(line.split()[1] for line in lines if line.startswith("max"))
    return {"seconds": seconds, "max_gap_ms": float(top), "gaps_over_100ms": len(over)}


def prepare(out: Path) -> dict:
    from relsar_core.assets import DEFAULT_MODEL
    from relsar_core.bench.videos import write_sample_video
    from relsar_core.pose.sample_media import sample_video_path

    out.mkdir(parents=True, exist_ok=True)
    paths = {"walkers": out / "walkers.avi", "vtest": sample_video_path()}
    if not paths["walkers"].is_file():
        write_sample_video(paths["walkers"])
    for name in ("model", "other"):  # copies: teaching writes beside the model
        folder = out / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for suffix in (".tflite", ".json", ".md"):
            src = DEFAULT_MODEL.with_suffix(suffix)
            if src.is_file():
                shutil.copy(src, folder / f"{name}{suffix}")
        paths[name] = folder / f"{name}.tflite"
    recordings = out / "recordings"
    shutil.rmtree(recordings, ignore_errors=True)
    settings = out / "settings.ini"
    settings.write_text(f"[General]\ndata_root={recordings}\npose_backend=blazepose\n")
    paths.update(settings=settings, recordings=recordings)
    return paths


def read_events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def run(size: str, shots: Path | None, out: Path) -> dict:
    paths = prepare(out)
    url, server = stalled_server()
    screen = Screen(size)
    log = out / f"app-{size}.jsonl"
    steps: list[tuple[str, float, float]] = []
    t0 = time.perf_counter()
    app = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.main",
            "--source",
            "demo",
            "--model",
            str(paths["model"]),
            "--settings",
            str(paths["settings"]),
            "--report",
            "--quit-after",
            "120",
        ],
        env={**screen.env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.DEVNULL,
    )

    def step(name: str, fn, settle: float) -> None:
        start = time.perf_counter() - t0
        fn()
        time.sleep(settle)
        steps.append((name, start, time.perf_counter() - t0))

    def shot(name: str) -> None:
        if shots is not None:
            screen.shot(shots / f"app-{name}-{size}.png")

    def open_file(shortcut: str, title: str, path: Path) -> None:
        screen.key(shortcut)
        dialog = screen.window(title, 10)
        if dialog is None:
            raise SystemExit(f"the {title!r} dialog did not open")
        screen.xdo("windowactivate", "--sync", dialog)
        screen.key("ctrl+a")
        screen.type(str(path))
        for _ in range(3):  # the first Enter may only close the completer's list
            screen.key("Return")
            time.sleep(0.4)
            if screen.window(title, 0.3) is None:
                return

    idle_gap = None
    try:
        wid = screen.window("ReL-SAR Live", 60)
        if wid is None:
            raise SystemExit("the app's window did not appear")
        w, h = size.split("x")
        screen.xdo("windowmove", wid, "0", "0")
        screen.xdo("windowsize", wid, w, h)
        screen.xdo("windowactivate", "--sync", wid)
        time.sleep(4)  # the demo plays
        shot("demo")
        step("open video", lambda: open_file("ctrl+o", "Open video", paths["walkers"]), 4)
        shot("video")
        step(
            "name the action",
            lambda: (screen.key("ctrl+n"), screen.type("wave"), screen.key("Return")),
            0.5,
        )
        for i in range(3):
            for _ in range(4):  # a loaded machine processes fewer frames: too short, again
                before = len(read_events(log))
                step(f"record take {i + 1}", lambda: screen.key("r"), 4)
                if i == 2:
                    shot("recording")
                step(f"stop take {i + 1}", lambda: screen.key("r"), 0.6)
                said = [e["text"] for e in read_events(log)[before:] if e["event"] == "message"]
                if not any("too short" in text for text in said):
                    break
        step("teach", lambda: screen.key("ctrl+t"), 3)
        shot("teaching")  # the review dialog: each taught action's leave-one-clip-out score
        step("use taught", lambda: screen.key("Return"), 2)  # "Use them" is the default button
        step("switch model", lambda: open_file("ctrl+m", "Open model", paths["other"]), 3)
        step(
            "stalled stream",
            lambda: (screen.key("ctrl+u"), time.sleep(0.8), screen.type(url), screen.key("Return")),
            9.5,
        )
        step("open full sample video", lambda: open_file("ctrl+o", "Open video", paths["vtest"]), 6)
        shot("small-people")
        step("pause", lambda: screen.key("space"), 1)
        step("quit", lambda: screen.key("ctrl+q"), 0)
        app.wait(20)
        idle_gap = baseline(screen, 20)
    finally:
        if app.poll() is None:
            app.terminate()
            app.wait(10)
        screen.close()
        server.close()
    events = read_events(log)
    gaps = [e for e in events if e["event"] == "gap"]
    stats = next((e for e in events if e["event"] == "stats"), {})
    per_step = {}
    for name, start, end in steps:
        inside = [g["ms"] for g in gaps if start <= g["at_s"] < end]
        per_step[name] = max(inside + [per_step.get(name, 0.0)])
    takes = sorted(p.name for p in paths["recordings"].glob("wave/*.npz"))
    return {
        "size": size,
        "empty_window_same_display": idle_gap,
        "run_s": round(steps[-1][2], 1) if steps else None,
        "max_gap_ms": stats.get("max_gap_ms"),
        "max_gap_at_s": stats.get("max_gap_at_s"),
        "max_ui_cpu_ms_between_ticks": stats.get("max_ui_cpu_ms"),
        "gaps_over_100ms_ui_busy_over_100ms": sum(g.get("ui_cpu_ms", 0) > 100 for g in gaps),
        "gaps_over_50ms": gaps,
        "gaps_over_100ms": sum(g["ms"] > 100 for g in gaps),
        "longest_gap_per_step_ms": per_step,
        "steps": [(n, round(a, 2), round(b, 2)) for n, a, b in steps],
        "takes_recorded": takes,
        "messages": [(e["at_s"], e["text"][:120]) for e in events if e["event"] == "message"],
        "unexpected_errors": unexpected_errors(events, steps),
        "taught": (paths["model"].with_suffix(".taught.npz")).is_file(),
        "last_message": stats.get("message"),
    }


# The one step whose error message is the point of it (a stream that never answers).
EXPECTED_ERROR_STEPS = ("stalled stream",)


def unexpected_errors(events: list[dict], steps: list[tuple[str, float, float]]) -> list:
    """Error messages the window showed outside the steps that expect one: a run that shows
    e.g. an exception's text after teaching must fail, not just print it in the JSON."""
    out = []
    for e in events:
        if e["event"] != "message" or e.get("level") != "error":
            continue
        step = next((n for n, a, _ in reversed(steps) if a <= e["at_s"]), None)  # latest begun
        if step not in EXPECTED_ERROR_STEPS:
            out.append((step, e["at_s"], e["text"][:160]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="1366x768")
    p.add_argument("--shots", type=Path, help="folder for PNG screenshots")
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "relsar-xrun")
    args = p.parse_args()
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    report = run(args.size, args.shots, args.out)
    print(json.dumps(report, indent=1))
    if report["unexpected_errors"]:
        sys.exit(
            f"the app showed {len(report['unexpected_errors'])} unexpected error(s): see above"
        )


if __name__ == "__main__":
    main()
