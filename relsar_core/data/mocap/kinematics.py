"""Forward kinematics of DeepMimic motions with pybullet (DIRECT mode, no window) → body15 in 3-D.

The humanoid URDF from pybullet_data is loaded at DeepMimic's scale (0.25) and, per frame, the
root and joint states are set and the link frames read back; about 30 µs a frame, so a whole
motion is a few milliseconds and needs no hand-written kinematics. World frame: y up, metres;
the figure faces +x at rest and its right side is +z.

body15 mapping (chosen to match what the app's converters make from BlazePose / COCO):
  shoulders, elbows, wrists, hips, knees, ankles = the humanoid's joint centres;
  neck = midpoint of the shoulders and mid_hip = midpoint of the hips (as `layouts.to_body15`
  builds them from coco17 / blazepose33); nose = a point on the front of the head sphere
  (head centre 0.175 m above the neck joint, + 0.09 m forward, in the neck link's frame).
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from relsar_core.data.mocap.motions import JOINT_ORDER, Motion, close_cycle, resample

SCALE = 0.25  # DeepMimic's globalScaling for humanoid.urdf
NOSE_OFFSET = np.array([0.09, 0.155, 0.0])  # in the neck link's frame, metres
# body15 index → humanoid link index, for joints that are joint centres.
_LINKS = {2: 6, 3: 7, 4: 8, 5: 12, 6: 13, 7: 14, 9: 3, 10: 4, 11: 5, 12: 9, 13: 10, 14: 11}
_NECK_LINK = 2
_NUM_LINKS = 15


@contextlib.contextmanager
def _quiet_c_output():
    """pybullet's C code prints URDF warnings and a banner on fd 1/2; keep CLI output clean."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _xyzw(q: np.ndarray) -> list[float]:
    return [float(q[1]), float(q[2]), float(q[3]), float(q[0])]


def _rotate(q_xyzw: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate v (3,) by quaternions (F, 4) in pybullet's x, y, z, w order → (F, 3)."""
    u, w = q_xyzw[:, :3], q_xyzw[:, 3:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


class HumanoidKinematics:
    """One pybullet DIRECT client with the DeepMimic humanoid loaded; reuse it for many motions."""

    def __init__(self) -> None:
        with _quiet_c_output():
            import pybullet
            import pybullet_data

            self._p = pybullet
            self._client = pybullet.connect(pybullet.DIRECT)
            pybullet.setAdditionalSearchPath(
                pybullet_data.getDataPath(), physicsClientId=self._client
            )
            self._body = pybullet.loadURDF(
                "humanoid/humanoid.urdf",
                globalScaling=SCALE,
                flags=pybullet.URDF_MAINTAIN_LINK_ORDER,
                physicsClientId=self._client,
            )

    def close(self) -> None:
        if self._client is not None:
            self._p.disconnect(physicsClientId=self._client)
            self._client = None

    def __enter__(self) -> HumanoidKinematics:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def link_frames(self, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Poses (F, 43) → link frame positions (F, 15, 3) and orientations (F, 15, 4) xyzw."""
        p, cid, body = self._p, self._client, self._body
        ids = [j for j, _ in JOINT_ORDER]
        positions = np.empty((len(poses), _NUM_LINKS, 3))
        orientations = np.empty((len(poses), _NUM_LINKS, 4))
        links = list(range(_NUM_LINKS))
        for f, pose in enumerate(poses):
            p.resetBasePositionAndOrientation(
                body, pose[:3].tolist(), _xyzw(pose[3:7]), physicsClientId=cid
            )
            values, at = [], 7
            for _, dof in JOINT_ORDER:
                values.append(_xyzw(pose[at : at + 4]) if dof == 4 else [float(pose[at])])
                at += dof
            p.resetJointStatesMultiDof(body, ids, values, physicsClientId=cid)
            states = p.getLinkStates(body, links, physicsClientId=cid)
            positions[f] = [s[4] for s in states]  # URDF link frame = the joint centre
            orientations[f] = [s[5] for s in states]
        return positions, orientations

    def body15(self, poses: np.ndarray) -> np.ndarray:
        """Poses (F, 43) → body15 joint positions (F, 15, 3) in metres, y up."""
        pos, rot = self.link_frames(poses)
        out = np.empty((len(poses), 15, 3))
        for b15, link in _LINKS.items():
            out[:, b15] = pos[:, link]
        out[:, 1] = (out[:, 2] + out[:, 5]) / 2  # neck = mid-shoulders
        out[:, 8] = (out[:, 9] + out[:, 12]) / 2  # mid_hip = mid-hips
        out[:, 0] = pos[:, _NECK_LINK] + _rotate(rot[:, _NECK_LINK], NOSE_OFFSET)
        return out


def yaw_of(quat_wxyz: np.ndarray) -> np.ndarray:
    """Heading angle (radians, about +y) of the rotated +x axis, for (..., 4) w-first quaternions."""
    w, x, y, z = np.moveaxis(quat_wxyz, -1, 0)
    fx = 1 - 2 * (y * y + z * z)  # rotated x axis, x and z components
    fz = 2 * (x * z - w * y)
    return np.arctan2(-fz, fx)


def rotate_about_y(points: np.ndarray, angle: float | np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Rotate (..., 3) points by `angle` (right-handed, about +y) around `origin` (3,)."""
    c, s = np.cos(angle), np.sin(angle)
    d = points - origin
    x = c * d[..., 0] + s * d[..., 2]
    z = -s * d[..., 0] + c * d[..., 2]
    return np.stack([x, d[..., 1], z], axis=-1) + origin


def motion_body15(
    kin: HumanoidKinematics, motion: Motion, rate: float, cycles: int = 1
) -> np.ndarray:
    """The motion posed at `rate` Hz as body15 (F, 15, 3). A looped motion is repeated `cycles`
    times (its seam closed first, see `close_cycle`), each cycle moved on by the travel of one."""
    if motion.loop and cycles > 1:
        motion = close_cycle(motion)
    poses = resample(motion, rate)
    joints = kin.body15(poses)
    if not motion.loop or cycles <= 1:
        return joints
    one = joints[:-1]  # the last sample starts the next cycle
    turn = float(yaw_of(poses[-1, 3:7]) - yaw_of(poses[0, 3:7]))
    start = poses[0, :3] * np.array([1.0, 0.0, 1.0])
    shift = (poses[-1, :3] - poses[0, :3]) * np.array([1.0, 0.0, 1.0])
    parts, current = [], one
    for _ in range(cycles):
        parts.append(current)
        # Next cycle: turn about this cycle's start, then move to where this cycle ended.
        current = rotate_about_y(current, turn, start) + shift
        start, shift = start + shift, rotate_about_y(shift, turn, np.zeros(3))
    return np.concatenate(parts + [current[:1]], axis=0)
