"""User-facing errors: each carries one clear line naming the file and the problem."""


class RelsarError(Exception):
    """A problem with the user's input (file, folder, config, model). Shown as one line, no traceback."""


class ClipError(RelsarError):
    """A skeleton clip file that cannot be used."""


class DataError(RelsarError):
    """A data-set folder that cannot be used."""


class ConfigError(RelsarError):
    """A config file with an unknown key, a wrong type or a bad value."""


class ModelFileError(RelsarError):
    """A model file (.keras, .tflite, .json, pose weights) that is missing or broken."""
