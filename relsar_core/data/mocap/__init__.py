"""Motion capture → 2-D skeleton data sets, for the shipped default model.

DeepMimic's human motion-capture clips (shipped in the `pybullet_data` package) are posed on
their humanoid with pybullet's own forward kinematics (`kinematics`), mapped to body15,
varied in body proportions, speed and mirroring (`body`), seen through many virtual cameras
(`camera`), spoiled the way a pose estimator spoils skeletons (`estimator_noise`), and written
as train and test data sets that share no camera set-up and no motion segment (`generate`).

Importing this package does not import pybullet or TensorFlow; `kinematics` imports pybullet.
"""
