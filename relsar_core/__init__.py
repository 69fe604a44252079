"""ReL-SAR Live core library: skeletons, features, model, training, runtime and pose.

Submodules are imported on demand so that the runtime and pose parts never pull in TensorFlow.
"""

__version__ = "0.1.0"
