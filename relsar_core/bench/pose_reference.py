"""Agreement of our BlazePose with MediaPipe 0.10.14's own, stage by stage, on the golden file
made by `python -m training.make_blazepose_reference` (tests/fixtures/): detections, ROIs,
landmarks given MediaPipe's ROI, and the whole tracking pipeline on the sample video.

Distances for PCK are in torso lengths (shoulder centre to hip centre of the reference) over the
12 body joints + nose, as the comparison in issue #20."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).resolve().parents[2] / "tests/fixtures/blazepose_mediapipe_0.10.14.npz"
# nose, shoulders, elbows, wrists, hips, knees, ankles (blazepose33)
PCK_JOINTS = [0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
SAME_PERSON = 0.5  # hip centres closer than half a torso: the same person


VIDEO_FRAMES = 150  # walker-region frames 0..149 of vtest.avi (15 s at 10 fps)
STILL_EVERY = 3  # of those, every 3rd again one by one (static mode), for the detector stage
FULL_FRAMES = (0, 200, 400, 600)  # whole vtest.avi frames (768×576): small people, several


def frames_sha256(frames: list[np.ndarray]) -> str:
    """Checksum of decoded frames (shapes and bytes): the tests compare it before comparing poses."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(str(frame.shape).encode())
        digest.update(np.ascontiguousarray(frame).tobytes())
    return digest.hexdigest()


def full_video_frames(indices: tuple[int, ...]) -> list[np.ndarray]:
    """Whole vtest.avi frames at the given indices, decoded in order (seeking is not exact)."""
    import cv2

    from relsar_core.pose.sample_media import sample_video_path

    cap = cv2.VideoCapture(str(sample_video_path()))
    frames, i = [], 0
    while len(frames) < len(indices):
        ok, frame = cap.read()
        if not ok:
            break
        if i in indices:
            frames.append(frame)
        i += 1
    cap.release()
    return frames


def reference_stills() -> dict[str, np.ndarray]:
    """The single images of the fixture by name (BGR)."""
    import cv2
    from skimage import data

    from relsar_core.pose.sample_media import full_body_photo_path, walker_frames

    stills = {
        "astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
        "messi": cv2.imread(str(full_body_photo_path())),
    }
    for i, frame in enumerate(walker_frames(VIDEO_FRAMES)[::STILL_EVERY]):
        stills[f"walker{i * STILL_EVERY:03d}"] = frame
    for i, frame in zip(FULL_FRAMES, full_video_frames(FULL_FRAMES), strict=True):
        stills[f"vtest{i:03d}"] = frame
    return stills


WORKER = Path(__file__).with_name("mediapipe_worker.py")
# Where `python -m training.make_blazepose_reference` leaves its throw-away venv by default.
MEDIAPIPE_PYTHON = Path("/tmp/mpvenv/bin/python")


def run_mediapipe(python: Path, video: list[np.ndarray], stills: dict[str, np.ndarray]) -> dict:
    """MediaPipe's outputs for these frames (see mediapipe_worker.py), run by `python` (a venv
    with mediapipe==0.10.14)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        arrays = {f"still_{k}": v for k, v in stills.items()}
        if video:
            arrays["video"] = np.stack(video)
        np.savez(src, **arrays)
        subprocess.run(
            [str(python), str(WORKER), str(src), str(dst)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with np.load(dst) as out:
            return {k: out[k] for k in out.files}


class FramesChanged(RuntimeError):
    """The frames decoded here are not the ones the reference saw (another OpenCV/FFmpeg build)."""


@dataclass
class Reference:
    data: dict
    video: list[np.ndarray]
    stills: dict[str, np.ndarray] = field(default_factory=dict)


def load_reference(path: Path = FIXTURE) -> Reference:
    """The golden file and the frames it was made from, decoded again here and checksum-checked."""
    from relsar_core.pose.sample_media import walker_frames

    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    video = walker_frames(VIDEO_FRAMES)
    if frames_sha256(video) != str(data["video_sha256"]):
        raise FramesChanged(f"{path}: the decoded sample-video frames differ from the reference's")
    stills = reference_stills()
    for name, image in stills.items():
        if frames_sha256([image]) != str(data[f"still_{name}_sha256"]):
            raise FramesChanged(f"{path}: still {name!r} differs from the reference's")
    return Reference(data, video, stills)


def torso_length(landmarks: np.ndarray) -> float:
    shoulders = landmarks[[11, 12], :2].mean(axis=0)
    hips = landmarks[[23, 24], :2].mean(axis=0)
    return float(np.hypot(*(shoulders - hips)))


def joint_errors(ours: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel error of each PCK joint, and the same in the reference's torso lengths. The
    reference's pixels are rounded to float32 first, as ours are."""
    theirs = ref[PCK_JOINTS, :2].astype(np.float32).astype(np.float64)
    err = np.hypot(*(ours[PCK_JOINTS, :2].astype(np.float64) - theirs).T)
    return err, err / max(torso_length(ref), 1e-6)


def rect_of(row: np.ndarray, image_size: tuple[int, int]):
    """MediaPipe's normalized ROI exactly: the fixture's pixels (float64) / the image size."""
    from relsar_core.pose.blazepose.mediapipe_math import F32, NormRect

    w, h = image_size
    return NormRect(
        F32(row[0] / w), F32(row[1] / h), F32(row[2] / w), F32(row[3] / h), F32(row[4]), (w, h)
    )


