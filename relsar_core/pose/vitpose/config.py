"""ViTPose sizes and configuration: plain data, importable without PyTorch (the ONNX path and
the file look-ups never load it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# The four ViTPose sizes: embed dim → (name, depth, heads). Heads are not in a state dict.
SIZES: dict[int, tuple[str, int, int]] = {
    384: ("s", 12, 12),
    768: ("b", 12, 12),
    1024: ("l", 24, 16),
    1280: ("h", 32, 16),
}
INPUT_SIZE = (256, 192)  # (height, width) of the model input
RUNTIMES = ("torch", "onnx")  # what runs the checkpoint: PyTorch, or ONNX Runtime (exported once)
PATCH = 16


@dataclass(frozen=True)
class ViTPoseConfig:
    embed_dim: int = 384
    depth: int = 12
    num_heads: int = 12
    num_joints: int = 25
    mlp_ratio: float = 4.0
    head: str = "classic"  # "classic" (deconv, easy_ViTPose) or "simple" (ViTPose paper)
    image_size: tuple[int, int] = INPUT_SIZE  # (height, width)
    patch_size: int = PATCH

    @property
    def size_name(self) -> str:
        return SIZES.get(self.embed_dim, ("custom",))[0]

    @property
    def grid(self) -> tuple[int, int]:
        """Token grid (rows, cols); the patch conv pads by 2, as in ViTPose."""
        h, w = self.image_size
        p = self.patch_size
        return (h + 4 - p) // p + 1, (w + 4 - p) // p + 1

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(height, width) of the output heatmaps: 4× the token grid for both heads."""
        rows, cols = self.grid
        return rows * 4, cols * 4

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def for_size(cls, size: str, num_joints: int = 25, head: str = "classic") -> ViTPoseConfig:
        """The standard config of ViTPose-S/B/L/H ('s', 'b', 'l' or 'h')."""
        for dim, (name, depth, heads) in SIZES.items():
            if name == size.lower():
                return cls(dim, depth, heads, num_joints, head=head)
        raise ValueError(f"unknown ViTPose size {size!r} (known: s, b, l, h)")


# Joint count of a checkpoint's head → skeleton layout (relsar_core.skeleton.layouts).
LAYOUT_BY_JOINTS = {25: "coco25", 17: "coco17"}
