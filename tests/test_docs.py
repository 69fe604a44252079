"""The docs cannot rot: shell blocks marked in the Markdown are run or checked here.

A fenced ```bash block right after `<!-- docs-test: run -->` is run, line by line, in a fresh
folder with the project's tools on PATH; each line must exit 0. A block after
`<!-- docs-test: flags -->` (camera, GPUs, several machines, long runs) is not run: every
`--flag` on each line must appear in the `--help` of its command and subcommand."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"<!-- docs-test: (run|flags) -->\s*\n```(?:bash|sh)\n(.*?)\n```", re.S)
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


def test_docs_have_marked_blocks():
    assert _blocks("run") and _blocks("flags")


@pytest.mark.parametrize("where, block", _blocks("run"), ids=[w for w, _ in _blocks("run")])
def test_documented_commands_run(where, block, tmp_path):
    for command in _commands(block):
        done = subprocess.run(command, shell=True, cwd=tmp_path, env=_env(), capture_output=True,
                              text=True, timeout=600, executable="/bin/bash")  # fmt: skip
        assert done.returncode == 0, f"{where}: `{command}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def _help(words: list[str]) -> str:
    done = subprocess.run([*words, "--help"], env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"`{' '.join(words)} --help` failed: {done.stderr[-1000:]}"
    return done.stdout


@pytest.mark.parametrize("where, block", _blocks("flags"), ids=[w for w, _ in _blocks("flags")])
def test_documented_flags_exist(where, block):
    for command in _commands(block):
        words = shlex.split(command)
        words = words[words.index("--") + 1 :] if "--" in words else words
        while words and ("=" in words[0] and not words[0].startswith("-")):  # VAR=value prefixes
            words = words[1:]
        program = words[0]
        if not program.startswith("relsar-"):
            continue
        head = [program]
        if len(words) > 1 and not words[1].startswith("-") and re.search(
            rf"^\s+{re.escape(words[1])}\b", _help([program]), re.M
        ):
            head.append(words[1])
        text = _help(head)
        for flag in (w.split("=")[0] for w in words if w.startswith("--")):
            assert flag in text, f"{where}: `{command}` uses {flag}, which `{' '.join(head)} --help` does not know"
