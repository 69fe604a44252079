"""What every command-line entry point shares (the training tools and `relsar-app`): one stderr
console, one-line errors with exit code 2, a clean Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from relsar_core.errors import RelsarError

console = Console(stderr=True, soft_wrap=True)


def warn(message: str) -> None:
    """One yellow warning line; the message is printed as it is (a path's "[x]" is no markup)."""
    console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


def given_flags(args, dests, parser=None) -> list[str]:
    """The `--flag` spellings of those `dests` that were given: their value is not the default
    (`parser`'s, else None), for naming the flags that do not apply instead of dropping them."""
    return [
        "--" + dest.replace("_", "-")
        for dest in dests
        if getattr(args, dest, None) != (parser.get_default(dest) if parser else None)
    ]


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run `main`; a user error (RelsarError) becomes one red line and exit code 2."""
    try:
        return int(main(argv) or 0)
    except RelsarError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
