"""The docs cannot rot.

A fenced ```bash block right after `<!-- docs-test: run -->` (commands that take seconds on a
CPU) is run, line by line, in a fresh folder with the project's tools on PATH; each line must
exit 0. Every other `relsar-…` command line in a code block of any doc (camera, GPUs, several
machines, long runs; `<!-- docs-test: flags -->` marks such blocks for readers) is not run:
every `--flag` on it must appear in the `--help` of its command and subcommand."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"<!-- docs-test: (run) -->\s*\n```(?:bash|sh)\n(.*?)\n```", re.S)
BIN = Path(sys.executable).parent


def _blocks(kind: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for i, match in enumerate(BLOCK.finditer(doc.read_text())):
            if match.group(1) == kind:
                found.append((f"{doc.name}#{i + 1}", match.group(2)))
    return found


def _commands(block: str) -> list[str]:
    """Lines of a block, joining `\\` continuations and dropping comments."""
    text = block.replace("\\\n", " ")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def test_docs_have_runnable_and_checked_commands():
    assert _blocks("run") and len(_documented_commands()) > 20


@pytest.mark.parametrize("where, block", _blocks("run"), ids=[w for w, _ in _blocks("run")])
def test_documented_commands_run(where, block, tmp_path):
    for command in _commands(block):
        done = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=600,
            executable="/bin/bash",
        )
        assert done.returncode == 0, (
            f"{where}: `{command}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )


@functools.cache
def _help_text(words: tuple[str, ...]) -> str:
    done = subprocess.run(
        [*words, "--help"], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"`{' '.join(words)} --help` failed: {done.stderr[-1000:]}"
    return done.stdout


def _documented_commands() -> list[tuple[str, str]]:
    """(doc:line, command) for every `relsar-…` line inside a fenced or indented code block."""
    found = []
    for doc in DOCS:
        fenced = False
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if (fenced or line.startswith("    ")) and line.strip().startswith("relsar-"):
                found.append((f"{doc.name}:{number}", line.strip()))
    return found


@pytest.mark.parametrize(
    "where, command", _documented_commands(), ids=[w for w, _ in _documented_commands()]
)
def test_documented_flags_exist(where, command):
    words = command.split("#")[0].split()
    program = words[0]
    head = (program,)
    if (
        len(words) > 1
        and not words[1].startswith("-")
        and re.search(rf"^\s+{re.escape(words[1])}\b", _help_text(head), re.M)
    ):
        head = (program, words[1])
    text = _help_text(head)
    for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", command.split("#")[0]):
        assert flag in text, (
            f"{where}: `{command}` uses {flag}, which `{' '.join(head)} --help` does not know"
        )


def test_readme_layout_names_every_package_of_the_library():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    layout = text[text.index("## Layout") :].split("\n## ", 1)[0]
    named = set(re.findall(r"^\s{6}(\w+)/", layout, re.M))
    packages = {p.parent.name for p in (root / "relsar_core").glob("*/__init__.py")}
    assert named == packages
    for module in re.findall(r"\b(\w+)\.py\b", layout):
        assert (root / "relsar_core" / f"{module}.py").is_file(), module