def same_bits(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Our float32 pixels equal MediaPipe's (its fraction × size, rounded to float32)."""
    return bool(np.array_equal(np.asarray(ours, np.float32), np.asarray(theirs).astype(np.float32)))


def landmarks_given_roi(ref: Reference, landmarker) -> dict[str, float]:
    """Our landmark stage fed MediaPipe's own ROI on every frame where it found someone."""
    px, torso, exact = [], [], 0
    video_roi, video_lm = ref.data["video_roi"], ref.data["video_landmarks"]
    cases = [(f, r, lm) for f, r, lm in zip(ref.video, video_roi, video_lm, strict=True)]
    for name, image in ref.stills.items():
        cases.append((image, ref.data[f"still_{name}_roi"], ref.data[f"still_{name}_landmarks"]))
    for frame, roi, lm in cases:
        if not (np.isfinite(roi[0]) and np.isfinite(lm[0, 0])):
            continue  # no ROI, or MediaPipe's presence gate found nobody in it
        size = (frame.shape[1], frame.shape[0])
        ours = landmarker.run_rect(frame, rect_of(roi, size)).keypoints
        exact += int(same_bits(ours[:, :2], lm[:, :2]))
        e_px, e_torso = joint_errors(ours, lm)
        px.append(e_px)
        torso.append(e_torso)
    px, torso = np.concatenate(px), np.concatenate(torso)
    return {
        "frames": len(px) // len(PCK_JOINTS),
        "bit_exact_frames": exact,
        "median_px": float(np.median(px)),
        "p95_px": float(np.percentile(px, 95)),
        "max_px": float(px.max()),
        "pck05": float((torso < 0.05).mean()),
    }


def detector_agreement(ref: Reference, detector) -> dict[str, float]:
    """Every still: each reference detection matched by one of ours (hip centre nearest), with the
    worst score and keypoint differences; ours left unmatched are extras."""
    matched = missed = extra = exact = 0
    worst_score = worst_kp = worst_hip = 0.0
    for name, image in ref.stills.items():
        theirs = ref.data[f"still_{name}_det"]
        ours = detector.detect(image)
        used = set()
        for row in theirs:
            kps = row[5:].reshape(4, 2)
            dist = [float(np.hypot(*(d.keypoints[0] - kps[0]))) for d in ours]
            best = int(np.argmin(dist)) if dist else -1
            if best < 0 or best in used or dist[best] > 10:
                missed += 1
                continue
            used.add(best)
            matched += 1
            worst_score = max(worst_score, abs(ours[best].score - float(row[0])))
            kp_err = np.hypot(*(ours[best].keypoints - kps.astype(np.float32)).T)
            worst_kp = max(worst_kp, float(kp_err.max()))
            worst_hip = max(worst_hip, float(kp_err[0]))
            same_score = np.float32(row[0]) == np.float32(ours[best].score)
            exact += int(same_bits(ours[best].keypoints, kps) and same_score)
        extra += len(ours) - len(used)
    return {
        "reference": matched + missed,
        "matched": matched,
        "bit_exact": exact,
        "missed": missed,
        "extra": extra,
        "max_score_diff": worst_score,
        "max_keypoint_px": worst_kp,
        "max_hip_px": worst_hip,
    }


def tracking_roi_agreement(ref: Reference) -> dict[str, float]:
    """Our ROI tracking fed MediaPipe's raw auxiliary landmarks: its next-frame ROIs against
    MediaPipe's (centre and size differences in px, and how many are equal to the bit), over
    each track from its first frame."""
    from relsar_core.pose.blazepose.mediapipe_math import FRAME_NS, RoiTracker

    tracker = RoiTracker()
    aux, nxt = ref.data["video_aux"], ref.data["video_next_roi"]
    size = (ref.video[0].shape[1], ref.video[0].shape[0])
    centre, side, exact = [], [], 0
    for t in range(len(aux)):
        if not np.isfinite(aux[t, 0, 0]):
            tracker.reset()  # a frame without landmarks: MediaPipe resets its filter
            continue
        ours = tracker((aux[t] / size).astype(np.float32), size, (t + 1) * FRAME_NS)
        theirs = rect_of(nxt[t], size)
        exact += int(ours == theirs)
        o, r = ours.roi(), theirs.roi()
        centre.append(float(np.hypot(o.cx - r.cx, o.cy - r.cy)))
        side.append(abs(o.size - r.size))
    return {
        "frames": len(centre),
        "bit_exact": exact,
        "max_centre_px": max(centre),
        "max_size_px": max(side),
    }


def end_to_end(ref: Reference, estimator) -> dict[str, float]:
    """Our whole estimator on the sample video against MediaPipe's (unsmoothed) landmarks: share
    of the frames where both see someone that follow the same person, and PCK@0.05 there."""
    estimator.reset()
    both = same = exact = agree = 0
    torso = []
    for frame, lm in zip(ref.video, ref.data["video_landmarks"], strict=True):
        sk = estimator.estimate(frame)
        agree += int((sk is None) == (not np.isfinite(lm[0, 0])))
        if sk is None or not np.isfinite(lm[0, 0]):
            continue
        both += 1
        exact += int(same_bits(sk.keypoints[:, :2], lm[:, :2]))
        hips_ours = sk.keypoints[[23, 24], :2].mean(axis=0)
        hips_ref = lm[[23, 24], :2].mean(axis=0)
        if np.hypot(*(hips_ours - hips_ref)) > SAME_PERSON * torso_length(lm):
            continue
        same += 1
        torso.append(joint_errors(sk.keypoints, lm)[1])
    reference_frames = int(np.isfinite(ref.data["video_landmarks"][:, 0, 0]).sum())
    return {
        "reference_frames": reference_frames,
        "both_frames": both,
        "found_agrees": agree / len(ref.video),
        "bit_exact_frames": exact,
        "same_person": same / both if both else 0.0,
        "pck05": float((np.concatenate(torso) < 0.05).mean()) if torso else 0.0,
    }
