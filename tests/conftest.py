import os

# Before Qt or TensorFlow load: offscreen Qt, quiet TF, CPU only.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

from relsar_core.synthetic import make_toy_dataset  # noqa: E402


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory):
    """A separable toy data set of 5 classes × 12 clips × 60 frames, made once per session."""
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), clips_per_class=12, frames=60, seed=0)
