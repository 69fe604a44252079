"""What the window says after a user's action, seen under Xvfb: Export says where it wrote and
how many rows (and the file names each row's person and source), R while paused says it is
paused, Teach without a name asks for the action to teach, and a class keeps its colour when a
taught action is forgotten."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here

from __future__ import annotations

import csv
import json

from PySide6.QtCore import Qt

from app.charts import ProbabilityBars, class_colour
from tests.test_app import (  # noqa: F401 - fixtures
    WAIT_MS,
    make_window,
    model_copy,
    toy_clip,
    wait_label,
)


def test_export_says_where_and_how_many_rows_with_person_and_source_columns(
    make_window, qtbot, model_copy, toy_data, tmp_path
):
    source = str(toy_data / "squat")
    window = make_window(source, model_copy)
    wait_label(qtbot, window, "squat")
    out = window.export_results(tmp_path / "r.csv")
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {"person", "source", "frame", "label"} <= set(rows[0])
    assert {r["person"] for r in rows} == {""}  # one-person mode: no person id
    assert {r["source"] for r in rows} == {source}
    said = f"Exported {len(rows)} row{'s' * (len(rows) != 1)} to {out}"
    assert said in window.banner.text and window.banner.level == "info"
    assert window.statusBar().currentMessage().startswith("Exported ")
    # Another source: its rows follow the first one's, each naming its own source.
    window.open_source(str(toy_data / "arms_up"))
    wait_label(qtbot, window, "arms_up")
    window.stop()
    window.export_results(out)
    with out.open(newline="") as f:
        sources = [r["source"] for r in csv.DictReader(f)]
    first = sources.count(source)  # rows go on being added until the switch
    assert first >= len(rows) and sources[:first] == [source] * first
    assert sources[first:] and set(sources[first:]) == {str(toy_data / "arms_up")}


def test_people_mode_exports_every_persons_windows_with_their_id(
    make_window, qtbot, model_copy, toy_data, tmp_path
):
    clips = [toy_clip(toy_data, c, 2) for c in ("squat", "arms_up")]
    window = make_window(f"{clips[0]}+{clips[1]}", model_copy, people=2, threshold=0.0)

    def both_logged() -> None:
        assert len({r["person"] for r in window.log.snapshot() if r["person"]}) == 2

    qtbot.waitUntil(both_logged, timeout=WAIT_MS)
    window.stop()
    out = window.export_results(tmp_path / "r.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    people = {r["person"] for r in rows if r["person"] is not None}
    assert len(people) == 2 and {r["source"] for r in rows} == {window.source_spec}
    # One row per person per classified window: never the same person twice for one frame.
    keys = [(r["person"], r["frame"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert f"Exported {len(rows)} rows" in window.banner.text


def test_record_while_paused_says_it_is_paused(make_window, qtbot, model_copy, toy_data):
    window = make_window(str(toy_clip(toy_data, "squat")), model_copy, loop=True)
    qtbot.waitUntil(lambda: window.running, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.video.frames_drawn > 0, timeout=WAIT_MS)
    window.record_panel.action_edit.setText("clap")
    window.video.setFocus()
    qtbot.keyClick(window.video, Qt.Key.Key_Space)
    assert window.state == "paused"
    qtbot.keyClick(window.video, Qt.Key.Key_R)
    assert window._recorder is None
    assert window.banner.text == "Paused: press Space to play, then record."
    window.stop()


def test_teach_without_a_name_asks_for_the_action_to_teach(
    make_window, qtbot, model_copy, toy_data, tmp_path
):
    window = make_window(str(toy_clip(toy_data, "squat")), model_copy)
    window.record_panel.action_edit.setText("")
    assert window.teach() is None
    text = window.banner.text
    assert "to teach" in text and "then record" not in text
    assert str(tmp_path / "recordings") in text  # where its takes would come from
    window.stop()


def test_a_class_keeps_its_colour_when_another_is_forgotten(qtbot):
    bars = ProbabilityBars()
    qtbot.addWidget(bars)
    bars.set_classes(["squat", "wave", "hop", "spin"])
    before = {n: class_colour(n).name() for n in ("squat", "wave", "hop", "spin")}
    assert len(set(before.values())) == 4
    bars.set_classes(["squat", "wave", "spin"])  # "hop" forgotten
    after = {n: class_colour(n).name() for n in ("squat", "wave", "hop", "spin")}
    assert after == before  # the timeline's old "hop" segments keep their colour too
    bars.set_classes(["squat", "wave", "spin", "clap"])  # a new one: a colour of its own
    assert class_colour("clap").name() not in after.values()


def test_people_mode_is_switched_from_the_panel_and_the_source_starts_again(
    qtbot, tmp_path, tiny_tflite_model, toy_data
):
    """It could only be chosen with --people N at launch."""
    from app.settings import AppSettings, open_store
    from app.window import MainWindow

    clip = sorted((toy_data / "wave").glob("*.npz"))[0]
    store = open_store(str(tmp_path / "settings.ini"))
    overrides = {"model": str(tiny_tflite_model), "data_root": str(tmp_path / "rec"), "loop": True}
    window = MainWindow(store, str(clip), overrides)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.running and window.pipeline.people == 1, timeout=15000)
    window.model_panel.people_spin.setValue(3)
    qtbot.waitUntil(lambda: window.running and window.pipeline.people == 3, timeout=15000)
    assert AppSettings.load(store).people == 3  # kept for the next launch
    qtbot.waitUntil(
        lambda: window.video.hud.startswith("1 person · "), timeout=15000
    )  # people mode
    window.close()
