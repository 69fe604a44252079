"""relsar-models: fetch the pose models the app needs (not yet available beyond a no-op)."""

import sys

from training.cli_common import console


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["fetch", "default"]:
        console.print("relsar-models: the default backend needs no downloaded model yet.")
        sys.exit(0)
    console.print("relsar-models is not yet available in this version.")
    sys.exit(1)
