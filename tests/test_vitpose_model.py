"""ViTPose model and checkpoint loading: parity with Hugging Face transformers' independent
implementation, easy_ViTPose state-dict formats, and clear errors on bad files."""

from __future__ import annotations

import pytest
import torch

from relsar_core.errors import ModelFileError
from relsar_core.pose.vitpose.model import ViTPose, ViTPoseConfig, random_vitpose
from relsar_core.pose.vitpose.weights import infer_config, load_vitpose, read_state_dict

TINY = dict(embed_dim=64, depth=2, num_heads=4, num_joints=17)


def to_transformers(model: ViTPose):
    """The same weights in transformers' VitPoseForPoseEstimation (key names mapped by hand)."""
    from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation

    cfg = model.config
    hf_cfg = VitPoseConfig(
        backbone_config=VitPoseBackboneConfig(
            image_size=list(cfg.image_size),
            patch_size=[cfg.patch_size] * 2,
            hidden_size=cfg.embed_dim,
            num_hidden_layers=cfg.depth,
            num_attention_heads=cfg.num_heads,
            mlp_ratio=int(cfg.mlp_ratio),
            layer_norm_eps=1e-6,
            qkv_bias=True,
            hidden_act="gelu",
            out_indices=[cfg.depth],
        ),
        num_labels=cfg.num_joints,
        use_simple_decoder=cfg.head == "simple",
        scale_factor=4,
    )
    hf = VitPoseForPoseEstimation(hf_cfg).eval()
    src = model.state_dict()
    out = {
        "backbone.embeddings.patch_embeddings.projection.weight": src[
            "backbone.patch_embed.proj.weight"
        ],
        "backbone.embeddings.patch_embeddings.projection.bias": src[
            "backbone.patch_embed.proj.bias"
        ],
        "backbone.embeddings.position_embeddings": src["backbone.pos_embed"],
        "backbone.layernorm.weight": src["backbone.last_norm.weight"],
        "backbone.layernorm.bias": src["backbone.last_norm.bias"],
    }
    for i in range(cfg.depth):
        ours, theirs = f"backbone.blocks.{i}.", f"backbone.encoder.layer.{i}."
        for kind in ("weight", "bias"):
            q, k, v = src[ours + f"attn.qkv.{kind}"].chunk(3, dim=0)
            out[theirs + f"attention.attention.query.{kind}"] = q
            out[theirs + f"attention.attention.key.{kind}"] = k
            out[theirs + f"attention.attention.value.{kind}"] = v
            out[theirs + f"attention.output.dense.{kind}"] = src[ours + f"attn.proj.{kind}"]
            out[theirs + f"layernorm_before.{kind}"] = src[ours + f"norm1.{kind}"]
            out[theirs + f"layernorm_after.{kind}"] = src[ours + f"norm2.{kind}"]
            out[theirs + f"mlp.fc1.{kind}"] = src[ours + f"mlp.fc1.{kind}"]
            out[theirs + f"mlp.fc2.{kind}"] = src[ours + f"mlp.fc2.{kind}"]
    head = "keypoint_head."
    out["head.conv.weight"] = src[head + "final_layer.weight"]
    out["head.conv.bias"] = src[head + "final_layer.bias"]
    if cfg.head == "classic":
        out["head.deconv1.weight"] = src[head + "deconv_layers.0.weight"]
        out["head.deconv2.weight"] = src[head + "deconv_layers.3.weight"]
        for ours, theirs in (("1", "batchnorm1"), ("4", "batchnorm2")):
            for part in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                out[f"head.{theirs}.{part}"] = src[f"{head}deconv_layers.{ours}.{part}"]
    result = hf.load_state_dict(out, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return hf


@pytest.mark.parametrize("head", ["classic", "simple"])
def test_heatmaps_match_transformers_vitpose(head):
    model = random_vitpose(ViTPoseConfig(**TINY, head=head), seed=1)
    hf = to_transformers(model)
    x = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model(x)
        theirs = hf(pixel_values=x).heatmaps
    assert ours.shape == (2, 17, 64, 48) == theirs.shape
    assert ours.abs().max() > 0.05  # random weights that actually produce a signal
    assert torch.allclose(ours, theirs, atol=1e-4, rtol=0), (ours - theirs).abs().max()


def _save(path, state, wrap: bool, prefix: str) -> None:
    state = {prefix + k: v for k, v in state.items()}
    torch.save({"state_dict": state, "meta": {"epoch": 210}} if wrap else state, path)


def zeros_state(size: str, joints: int) -> dict[str, torch.Tensor]:
    """A full-size state dict without initialising a model (fast): shapes from meta tensors."""
    with torch.device("meta"):
        shapes = ViTPose(ViTPoseConfig.for_size(size, num_joints=joints)).state_dict()
    return {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in shapes.items()}


def test_easy_vitpose_checkpoint_loads_with_inferred_size(tmp_path):
    model = random_vitpose(ViTPoseConfig.for_size("s", num_joints=25), seed=2)
    path = tmp_path / "ckpt.pth"
    _save(path, model.state_dict(), wrap=True, prefix="module.")
    loaded = load_vitpose(path)
    cfg = loaded.config
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.num_joints, cfg.head) == (
        384,
        12,
        12,
        25,
        "classic",
    )
    assert cfg.size_name == "s" and not loaded.training
    ours = loaded.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in model.state_dict().items())  # every tensor
    x = torch.randn(1, 3, 256, 192)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_bare_coco17_state_dict_loads(tmp_path):
    state = zeros_state("s", 17)
    state["keypoint_head.final_layer.bias"] = torch.arange(17, dtype=torch.float32)
    path = tmp_path / "bare.pth"
    _save(path, state, wrap=False, prefix="")
    loaded = load_vitpose(path)
    assert loaded.config.num_joints == 17
    assert torch.equal(loaded.keypoint_head.final_layer.bias, torch.arange(17, dtype=torch.float32))


