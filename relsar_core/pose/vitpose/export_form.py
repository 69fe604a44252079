"""The classic ViTPose head rewritten as MatMuls, for ONNX export and int8 quantization.

A ConvTranspose2d(kernel 4, stride 2, padding 1) maps input pixel i to output rows 2i − 1 + k
for its taps k = 0..3. Computing all 16 taps of every pixel is one MatMul (C_in × 16·C_out);
output row 2m then gathers tap 1 of input row m and tap 3 of row m − 1, and row 2m + 1 gathers
tap 2 of row m and tap 0 of row m + 1 (likewise for columns). The BatchNorm that follows is
folded into the weights and a bias. Same function as the original (within float rounding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from relsar_core.pose.vitpose.model import ViTPose


def _shift(z: torch.Tensor, dim: int, step: int) -> torch.Tensor:
    """out[m] = z[m − step] along `dim` (step ±1), zero where that falls outside."""
    pad = [0, 0] * (z.dim() - dim)
    pad[-2 if step > 0 else -1] = 1  # F.pad lists the last dim first
    n = z.shape[dim]
    trimmed = z.narrow(dim, 0, n - 1) if step > 0 else z.narrow(dim, 1, n - 1)
    return F.pad(trimmed, pad)


class MatMulDeconv(nn.Module):
    """ConvTranspose2d(k=4, s=2, p=1, no bias) + BatchNorm2d (eval) + ReLU, channels-last."""

    def __init__(self, deconv: nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> None:
        super().__init__()
        if deconv.kernel_size != (4, 4) or deconv.stride != (2, 2) or deconv.padding != (1, 1):
            raise ValueError("only the ViTPose deconvolution (kernel 4, stride 2, padding 1)")
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            weight = deconv.weight * scale[None, :, None, None]  # (C_in, C_out, ky, kx)
            c_in, c_out = weight.shape[:2]
            self.c_out = c_out
            self.weight = nn.Parameter(weight.permute(0, 2, 3, 1).reshape(c_in, 16 * c_out))
            self.bias = nn.Parameter(bn.bias - bn.running_mean * scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, W, C_in) → (B, 2H, 2W, C_out)
        b, h, w, _ = x.shape
        taps = (x @ self.weight).reshape(b, h, w, 4, 4, self.c_out)
        # Row phases: (B, H, W, kx, C) each.
        rows = (
            taps[:, :, :, 1] + _shift(taps[:, :, :, 3], 1, 1),
            taps[:, :, :, 2] + _shift(taps[:, :, :, 0], 1, -1),
        )
        phases = [
            torch.stack(
                (
                    r[:, :, :, 1] + _shift(r[:, :, :, 3], 2, 1),
                    r[:, :, :, 2] + _shift(r[:, :, :, 0], 2, -1),
                ),
                dim=3,
            )  # (B, H, W, px, C)
            for r in rows
        ]
        out = torch.stack(phases, dim=2)  # (B, H, py, W, px, C)
        out = out.reshape(b, 2 * h, 2 * w, self.c_out) + self.bias
        return torch.relu(out)


class MatMulHeadViTPose(nn.Module):
    """A classic-head ViTPose as backbone tokens → two MatMulDeconvs → MatMul, channels-last."""

    def __init__(self, model: ViTPose) -> None:
        super().__init__()
        head = model.keypoint_head
        self.backbone = model.backbone
        self.grid = model.config.grid
        self.up1 = MatMulDeconv(head.deconv_layers[0], head.deconv_layers[1])
        self.up2 = MatMulDeconv(head.deconv_layers[3], head.deconv_layers[4])
        final = head.final_layer  # 1×1 conv = a MatMul over channels
        self.final_weight = nn.Parameter(final.weight.detach()[:, :, 0, 0].t().contiguous())
        self.final_bias = nn.Parameter(final.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone.tokens(x)
        rows, cols = self.grid
        y = self.up2(self.up1(tokens.reshape(x.shape[0], rows, cols, -1)))
        heat = y @ self.final_weight + self.final_bias  # (B, 4·rows, 4·cols, joints)
        return heat.permute(0, 3, 1, 2)
