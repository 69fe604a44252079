"""Play and pause (Space), also around opening a source: while a source opens, Space never opens
a second one (a file or replay then opens paused); pausing before the first frame is drawn lets
the source read on until that frame is shown. The canvas, the corner, the Start button and the
status bar then say the same thing."""

from __future__ import annotations

from relsar_core.live.sources import is_live_spec


def toggle(window) -> None:
    """Space: pause or resume a file or replay; stop or start a live source."""
    opening = window.tasks.get("source")
    if opening is not None and not opening.done:  # done: it is opened, being shown right now
        toggle_while_opening(window)
        return
    runner = window.bridge.runner
    if window.state == "running" and window.source is not None and not window.source.live:
        pause(window)
    elif window.state == "paused" and runner is not None and window.bridge.running:
        resume(window)
    elif window.state != "stopped":
        window.stop_by_user()
    else:
        window.start()


def toggle_while_opening(window) -> None:
    """Space while a source opens: remembered for a file or replay (it opens paused, or plays);
    a camera or stream cannot pause, so nothing changes. Never a second open (the first one's
    wait would start again: a stalled stream gave up after 16 s instead of 8)."""
    spec = window.source_spec
    if is_live_spec(spec):
        window.statusBar().showMessage(f"Opening {spec}… (it cannot pause; Esc cancels)")
        return
    window.open_paused = not window.open_paused
    then = "it will open paused (Space plays)" if window.open_paused else "it will play"
    window.statusBar().showMessage(f"Opening {spec}…: {then}")
    window.source_panel.set_running("paused" if window.open_paused else "running")


def pause(window) -> None:
    # Before its first frame is drawn the source reads on until one is (show_first_frame): held
    # at once, the canvas said "Starting…" for good under a "paused" corner.
    window.pause_at_first_frame = window.video.frames_drawn == 0
    if not window.pause_at_first_frame:
        window.bridge.runner.paused.set()
    window._set_state("paused")
    window.statusBar().showMessage(f"Paused {window.source.name} (Space plays)")


def resume(window) -> None:
    window.pause_at_first_frame = False
    window.bridge.runner.paused.clear()
    window._set_state("running")
    window.statusBar().showMessage(f"Playing {window.source.name}")


def opened(window) -> None:
    """A source has just started: pause it if Space asked for that while it opened."""
    if window.open_paused and not window.source.live:
        pause(window)
    window.open_paused = False


def show_first_frame(window, result) -> None:
    """Paused before any frame was drawn: show this one (the picture, no live label), hold."""
    window.pause_at_first_frame = False
    if window.bridge.runner is not None:
        window.bridge.runner.paused.set()
    window.video.show_result(result, window.pipeline.people > 1)


def clear_last_source(window) -> None:
    """A new source starts opening: nothing of the last one stays up greyed (its headline,
    bars, timeline and position), nor a banner about it or about what was done then ("Type a
    name for the action first" stayed over the next video)."""
    if window.sources_started:
        window.banner.hide()  # but the first start's notes (no camera, a gone model) are its own
    window.sources_started += 1
    window.results.clear("opening…")
    window.source_panel.clear_position()


def open_cancelled(window, spec: str) -> None:
    """Esc, Cancel or Stop while `spec` opened: say so where it said "Opening …" (it stayed)."""
    if "source" in window.tasks:
        return  # replaced by a newer open, which says what it does
    window.video.clear(f"Opening {spec} cancelled. Space tries again; or choose another source.")
    window.statusBar().showMessage(f"Cancelled opening {spec}", 10000)
    not_playing(window)


def not_playing(window) -> None:
    """An open that failed or was cancelled: the button and the corner say stopped (the corner
    said "opening…" for good)."""
    window.source_panel.set_running("stopped")
    window.results.show_stopped("stopped")
