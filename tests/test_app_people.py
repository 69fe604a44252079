"""People mode in the real window (pytest-qt, offscreen): two people replayed side by side, each
drawn with their own label; a real mouse click on the video selects a person, and the side
panel, the headline and Record follow them."""

# ruff: noqa: F811 - the app tests' fixtures, imported, are parameters here

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from app.settings import open_store
from app.window import MainWindow
from relsar_core.skeleton.clip import load_clip
from tests.test_app import WAIT_MS, model_copy  # noqa: F401 - a fixture


def _widget_point(video, box) -> QPoint:
    """The middle of a person's box, in the video widget's coordinates."""
    target = video._target()
    w, h = video._image_size
    x = target.left() + (box[0] + box[2]) / 2 * target.width() / w
    y = target.top() + (box[1] + box[3]) / 2 * target.height() / h
    return QPoint(round(x), round(y))


def test_click_on_a_person_selects_them_and_the_panels_follow(
    qtbot, tmp_path, model_copy, toy_data
):
    clips = [sorted((toy_data / c).glob("*.npz"))[2] for c in ("squat", "arms_up")]
    store = open_store(str(tmp_path / "settings.ini"))
    overrides = {
        "model": str(model_copy),
        "data_root": str(tmp_path / "recordings"),
        "people": 2,
        "threshold": 0.0,
        "loop": True,
    }
    window = MainWindow(store, f"{clips[0]}+{clips[1]}", overrides)
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    video = window.video

    def both_labelled() -> None:
        assert len(video.people) == 2 and all(p.label is not None for p in video.people)

    qtbot.waitUntil(both_labelled, timeout=WAIT_MS)
    assert video.hud.startswith("2 people · ") and "ms per person" in video.hud
    half = window.source.image_size[0] / 2
    by_side = {p.box[0] >= half: p.person for p in video.people}  # False: left (squat)
    first = video.selected
    other = by_side[True] if first == by_side[False] else by_side[False]
    other_class = "arms_up" if other == by_side[True] else "squat"
    other_box = next(p.box for p in video.people if p.person == other)

    qtbot.mouseClick(video, Qt.MouseButton.LeftButton, pos=_widget_point(video, other_box))

    def follows_other() -> None:
        assert window.pipeline.crowd.selected == other and video.selected == other
        assert window.results.action_label.full_text() == other_class
        assert window.results.actions_box.title() == f"Actions · person {other}"

    qtbot.waitUntil(follows_other, timeout=WAIT_MS)
    # A click on empty canvas (far from both) keeps the selection.
    qtbot.mouseClick(video, Qt.MouseButton.LeftButton, pos=QPoint(3, 3))
    assert window.pipeline.crowd.selected == other

    # Record takes the selected person: every recorded joint is in their half of the frame.
    window.record_panel.action_edit.setText(other_class)
    window.toggle_recording()
    qtbot.waitUntil(lambda: window._recorder.num_frames >= 40, timeout=WAIT_MS)
    path = window.toggle_recording()
    clip = load_clip(path)
    seen = clip.keypoints[clip.keypoints[..., 2] > 0.2]
    assert len(seen) > 0
    xs = seen[:, 0]
    assert np.all(xs >= half) if other_class == "arms_up" else np.all(xs < half), xs.min()
    window.close()


def test_the_selected_persons_title_colour_stands_out_from_the_window(qapp):
    from PySide6.QtGui import QColor, QPalette

    from app.panels.results import readable

    window = qapp.palette().color(QPalette.ColorRole.Window).lightness()
    for bright in ("#ffd92f", "#a6d854", "#66c2a5"):  # overlay colours that vanish on light grey
        colour = QColor(bright)
        assert abs(readable(colour).lightness() - window) > abs(colour.lightness() - window) + 40
