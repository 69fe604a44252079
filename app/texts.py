"""What the window says: user-facing texts built from pipeline results (not CLI messages)."""

from __future__ import annotations

from relsar_core.data.recording import MAX_ACTION_NAME
from relsar_core.runtime.smoothing import NO_ACTION, REJECT_CLASSES

# What a pose backend knows about an empty result, in words a person can act on.
NOBODY_HINTS = {
    "small": "people too small: try ViTPose or a closer camera",
    "none": "nobody in view",
}

# Why the selected person (people mode) has no action: relsar_core/live/people.py's reasons.
PERSON_HINTS = {
    "too small": "person too small: try ViTPose or a closer camera",
    "too few joints": "too little of the person in view",
    "window filling": "someone found: watching…",
}


def confidence_text(pred, pipeline=None, person_now: bool = False) -> str:
    """The confidence, or why there is no action: nobody in view (and why, when the pose
    backend can tell), someone just found (`person_now`: the frame on screen has a skeleton,
    the window not yet enough of them), or no class sure enough."""
    smoothed = pred.smoothed
    if smoothed.label != NO_ACTION:
        return f"{smoothed.confidence:.0%}"
    if pred.probabilities is None:
        reason = getattr(pred, "reason", None)  # the selected person's, in people mode
        if reason in PERSON_HINTS:
            return PERSON_HINTS[reason]
        if person_now:
            return PERSON_HINTS["window filling"]
        return nobody_text(getattr(pipeline, "pose", None))
    probabilities, names = smoothed.probabilities, pred.class_names
    top = int(probabilities.argmax())
    if names[top] not in REJECT_CLASSES:
        return f"unsure (best: {names[top]} {probabilities[top]:.0%})"
    # The model (or its open-set gate) says "none of these": name the nearest real action, not
    # the rejection class, which means nothing to a person.
    actions = [i for i, n in enumerate(names) if n not in REJECT_CLASSES]
    if not actions:
        return "no known action"
    near = max(actions, key=lambda i: probabilities[i])
    return f"no known action (closest: {names[near]} {probabilities[near]:.0%})"


def nobody_text(pose) -> str:
    """BlazePose misses people much smaller than its input; say so when the backend reports it."""
    reason = getattr(pose, "miss_reason", None)
    if callable(reason):
        reason = reason()
    return NOBODY_HINTS.get(reason or "none", NOBODY_HINTS["none"])


SMALL_PEOPLE_NOTE = (
    "Nobody recognised: there are people in view, but too small for BlazePose on the whole "
    "frame. Try Pose ▸ vitpose (with its weights), a closer camera or a video cropped to them."
)


def stats_text(result, latency: tuple[float, float] | None) -> str:
    lat = f"latency {latency[0]:.0f}/{latency[1]:.0f} ms" if latency else "latency –"
    pose = f" · pose {result.pose_ms:.0f} ms" if result.pose_ms else ""
    return f"{result.fps:4.1f} FPS · {lat}{pose} · dropped {result.dropped}"


def recording_text(recorder) -> str:
    """● REC and the frames still needed before the take can be saved."""
    n, need = recorder.num_frames, recorder.min_frames
    left = f"{need - n} more frames needed" if n < need else f"{n} frames, long enough"
    return f"● REC {recorder.action} · {left}"


def name_problem(name: str, teach_root: str | None = None) -> str:
    """Why an action name cannot be used, in the window's words; with `teach_root` (the data
    folder), for Teach, which uses the takes recorded under that name there."""
    name = (name or "").strip()
    if not name and teach_root is not None:
        return (
            "Type the name of the action to teach first (e.g. clap): it is taught from the "
            f"takes recorded under that name in {teach_root}."
        )
    if not name:
        return "Type a name for the action first (e.g. clap), then record."
    if len(name.encode()) > MAX_ACTION_NAME:
        return f"That action name is too long: at most {MAX_ACTION_NAME} characters."
    return (
        f"“{name[:30]}” cannot be an action name: use letters, digits, spaces and _ - . + "
        "(it becomes a folder name)."
    )


def not_recording_text(state: str, opening: bool) -> str:
    """Why R did not start recording: nothing plays (`state` is the window's running, paused or
    stopped), and what to press."""
    if opening:
        return "The source is still opening: record once it plays."
    if state == "paused":  # a source is there: it only needs to play
        return "Paused: press Space to play, then record."
    return "Start a source first (Space), then record."


POSE_HINTS = {
    "--pose-weights": "choose a ViTPose .pth file under Weights",
    "relsar-models fetch": "fetch it with the relsar-models command",
}


def pose_problem(message: str) -> str:
    """A pose backend's error, without command-line advice ("pass --pose-weights")."""
    text = message
    if "ViTPose needs a checkpoint" in text:
        return "Pose model: ViTPose needs a weights file: choose a .pth under Weights, or pick blazepose."
    if "--pose" in text or "--" in text:
        text = text.split(";")[0].split(": pass")[0]
    return f"Pose model: {text}"
