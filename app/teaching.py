"""Teach an action, forget one, delete a bad take: the slow parts in workers (app/worker.py).

Teach computes the new head and each taught action's leave-one-clip-out score in a worker
without saving anything; the user sees the scores (app/teach_review.py) and chooses: "Use
them" saves the taught file (in a worker) and switches the live classifier, "Don't use" leaves
the model, the taught file and the running classifier as they were."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app import texts
from app.panels.record_teach import takes_of
from app.teach_review import TeachReview
from relsar_core.data.recording import check_action_name
from relsar_core.errors import RelsarError
from relsar_core.runtime import fewshot


def delete_take(window, path: Path) -> None:
    """A take and the video beside it, after asking; the action's folder goes when empty."""
    answer = QMessageBox.question(window, "Delete take", f"Delete the take {path.name}?")
    if answer != QMessageBox.StandardButton.Yes:
        return
    for item in (path, path.with_suffix(".mp4")):
        item.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass  # other takes remain
    window._update_examples()
    window.statusBar().showMessage(f"Deleted {path.name}", 10000)


def teach(window, action: str | None = None):
    """Compute the taught head and its scores in a worker, then ask (review) before using it."""
    if window.classifier is None:
        window.show_message("Load a model before teaching an action.", "warning")
        return None
    if "forget" in window.tasks:  # both rewrite the taught file
        window.show_message("Wait until forgetting has finished, then teach.", "warning")
        return None
    text = action if action is not None else window.record_panel.action_edit.text()
    try:
        action = check_action_name(text)
    except RelsarError:
        window.show_message(texts.name_problem(text, window.settings.data_root), "warning")
        window.record_panel.action_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)  # as R does
        return None
    clips = takes_of(window.settings.data_root, action)
    if not clips:
        window.show_message(f"No examples of “{action}” yet: record a few (R) first.", "warning")
        return None
    model, base = window.settings.model, window.base_classifier
    stride = max(1, window.model_panel.stride_spin.value())

    def work(task):
        from relsar_core.runtime.tflite import TfliteClassifier

        task.report(f"Teaching “{action}” from {len(clips)} take(s)…")
        # A second interpreter for the examples: the pipeline's own is busy in its thread.
        embedder = TfliteClassifier(model)
        taught = fewshot.teach(
            base, model, {action: clips}, stride=stride, embedder=embedder, save=False
        )
        task.report(f"Scoring “{action}” leave-one-clip-out…")
        # Both refit the head once per example clip: here, never on the UI thread.
        return taught, taught.loco_scores(), taught.describe()

    def done(result) -> None:
        if window.settings.model != model:
            return  # another model was loaded meanwhile: these examples were for the old one
        review(window, action, len(clips), model, *result)

    return window._run(
        "teach",
        f"Teaching “{action}”…",
        work,
        done,
        lambda m: window.show_message(f"Could not teach “{action}”: {m}", "error"),
    )


def review(window, action: str, takes: int, model: str, classifier, scores, description) -> None:
    """Show the scores; accepting saves and switches, declining changes nothing."""
    if window.teach_review is not None:
        window.teach_review.reject()  # an older preview, taught again since: it is stale
    dialog = TeachReview(window, action, classifier, scores)
    window.teach_review = dialog

    def use() -> None:
        window.teach_review = None
        save(window, action, takes, model, classifier, description)

    def decline() -> None:
        window.teach_review = None
        taught = fewshot.taught_classes(window.classifier)
        # Re-teaching an action and declining keeps the earlier examples, which stay in use.
        kept = (
            f"“{action}” stays as it was taught before" if action in taught else "nothing changed"
        )
        window.show_message(
            f"Did not use these takes of “{action}”: nothing was saved, {kept}. Record more or "
            "clearer examples (or delete a bad take) and teach again.",
            "info",
        )

    dialog.accepted.connect(use)
    dialog.rejected.connect(decline)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()  # window-modal, not exec(): the event loop keeps turning


def save(window, action: str, takes: int, model: str, classifier, description: str):
    def work(task):
        task.report(f"Saving “{action}” beside the model…")
        fewshot.save_taught(model, classifier.examples)  # hashes the model file: not on the UI
        return classifier

    def done(classifier) -> None:
        if window.settings.model != model:
            return
        window.classifier = classifier
        window._classes_changed()
        note = " (3–10 examples work best)" if takes < 3 else ""
        window.show_message(
            f"Taught “{action}” from {takes} take(s){note}; saved beside the model. {description}.",
            "info",
        )

    return window._run(
        "teach",
        f"Saving “{action}”…",
        work,
        done,
        lambda m: window.show_message(f"Could not save “{action}”: {m}", "error"),
    )


def forget(window, action: str):
    """Forget one taught action (the others stay), after asking; the head is refitted in a
    worker (fitting the taught examples again can take longer than a frame)."""
    if not action or window.classifier is None:
        return None
    if "teach" in window.tasks:  # both rewrite the taught file
        window.show_message("Wait until teaching has finished, then forget.", "warning")
        return None
    answer = QMessageBox.question(
        window, "Forget a taught action", f"Forget the taught action “{action}”?"
    )
    if answer != QMessageBox.StandardButton.Yes:
        return None
    model, base = window.settings.model, window.base_classifier

    def work(task):
        task.report(f"Forgetting “{action}”…")
        if not fewshot.forget_taught(model, action):
            return None
        return fewshot.with_taught(base, model)  # refits the head on the examples left

    def done(classifier) -> None:
        if classifier is None or window.settings.model != model:
            return  # nothing was taught under that name, or another model was loaded since
        window.classifier = classifier
        window._classes_changed()
        window.show_message(f"Forgot the taught action “{action}”.", "info")

    return window._run(
        "forget",
        f"Forgetting “{action}”…",
        work,
        done,
        lambda m: window.show_message(f"Could not forget “{action}”: {m}", "error"),
    )
