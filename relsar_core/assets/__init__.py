"""What the app ships: the default model (with its card and held-out results) and the demo clips.

They are package data, found with importlib.resources, so an installed wheel finds them exactly
as a checkout does (never a path built from ``__file__`` parents).
"""

from importlib.resources import files
from pathlib import Path


def asset_path(*parts: str) -> Path:
    """Path of a shipped file, e.g. ``asset_path("models", "default.tflite")``."""
    # Wheels install unzipped, so the resource is a real file on disk.
    return Path(str(files(__name__).joinpath(*parts)))


ASSETS_DIR = asset_path()
MODELS_DIR = ASSETS_DIR / "models"
DEFAULT_MODEL = MODELS_DIR / "default.tflite"
MODEL_CARD = MODELS_DIR / "MODEL_CARD.md"
DEMO_DIR = ASSETS_DIR / "demo"
