"""Pose estimators: frames in, skeletons out. Importing this package never imports TensorFlow."""

from relsar_core.pose.base import PoseEstimator, Skeleton

__all__ = ["PoseEstimator", "Skeleton"]
