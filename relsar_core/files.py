"""Writing and checking files: atomic replacement, temp-file hygiene, SHA-256 digests, the one
reader of a JSON object file and why a NumPy file would not load, in words.

A temp file is named `.NAME.<host>-<pid>.<random>.tmp` beside its target: hidden (readers skip
dotfiles) and ending in `.tmp`, so no `*.npz` / `*.jsonl` glob picks up a half-written file
left by a kill. Writers that need the real suffix (Keras saves only to `*.keras`) pass
`keep_suffix=True` and get `….tmp.keras`; readers still skip it as a dotfile."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path

from relsar_core.errors import RelsarError, first_line

TEMP_MARK = ".tmp"
# A temp file of another machine (shards writing one shared folder) is only removed this old.
FOREIGN_TEMP_AGE_S = 3600.0


def _file_mode() -> int:
    """Permissions a plainly created file would get (mkstemp's are 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"
_TEMP = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[^.]+\.tmp(\.[^.]+)?$")


def is_hidden(path: str | os.PathLike) -> bool:
    """A dotfile (temp files, editor and OS litter): never data."""
    return Path(path).name.startswith(".")


def visible(paths, root: str | os.PathLike) -> list[Path]:
    """`paths` (listed inside the folder `root`) without hidden files or anything inside a
    hidden folder below `root`, sorted. Only the parts below `root` count: a user's
    `../data` or a data set kept under `~/.cache` is not hidden."""
    root = Path(root)

    def hidden(path: Path) -> bool:
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            parts = (path.name,)
        return any(part.startswith(".") for part in parts)

    return sorted(p for p in map(Path, paths) if not hidden(p))


def atomic_write(path: str | os.PathLike, write, keep_suffix: bool = False) -> None:
    """Call `write(tmp_path)` then rename into place, so readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{_HOST}-{os.getpid()}.",
        suffix=TEMP_MARK + (path.suffix if keep_suffix else ""),
        dir=path.parent,
    )
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike, recursive: bool = True) -> int:
    """Delete temp files left by killed writers under `folder`: this machine's whose process is
    gone, another machine's when older than an hour. Returns how many were removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.rglob(".*") if recursive else folder.glob(".*"):
        match = _TEMP.match(path.name)
        if not match or not path.is_file():
            continue
        if match["host"] == _HOST:
            stale = not _pid_alive(int(match["pid"]))
        else:
            stale = time.time() - path.stat().st_mtime > FOREIGN_TEMP_AGE_S
        if stale:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


NOT_JSON = "not valid JSON"


def numpy_file_problem(exc: BaseException, path: str | os.PathLike) -> str:
    """Why np.load(path, allow_pickle=False) failed, in one line. numpy calls every file that is
    neither .npy nor .npz "pickled" and advises loading it unsafely; say what the file is instead."""
    text = first_line(exc)
    if "Object arrays" in text:
        return "it holds Python object arrays, which are never loaded (they could run code)"
    if "pickle" in text:
        try:
            with open(path, "rb") as fh:
                head = fh.read(2)
        except OSError:
            head = b""
        if head[:1] == b"\x80":  # pickle protocol 2 and later
            return "it is a Python pickle, which is never loaded (it could run code)"
        return "not a NumPy .npy/.npz file"
    return text


def read_json_object(
    path: str | os.PathLike,
    error: type[RelsarError] = RelsarError,
    problem: str = NOT_JSON,
) -> dict:
    """The JSON object in `path`, or `error` with one line: "PATH: PROBLEM (what was wrong)" for
    a file that cannot be read or parsed, "PATH: expected a JSON object, found a JSON list" (and
    PROBLEM, when the caller names one) for valid JSON of another kind."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: {problem} ({first_line(exc)})") from None
    if not isinstance(data, dict):
        context = "" if problem == NOT_JSON else f" ({problem})"
        raise error(f"{path}: expected a JSON object, found a JSON {type(data).__name__}{context}")
    return data


def read_run_file(path: str | os.PathLike) -> dict:
    """A run folder's JSON object ({} when absent); a corrupt one is one clear RelsarError."""
    if not Path(path).is_file():
        return {}
    return read_json_object(path, problem="corrupt run file, cannot resume")


def trim_jsonl(path: str | os.PathLike, epoch: int) -> None:
    """Drop JSON lines whose "epoch" is past `epoch` (written by an epoch a kill kept from
    committing) and any half-written line; rewritten atomically."""
    path = Path(path)
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("epoch", 0) <= epoch:
            kept.append(line + "\n")
    write_text(path, "".join(kept))


def write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path: str | os.PathLike, data, indent: int = 2) -> None:
    write_text(path, json.dumps(data, indent=indent))


def _writable_parent(path: Path, what: str) -> None:
    """The nearest existing ancestor of `path` must be a folder we may write into."""
    from relsar_core.errors import RelsarError

    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise RelsarError(f"{what} {path}: cannot write there, {parent} is a file, not a folder")
    _probe_write(parent, path, what)


def _probe_write(folder: Path, path: Path, what: str) -> None:
    """Create and remove a file in `folder`: permission bits alone lie for root and for
    read-only or virtual file systems."""
    from relsar_core.errors import RelsarError

    try:
        fd, probe = tempfile.mkstemp(prefix=".relsar-write-test.", suffix=TEMP_MARK, dir=folder)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RelsarError(f"{what} {path}: cannot write in {folder} ({reason})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(path: str | os.PathLike, what: str = "--out") -> Path:
    """Before any work: `path` can be written as a file (not a folder, under a writable folder)."""
    from relsar_core.errors import RelsarError

    path = Path(path)
    if path.is_dir():
        raise RelsarError(f"{what} {path}: is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise RelsarError(f"{what} {path}: no permission to replace this file")
    _writable_parent(path, what)
    return path


def check_output_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """Before any work: `path` is (or can be created as) a folder we may write into."""
    from relsar_core.errors import RelsarError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RelsarError(f"{what} {path}: exists and is not a folder")
    if path.is_dir():
        _probe_write(path, path, what)
    else:
        _writable_parent(path, what)
    return path


def prepare_new_run(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """A folder for a new training run: refused when it already holds files (a run's history is
    never mixed or overwritten silently); with `overwrite` an old run folder is emptied first."""
    import shutil

    from relsar_core.errors import RelsarError

    path = check_output_dir(path)
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise RelsarError(
                f"--out {path}: already holds a run or other files; use --resume {path} to "
                "continue it or --overwrite to replace it"
            )
        if not (path / "run.json").is_file() and not (path / "config.yaml").is_file():
            raise RelsarError(f"--out {path}: not a run folder; not deleting it for --overwrite")
        shutil.rmtree(path)
    return path
