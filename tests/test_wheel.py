"""The wheel carries what the app needs: built from the tree, installed outside the checkout, the
headless app finds its default model and demo clips through importlib.resources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["models/default.tflite", "models/default.json", "models/MODEL_CARD.md", "demo/walk.npz"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy, so the checkout gets no build/ or egg-info; no network (no isolation).
    src = tmp_path_factory.mktemp("src")
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("relsar_core", "training", "app"):
        shutil.copytree(ROOT / name, src / name, ignore=junk)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    build = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_wheel_holds_the_default_model_and_demo_clips(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in SHIPPED:
        assert f"relsar_core/assets/{asset}" in names, asset
    demos = [n for n in names if n.startswith("relsar_core/assets/demo/") and n.endswith(".npz")]
    assert len(demos) == len(list((ROOT / "relsar_core/assets/demo").glob("*.npz")))
    assert not any(n.startswith(("tests/", "build/")) for n in names)


def test_installed_wheel_runs_the_headless_app_outside_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    # The dependencies come from this environment's site-packages (read as a plain path: its
    # .pth files, among them the editable install of the checkout, are not processed).
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--no-deps",
        "--no-index",
    ]
    subprocess.run([*pip, "--quiet", str(wheel)], check=True, timeout=300)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.check_output(
        [python, "-c", "import relsar_core.assets as a; print(a.DEFAULT_MODEL)"],
        cwd=elsewhere,
        env=env,
        text=True,
    ).strip()
    assert Path(where).is_file() and Path(where).is_relative_to(site), where
    demo = Path(where).parents[1] / "demo" / "walk.npz"
    out = elsewhere / "walk.jsonl"
    run = subprocess.run(
        [venv / "bin" / "relsar-app", "--headless", "--source", demo, "--out", out],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-1000:] + run.stderr[-2000:]
    labels = Counter(json.loads(line)["label"] for line in out.read_text().splitlines())
    assert sum(labels.values()) >= 30, labels
    # The packaged model names the packaged walk: walk is nearly every label it shows, and most
    # windows (the open-set gate may show "—" for some of this test-side view).
    shown = sum(n for label, n in labels.items() if label != "—")
    assert labels["walk"] / shown >= 0.9 and labels["walk"] / sum(labels.values()) >= 0.5, labels
