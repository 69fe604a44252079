"""relsar-data (not yet available)."""

import sys

from training.cli_common import not_yet_available, run_cli


def main(argv: list[str] | None = None) -> int:
    sys.exit(run_cli(not_yet_available("relsar-data"), argv))
