"""relsar-models: fetch, list and locate the pose models and sample media the tools use."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from relsar_core.cli import console, run_cli

VITPOSE_SIZES = ("s", "b", "l", "h")
# `default` is what `make app` / `make test` fetch: only PyPI, so it works wherever pip does.
GROUPS = {"default": ("blazepose",), "all": ("blazepose", "sample-video")}


def _names() -> list[str]:
    from relsar_core.pose.model_store import BUNDLES

    return [*GROUPS, *BUNDLES, *(f"vitpose-{s}" for s in VITPOSE_SIZES)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relsar-models",
        description="Pose models and sample media, fetched from package registries (PyPI, Debian), "
        "SHA-256 checked, kept in $RELSAR_MODELS_DIR or ~/.cache/relsar/models.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser(
        "fetch",
        help="download and install models",
        description="default = blazepose (from the mediapipe 0.10.14 wheel on PyPI); "
        "sample-video = OpenCV's vtest.avi + messi5.jpg (Debian package opencv-doc, via apt-get); "
        "all = both; vitpose-s|b|l|h = an easy_ViTPose checkpoint (Hugging Face hub, where the "
        "network allows).",
    )
    f.add_argument(
        "names", nargs="+", metavar="NAME", help=f"one or more of: {', '.join(_names())}"
    )
    f.add_argument("--force", action="store_true", help="download again even if present and valid")
    f.add_argument(
        "--dir", type=Path, help="models folder (default: $RELSAR_MODELS_DIR or the user cache)"
    )
    ls = sub.add_parser("list", help="show each model, whether it is installed and where")
    ls.add_argument("--dir", type=Path, help="models folder to inspect")
    path = sub.add_parser(
        "path",
        help="print the folder of a bundle or of the ViTPose checkpoints (or the models folder)",
    )
    path.add_argument(
        "name",
        nargs="?",
        help="blazepose, sample-video or vitpose-s|b|l|h; omit for the models folder",
    )
    path.add_argument("--dir", type=Path, help="models folder")
    return p


def _fetch(names: list[str], root: Path | None, force: bool) -> None:
    from relsar_core.errors import ConfigError
    from relsar_core.pose.model_store import BUNDLES, fetch_bundle

    expanded: list[str] = []
    for name in names:
        for item in GROUPS.get(name, (name,)):
            if item not in expanded:
                expanded.append(item)
    unknown = [
        n for n in expanded if n not in BUNDLES and n.removeprefix("vitpose-") not in VITPOSE_SIZES
    ]
    if unknown:
        raise ConfigError(f"unknown model name {unknown[0]!r} (choose from {', '.join(_names())})")
    for name in expanded:
        if name in BUNDLES:
            with console.status(f"fetching {name} …"):
                fetch_bundle(BUNDLES[name], root, force=force, log=console.print)
        else:
            from relsar_core.pose.vitpose.weights import fetch_vitpose

            with console.status(f"fetching {name} …"):
                dest = None if root is None else root / "vitpose"
                path = fetch_vitpose(name.removeprefix("vitpose-"), dest=dest)
            console.print(f"{name}: {path}", markup=False)


def _list(root: Path | None) -> None:
    from relsar_core.pose.model_store import BUNDLES, bundle_dir, missing_files, models_dir

    table = Table(title=f"models in {root or models_dir()}")
    for col in ("name", "status", "path", "what"):
        table.add_column(col, overflow="fold")
    for bundle in BUNDLES.values():
        bad = missing_files(bundle, root)
        status = "[green]ok[/]" if not bad else f"[red]missing/invalid: {', '.join(bad)}[/]"
        table.add_row(bundle.name, status, str(bundle_dir(bundle, root)), bundle.description)
    folder = (root or models_dir()) / "vitpose"  # relsar_core.pose.vitpose.weights.vitpose_dir
    for size in VITPOSE_SIZES:
        found = sorted(folder.glob(f"vitpose-{size}-*.pth"))
        status = "[green]ok[/]" if found else "not fetched"
        table.add_row(
            f"vitpose-{size}", status, str(found[0] if found else folder), "easy_ViTPose checkpoint"
        )
    Console(soft_wrap=True).print(table)  # stdout: `relsar-models list | grep vitpose`


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "fetch":
        _fetch(args.names, args.dir, args.force)
    elif args.command == "list":
        _list(args.dir)
    else:
        from relsar_core.errors import ConfigError
        from relsar_core.pose.model_store import BUNDLES, bundle_dir, models_dir

        if args.name is None:
            print(args.dir or models_dir())
        elif args.name in BUNDLES:
            print(bundle_dir(BUNDLES[args.name], args.dir))
        elif args.name.removeprefix("vitpose-") in VITPOSE_SIZES:
            print((args.dir or models_dir()) / "vitpose")  # where `list` looks for checkpoints
        else:
            names = [*BUNDLES, *(f"vitpose-{s}" for s in VITPOSE_SIZES)]
            raise ConfigError(f"unknown bundle {args.name!r} (choose from {', '.join(names)})")
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(_main, argv))
