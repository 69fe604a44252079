"""Which clips are the same clip across runs and folders, and the one check that a test folder
shares none of them with the clips a model (or its pre-training) learnt from."""

from __future__ import annotations

import os

from relsar_core.errors import DataError


def clip_key(path: str | os.PathLike) -> str:
    """A clip's identity across runs: its real path (and the #video suffix of an upstream file)."""
    file, sep, part = str(path).partition("#")
    return os.path.realpath(file) + sep + part


def refuse_overlap(test_data: str | os.PathLike, learnt, tested, role: str) -> None:
    """DataError when any clip of `tested` (from the folder `test_data`) is one of `learnt`, the
    `role` clips ("training", "pre-training"): a test folder must be kept out of --data."""
    seen = sorted({clip_key(p) for p in learnt} & {clip_key(p) for p in tested})
    if seen:
        raise DataError(
            f"{test_data}: {len(seen)} test clip(s) are also {role} clips, e.g. {seen[0]}; "
            "keep the test folder out of --data"
        )
