"""ViTPose in PyTorch: a plain ViT backbone and the top-down heatmap head of easy_ViTPose / mmpose.

Module names follow easy_ViTPose exactly (`backbone.patch_embed.proj`, `backbone.blocks.N.attn.qkv`,
`keypoint_head.deconv_layers.K`, `keypoint_head.final_layer`, ...) so its `.pth` state dicts load
without renaming. easy_ViTPose's published checkpoints use the classic head (two stride-2 4×4
deconvolutions with BatchNorm + ReLU, then a 1×1 conv); the simple head of the ViTPose paper
(ReLU, 4× bilinear upsampling, 3×3 conv) is supported too.
"""

from __future__ import annotations

import os

# Before PyTorch loads its OpenMP runtime: idle OpenMP threads sleep instead of spinning. On a
# busy 2-core machine spinning threads starve each other; measured here under load, ViTPose-S
# forward with 2 threads took 970 ms p50 spinning vs 119 ms passive. A user's setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from relsar_core.pose.vitpose.config import SIZES, ViTPoseConfig  # noqa: E402, F401 (re-export)

DECONV_FILTERS = 256  # channels of the classic head's deconvolutions


class PatchEmbed(nn.Module):
    def __init__(self, cfg: ViTPoseConfig) -> None:
        super().__init__()
        p = cfg.patch_size
        self.proj = nn.Conv2d(3, cfg.embed_dim, kernel_size=p, stride=p, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, tokens, C)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = (
            self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        )
        q, k, v = qkv[0], qkv[1], qkv[2]
        # Written out (not scaled_dot_product_attention) so ONNX export gives plain MatMuls that
        # ONNX Runtime's int8 quantizer can handle.
        attn = (q * (c // self.num_heads) ** -0.5) @ k.transpose(-2, -1)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: ViTPoseConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.embed_dim, eps=1e-6)
        self.attn = Attention(cfg.embed_dim, cfg.num_heads)
        self.norm2 = nn.LayerNorm(cfg.embed_dim, eps=1e-6)
        self.mlp = Mlp(cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTBackbone(nn.Module):
    def __init__(self, cfg: ViTPoseConfig) -> None:
        super().__init__()
        self.grid = cfg.grid
        self.patch_embed = PatchEmbed(cfg)
        # One extra position for the class token of MAE pre-training; ViTPose adds it to all.
        num_patches = (cfg.image_size[0] // cfg.patch_size) * (cfg.image_size[1] // cfg.patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, cfg.embed_dim))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.last_norm = nn.LayerNorm(cfg.embed_dim, eps=1e-6)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, rows·cols, C) normalised tokens, row-major: already an NHWC feature map."""
        x = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        for block in self.blocks:
            x = block(x)
        return self.last_norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.tokens(x)
        rows, cols = self.grid
        return x.transpose(1, 2).reshape(x.shape[0], -1, rows, cols)


class HeatmapHead(nn.Module):
    """mmpose's TopdownHeatmapSimpleHead as configured by easy_ViTPose (classic), or the simple head."""

    def __init__(self, cfg: ViTPoseConfig) -> None:
        super().__init__()
        self.kind = cfg.head
        if cfg.head == "classic":
            self.deconv_layers = nn.Sequential(
                nn.ConvTranspose2d(cfg.embed_dim, DECONV_FILTERS, 4, 2, 1, bias=False),
                nn.BatchNorm2d(DECONV_FILTERS),
                nn.ReLU(inplace=True),
                nn.ConvTranspose2d(DECONV_FILTERS, DECONV_FILTERS, 4, 2, 1, bias=False),
                nn.BatchNorm2d(DECONV_FILTERS),
                nn.ReLU(inplace=True),
            )
            self.final_layer = nn.Conv2d(DECONV_FILTERS, cfg.num_joints, 1)
        elif cfg.head == "simple":
            self.final_layer = nn.Conv2d(cfg.embed_dim, cfg.num_joints, 3, padding=1)
        else:
            raise ValueError(f"unknown ViTPose head {cfg.head!r} (classic or simple)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "classic":
            return self.final_layer(self.deconv_layers(x))
        x = F.interpolate(F.relu(x), scale_factor=4, mode="bilinear", align_corners=False)
        return self.final_layer(x)


class ViTPose(nn.Module):
    """(B, 3, 256, 192) ImageNet-normalised RGB → (B, joints, 64, 48) heatmaps."""

    def __init__(self, cfg: ViTPoseConfig) -> None:
        super().__init__()
        self.config = cfg
        self.backbone = ViTBackbone(cfg)
        self.keypoint_head = HeatmapHead(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.keypoint_head(self.backbone(x))


def random_vitpose(cfg: ViTPoseConfig, seed: int = 0) -> ViTPose:
    """A ViTPose with random weights in eval mode (speed tests, format tests): weights, biases,
    norms and BatchNorm statistics all random, so nothing is trivially zero or one."""
    gen = torch.Generator().manual_seed(seed)
    model = ViTPose(cfg)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.dtype != torch.float32:
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            elif name.endswith(".weight") and tensor.ndim == 1:  # norms: around one
                tensor.copy_(1 + 0.1 * torch.randn(tensor.shape, generator=gen))
            else:
                fan_in = tensor[0].numel() if tensor.ndim > 1 else 50
                tensor.copy_(torch.randn(tensor.shape, generator=gen) / fan_in**0.5)
    return model.eval()
