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


def first_line(exc: BaseException, limit: int | None = None, default: str | None = None) -> str:
    """The first non-blank line of an exception's message (libraries often add pages of detail),
    cut to `limit` characters; `default` (else the exception's type name) when it has none."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else (type(exc).__name__ if default is None else default)
    return text if limit is None else text[:limit]
