"""easy_ViTPose checkpoints: load a `.pth` (any size, coco_25 or coco17 head) and fetch one.

The size (embed dim, depth) and the joint count are read from the state dict itself, so a file
needs no name convention. `fetch_vitpose` downloads from easy_ViTPose's public model hub repo
where the network allows; elsewhere it fails at once, saying where to put a file obtained by
other means.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from relsar_core.errors import ModelFileError, first_line
from relsar_core.pose.model_store import models_dir
from relsar_core.pose.vitpose.config import LAYOUT_BY_JOINTS, SIZES, ViTPoseConfig

if TYPE_CHECKING:  # PyTorch loads only when a checkpoint is read: file look-ups stay light
    import torch

    from relsar_core.pose.vitpose.model import ViTPose

HUB_REPO = "JunkyByte/easy_ViTPose"
DATASETS = {"coco_25": 25, "coco": 17}  # easy_ViTPose's folder name → joints
_BLOCK = re.compile(r"backbone\.blocks\.(\d+)\.")


def vitpose_dir() -> Path:
    """Where ViTPose checkpoints live: `<models folder>/vitpose/` (see relsar_core.pose.model_store)."""
    return models_dir() / "vitpose"


def checkpoint_filename(size: str, dataset: str = "coco_25") -> str:
    return f"vitpose-{size}-{dataset}.pth"


def find_local_vitpose(folder: Path | None = None) -> Path | None:
    """The first easy_ViTPose checkpoint in the models folder (smallest size first), if any."""
    folder = vitpose_dir() if folder is None else folder
    for size in ("s", "b", "l", "h"):
        for dataset in DATASETS:
            path = folder / checkpoint_filename(size, dataset)
            if path.is_file():
                return path
    return None


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The model's tensors from an easy_ViTPose / mmpose `.pth`: `{'state_dict': ...}` or bare,
    `module.` prefixes (DataParallel) stripped. Loaded with weights_only=True: no pickled code."""
    # PyTorch through vitpose_model: it sets OpenMP's wait policy before PyTorch loads.
    from relsar_core.pose.vitpose.model import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: ViTPose weights file not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated download, a zip that is no checkpoint, pickled code
        first = first_line(err, 160)
        raise ModelFileError(f"{path}: not a readable PyTorch checkpoint ({first})") from None
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        ckpt = ckpt["state_dict"]
    if not isinstance(ckpt, dict) or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise ModelFileError(f"{path}: expected a state dict of tensors (or {{'state_dict': ...}})")
    return {k.removeprefix("module."): v for k, v in ckpt.items()}


def merge_experts(state: dict[str, torch.Tensor], expert: int = 0) -> dict[str, torch.Tensor]:
    """A ViTPose+ (mixture-of-experts) state dict as the plain ViTPose of one data set.

    ViTPose+ splits each block's second MLP layer: a shared `fc2` gives the first C − P output
    features and expert i (one per training data set; 0 = COCO) the last P, concatenated. For
    one data set that is a single `fc2` with the expert's rows appended. `keypoint_head` is
    COCO's head; the other data sets' heads (`associate_keypoint_heads.*`) are left out.
    A plain state dict is returned as it is."""
    from relsar_core.pose.vitpose.model import torch

    if not any(".mlp.experts." in k for k in state):
        return state
    out = {}
    for key, value in state.items():
        if ".mlp.experts." in key or key.startswith("associate_keypoint_heads."):
            continue
        if ".mlp.fc2." in key:
            prefix, kind = key.rsplit(".mlp.fc2.", 1)
            part = state.get(f"{prefix}.mlp.experts.{expert}.{kind}")
            if part is None:
                raise ModelFileError(f"ViTPose+ checkpoint has no expert {expert} for {prefix}")
            value = torch.cat([value, part], dim=0)
        out[key] = value
    return out


