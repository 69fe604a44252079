"""Run configs: YAML validated by pydantic models that reject unknown keys and wrong types."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from relsar_core.errors import ConfigError, first_line

CONFIG_DIR = Path(__file__).resolve().parent.parent / "training" / "configs"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ModelSizeName = Literal["base", "small", "micro", "tiny"]
MODEL_SIZES: tuple[str, ...] = get_args(ModelSizeName)  # presets: relsar_core.train.model.PRESETS
# tf.distribute strategies (relsar_core.train.distribute builds them; relsar-train --strategy).
StrategyName = Literal["default", "mirrored", "multiworker"]
STRATEGIES: tuple[str, ...] = get_args(StrategyName)
# What a linear head may read from the frozen encoder (`relsar-train linear --probe-features`,
# the label-efficiency study's probe): the embedding, or pooled from the last transformer block's
# tokens (relsar_core.train.model.probe_features_model). The default was chosen on validation
# (#17, docs/byol.md): 0.504 against 0.436 for the embedding alone.
PROBE_FEATURES: tuple[str, ...] = ("embedding", "cls_mean_max", "embedding_mean_max", "mean_max")
DEFAULT_PROBE_FEATURES = "embedding_mean_max"


class ModelConfig(Strict):
    """The ReL-SAR encoder. `size` picks a preset; any field given here overrides it."""

    size: ModelSizeName = "base"
    conv_filters: int | None = Field(None, gt=0)
    d_model: int | None = Field(None, gt=0)
    num_heads: int | None = Field(None, gt=0)
    num_layers: int | None = Field(None, gt=0)
    d_ff: int | None = Field(None, gt=0)
    dropout: float | None = Field(None, ge=0, lt=1)
    embedding_dim: int | None = Field(None, gt=0)


class DataConfig(Strict):
    window: int = Field(30, ge=2)
    stride: int = Field(5, ge=1)
    val_fraction: float = Field(0.15, ge=0, lt=1)
    test_fraction: float = Field(0.15, ge=0, lt=1)
    seed: int = 42

    @model_validator(mode="after")
    def _fractions_leave_training_clips(self):
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction {self.val_fraction} + test_fraction {self.test_fraction} must be "
                "below 1 (training needs clips too)"
            )
        return self


class AugmentConfig(Strict):
    """Strength of each augmentation; 0 turns it off. Angles in degrees, the rest relative."""

    flip: float = Field(0.5, ge=0, le=1)  # probability
    rotation: float = Field(10.0, ge=0, le=180)
    scale: float = Field(0.1, ge=0, lt=1)
    shear: float = Field(0.0, ge=0, lt=1)
    noise: float = Field(0.01, ge=0)
    speed: float = Field(0.2, ge=0, lt=1)  # playback speed in [1 - s, 1 + s]
    # Cut training views from context windows (augment.view_source_frames), so rates > 1 play real
    # frames; false: the view stays inside the window and rates > 1 are clamped to 1.
    speed_up: bool = True
    crop: float = Field(0.0, ge=0, lt=1)  # temporal crop keeps at least 1 - crop of the window
    joint_mask: float = Field(0.0, ge=0, lt=1)
    frame_mask: float = Field(0.0, ge=0, lt=1)


class TeachingConfig(Strict):
    """Keep an embedding for teaching new actions (relsar_core.train.teaching_objective): a
    no-flip contrastive term and a signed left/right head beside the cross-entropy. Off by
    default; each step then encodes two views of every window (about 2x the time)."""

    enabled: bool = False
    contrastive_weight: float = Field(0.5, ge=0)
    temperature: float = Field(0.2, gt=0)
    projection_dim: int = Field(128, gt=0)
    laterality_weight: float = Field(0.5, ge=0)


class TrainConfig(Strict):
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(64, ge=1)
    optimizer: Literal["adamw", "nadam", "sgd"] = "adamw"
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_epochs: float = Field(5, ge=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    early_stopping_patience: int = Field(15, ge=0)  # 0 disables early stopping
    class_weights: bool = True
    seed: int = 0
    # Polyak averaging: validation, best.keras and the report use the exponential moving average
    # of the weights (over about 1 / (1 - m) steps); last.keras keeps the raw ones for resuming.
    ema_momentum: float | None = Field(None, gt=0, lt=1)
    teaching: TeachingConfig = TeachingConfig()


class RunConfig(Strict):
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    augment: AugmentConfig = AugmentConfig()
    train: TrainConfig = TrainConfig()


class BYOLConfig(Strict):
    """BYOL pre-training (relsar_core.train.byol). MLP sizes list the hidden widths then the output."""

    projector: tuple[int, ...] = Field((1024, 256), min_length=1)
    predictor: tuple[int, ...] = (1024, 256)  # () = no predictor (the upstream sketch)
    mlp_batchnorm: bool = True  # BatchNorm after each hidden Dense (BYOL); off upstream
    symmetric: bool = True  # L(p1, z2) + L(p2, z1); False = one direction only (upstream)
    tau_base: float = Field(0.996, ge=0, le=1)  # target EMA rate at the start
    tau_schedule: Literal["cosine", "constant"] = "cosine"  # cosine: tau_base → 1 at the end
    ema_every: Literal["step", "epoch"] = "step"  # epoch = the upstream's once-per-epoch update
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(128, ge=2)  # global batch, split over the replicas
    optimizer: Literal["adamw", "sgd"] = "adamw"
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_epochs: float = Field(5, ge=0)
    jit_compile: bool = False  # XLA-compile the step (one replica); slower than oneDNN on CPU
    # Compute dtype of the BYOL networks' matrix products (element-wise work, weights and the saved
    # encoder stay float32). auto: bfloat16 where the hardware multiplies it natively (a GPU, or a
    # CPU with AVX512-BF16/AMX), else float32.
    precision: Literal["float32", "mixed_bfloat16", "auto"] = "auto"
    strategy: StrategyName = "default"
    # The saved encoder's BatchNorm moving statistics: re-estimated with the final weights on fresh
    # BYOL views of training windows (views), on clean training windows (clean), or kept as the
    # step's running averages (step). Measured in docs/byol.md: clean hurts the probes.
    bn_statistics: Literal["views", "clean", "step"] = "views"
    collapse_threshold: float = Field(
        0.1, ge=0, le=2
    )  # warn below this embedding std × √E (≈1 healthy)
    seed: int = 0


class BYOLRunConfig(Strict):
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    augment: AugmentConfig = AugmentConfig()
    byol: BYOLConfig = BYOLConfig()


def resolve_config_path(name_or_path: str | os.PathLike) -> Path:
    """A path to a YAML file, or the name of a shipped config (e.g. `supervised`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    named = CONFIG_DIR / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    shipped = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"{path}: no such config file (shipped configs: {shipped})")