@pytest.mark.parametrize("size", ["b", "l", "h"])
def test_infer_config_recognises_every_size(size):
    # Shapes only (meta tensors): building real ViTPose-H weights would take seconds and GBs.
    with torch.device("meta"):
        state = ViTPose(ViTPoseConfig.for_size(size, num_joints=17, head="simple")).state_dict()
    cfg = infer_config(state)
    assert cfg == ViTPoseConfig.for_size(size, num_joints=17, head="simple")


def test_bad_checkpoints_raise_one_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        read_state_dict(tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ModelFileError, match="garbage.pth: not a readable PyTorch checkpoint"):
        read_state_dict(garbage)
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match="resnet.pth: not an easy_ViTPose"):
        load_vitpose(other)
    wrong = tmp_path / "hand21.pth"
    torch.save(zeros_state("s", 21), wrong)
    with pytest.raises(ModelFileError, match="21 joints"):
        load_vitpose(wrong)
    state = zeros_state("s", 25)
    del state["backbone.blocks.3.mlp.fc1.weight"]
    partial = tmp_path / "partial.pth"
    torch.save(state, partial)
    with pytest.raises(ModelFileError, match="lacks 1 tensors"):
        load_vitpose(partial)


def test_vitpose_plus_moe_checkpoint_loads_as_its_coco_expert(tmp_path):
    """ViTPose+ keeps the last P outputs of each block's fc2 per data set (experts); split a
    known model that way, add other experts and heads, and the merge must give it back."""
    model = random_vitpose(ViTPoseConfig.for_size("s", num_joints=17), seed=7)
    part = 192
    moe = {}
    for key, value in model.state_dict().items():
        if ".mlp.fc2." in key:
            prefix, kind = key.rsplit(".mlp.fc2.", 1)
            moe[key] = value[:-part]
            moe[f"{prefix}.mlp.experts.0.{kind}"] = value[-part:]
            for other in range(1, 6):  # AIC, MPII, AP-10K, APT-36K, WholeBody
                moe[f"{prefix}.mlp.experts.{other}.{kind}"] = torch.randn_like(value[-part:])
        else:
            moe[key] = value
    moe["associate_keypoint_heads.0.final_layer.weight"] = torch.zeros(14, 256, 1, 1)
    path = tmp_path / "vitpose+_small.pth"
    torch.save({"state_dict": moe}, path)
    loaded = load_vitpose(path)
    assert loaded.config.num_joints == 17
    ours = loaded.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in model.state_dict().items())