def infer_config(state: dict[str, torch.Tensor], source: str = "checkpoint") -> ViTPoseConfig:
    """Size, depth, head kind and joint count of a ViTPose state dict."""
    try:
        embed_dim = int(state["backbone.patch_embed.proj.weight"].shape[0])
        num_joints = int(state["keypoint_head.final_layer.weight"].shape[0])
    except KeyError as err:
        raise ModelFileError(
            f"{source}: not an easy_ViTPose/mmpose ViTPose checkpoint (no {err.args[0]!r})"
        ) from None
    if any(".mlp.experts." in k for k in state):
        raise ModelFileError(f"{source}: mixture-of-experts tensors left: merge_experts() first")
    depth = 1 + max((int(m.group(1)) for k in state if (m := _BLOCK.match(k))), default=-1)
    if embed_dim not in SIZES or depth != SIZES[embed_dim][1]:
        raise ModelFileError(
            f"{source}: embed dim {embed_dim} with {depth} blocks is not ViTPose-S/B/L/H"
        )
    if num_joints not in LAYOUT_BY_JOINTS:
        raise ModelFileError(
            f"{source}: head has {num_joints} joints; supported are 25 (coco_25) and 17 (coco)"
        )
    head = "classic" if "keypoint_head.deconv_layers.0.weight" in state else "simple"
    return ViTPoseConfig(embed_dim, depth, SIZES[embed_dim][2], num_joints, head=head)


def load_vitpose(path: str | os.PathLike) -> ViTPose:
    """A ViTPose in eval mode with the checkpoint's weights, every tensor matched exactly."""
    from relsar_core.pose.vitpose.model import ViTPose

    state = merge_experts(read_state_dict(path))  # ViTPose+ files: the COCO expert
    model = ViTPose(infer_config(state, str(path)))
    result = model.load_state_dict(state, strict=False)
    # Loss-function buffers and the like may ride along; missing model tensors may not.
    if result.missing_keys:
        shown = ", ".join(result.missing_keys[:3])
        raise ModelFileError(
            f"{path}: checkpoint lacks {len(result.missing_keys)} tensors ({shown} ...)"
        )
    return model.eval()


def fetch_vitpose(size: str, dataset: str = "coco_25", dest: Path | None = None) -> Path:
    """Download easy_ViTPose's `vitpose-<size>-<dataset>.pth` into the models folder.

    Fails at once (no long network timeout) where the hub cannot be reached, naming the file
    and the folder to put it in by hand."""
    size = size.lower()
    if size not in {name for name, _, _ in SIZES.values()}:
        raise ModelFileError(f"unknown ViTPose size {size!r} (known: s, b, l, h)")
    if dataset not in DATASETS:
        raise ModelFileError(f"unknown ViTPose data set {dataset!r} (known: {', '.join(DATASETS)})")
    folder = vitpose_dir() if dest is None else Path(dest)
    name = checkpoint_filename(size, dataset)
    target = folder / name
    if target.is_file():
        return target
    remote = f"torch/{dataset}/{name}"
    manual = (
        f"download {remote} from the Hugging Face repo {HUB_REPO} on a machine with access and "
        f"put it at {target} (or pass its path with --pose-weights)"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        raise ModelFileError(
            f"HF_HUB_OFFLINE is set, so ViTPose-{size.upper()} cannot be fetched: {manual}"
        )
    # huggingface_hub reads this at import: a short timeout, so a blocked network fails fast.
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise ModelFileError(
            f"huggingface_hub is not installed (pip install huggingface_hub): {manual}"
        ) from None
    unreachable = _unreachable_reason()
    if unreachable:
        raise ModelFileError(f"cannot reach the model hub ({unreachable}): {manual}")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        downloaded = Path(hf_hub_download(HUB_REPO, remote, local_dir=folder / ".hub"))
    except Exception as err:  # offline, DNS, proxy, 404: all mean "get it by hand"
        reason = type(err).__name__
        raise ModelFileError(
            f"could not download ViTPose-{size.upper()} ({reason}): {manual}"
        ) from None
    tmp = target.with_suffix(".part")
    os.replace(downloaded, tmp)  # same folder tree: a rename, no copy of a multi-GB file
    try:
        infer_config(read_state_dict(tmp), str(tmp))  # a download that is no checkpoint never lands
    except ModelFileError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return target


def _unreachable_reason(timeout_s: float = 3.0) -> str | None:
    """Why the hub cannot be reached (name lookup or TCP connect), or None if it can. A quick
    check first, because huggingface_hub retries for half a minute before giving up."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = (
        url.hostname or "huggingface.co",
        url.port or (443 if url.scheme == "https" else 80),
    )
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as err:
        return f"{host}: {err.strerror or type(err).__name__}"