def _format_error(path: Path, err: ValidationError, overridden: set = frozenset()) -> str:
    """One line naming the file and key, or the command-line flag that set the value."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if tuple(first["loc"][:2]) in overridden and first["type"] != "value_error":
        flag = "--" + str(first["loc"][1]).replace("_", "-")  # run_args.train_overrides' flags
        return f"{flag} {first.get('input')!r}: {first['msg']}"
    if first["type"] == "extra_forbidden":
        return f"{path}: unknown key '{where}'"
    if first["type"] == "value_error":  # a check across fields: the input is the whole section
        return f"{path}: '{where}': {first['msg'].removeprefix('Value error, ')}"
    return f"{path}: '{where}': {first['msg']} (got {first.get('input')!r})"


def load_config(
    name_or_path: str | os.PathLike | None, schema: type[BaseModel] = RunConfig, **overrides
):
    """Read and validate a config; `overrides` are top-level sections merged over the file."""
    data: dict = {}
    path = Path("(defaults)")
    if name_or_path is not None:
        path = resolve_config_path(name_or_path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a UTF-8 text file (a YAML config is text)") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({first_line(exc)})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    for section, values in overrides.items():
        data.setdefault(section, {})
        data[section] = {**data[section], **values}
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        overridden = {(section, key) for section, values in overrides.items() for key in values}
        raise ConfigError(_format_error(path, err, overridden)) from None


def dump_config(config: BaseModel, path: str | os.PathLike) -> None:
    from relsar_core.files import write_text

    write_text(path, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
