"""What every command-line tool shares: quiet TensorFlow, one-line errors, clean Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

console = Console(stderr=True, soft_wrap=True)


def quiet_tensorflow(load: bool = True) -> None:
    """Keep TensorFlow's start-up chatter (CUDA probing, oneDNN notices) off the terminal.

    TF 2.21 logs some lines before its log level applies, so with `load` the import and the
    device probe run with stderr pointed at /dev/null; later warnings and errors are shown as usual."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not load or "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the CUDA probe logs here, once
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run `main`; a user error (RelsarError) becomes one red line and exit code 2."""
    from relsar_core.errors import RelsarError

    try:
        return int(main(argv) or 0)
    except RelsarError as err:
        console.print(f"[bold red]error:[/] {err}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130


def add_overwrite_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (default: refuse, so no run is lost)",
    )


def read_run_info(run_dir: Path) -> dict:
    """RUN_DIR/run.json of a run to resume; a missing or corrupt one is one clear error."""
    from relsar_core.errors import RelsarError
    from relsar_core.files import read_run_file

    if not (run_dir / "run.json").is_file():
        raise RelsarError(f"{run_dir}: not a run folder to resume (no run.json)")
    read_run_file(run_dir / "state.json")  # checked now, not after the data is loaded
    return read_run_file(run_dir / "run.json")


def not_yet_available(tool: str) -> Callable[[list[str] | None], int]:
    def main(argv: list[str] | None = None) -> int:
        args = sys.argv[1:] if argv is None else argv
        if args and args[0] in ("-h", "--help"):
            print(f"usage: {tool} ...\n\n{tool} is not yet available in this version.")
            return 0
        console.print(f"{tool} is not yet available in this version.")
        return 1

    return main
