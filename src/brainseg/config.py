"""One YAML config holds every hyperparameter; command-line flags override it.

The config is typed: every value is checked (pydantic), so an unknown key, an unknown
choice (``lr_decay: cosin``) or a wrong type gives one clear line naming the key instead of
silently meaning something else. The code reads the validated ``Config`` (frozen section
objects, ``config.train.lr``), never a dict with defaults of its own. A config file may
start with ``extends: base.yaml`` (a path relative to it) and set only what differs. The
resolved, validated config is saved beside each run (``RUN/config.yaml``) so it can be
repeated.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from brainseg.errors import BrainsegError
from brainseg.fileio import write_text


class _Section(BaseModel):
    """A config section: every key typed and checked, unknown keys refused, values frozen
    (a changed config is a new object, ``model_copy(update=...)``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    # "scale255" divides by 255; "volume" divides each channel by its per-volume 99th
    # percentile inside the brain, which copes with dark volumes.
    normalization: Literal["scale255", "volume"] = "volume"
    # Side length the model sees; predictions are resized back to the input size
    # (docs/performance.md says how it was chosen).
    resolution: int | None = Field(128, ge=16)
    # Probability that a training draw is a tumour-bearing slice (null: natural rate).
    oversample_tumor: float | None = Field(0.5, ge=0.0, le=1.0)
    cache_dir: str | None = None
    # How a volume with geometry is put on the training frame (docs/own-scans.md): at the
    # frame's 0.9 mm pixels ("spacing", physical size kept), or so for a whole head but with
    # anything smaller, such as a skull-stripped brain, scaled to span what a Kaggle head
    # spans ("extent").
    framing: Literal["spacing", "extent"] = "extent"


# The architectures brainseg.models.registry.ARCHITECTURES builds (a test keeps the two alike)
ArchName = Literal["unet", "basicunet", "segresnet"]


class ModelConfig(_Section):
    arch: ArchName = "unet"
    features: int = Field(16, ge=1)
    depth: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    # members > 1: an ensemble averaging logits (made by 'brainseg bundle' from checkpoints)
    members: int = Field(1, ge=1)
    # An ensemble of members trained at different resolutions: each member's side length.
    # The ensemble takes data.resolution (the largest), gives each member its input
    # area-averaged to its own side and averages their probabilities at the largest.
    member_resolutions: tuple[int, ...] | None = None
    # An ensemble whose other members run only on slices where the first member's
    # probability reaches this somewhere (see models.registry.Ensemble).
    member_gate: float | None = Field(None, gt=0.0, lt=0.5)

    @model_validator(mode="after")
    def _one_resolution_per_member(self) -> ModelConfig:
        sides = self.member_resolutions
        if sides is not None and (len(sides) != self.members or min(sides) < 16):
            raise ValueError(
                f"member_resolutions needs one side length (>= 16) per member ({self.members})"
            )
        if self.member_gate is not None and self.members < 2:
            raise ValueError("member_gate needs an ensemble (members >= 2)")
        return self


class LossConfig(_Section):
    name: Literal["dice", "dice_bce", "bce"] = "dice_bce"
    smooth: float = Field(1.0, ge=0.0)


class TrainConfig(_Section):
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1.0e-3, ge=0.0)
    lr_decay: Literal["none", "cosine"] = "cosine"
    # "auto": bf16/16-mixed on GPUs; on CPUs 32-true, or where the CPU has native bf16 the
    # faster of 32-true and bf16-mixed for this model and batch, timed at the start of the run
    # (brainseg.training.precision). RUN/timing.json says which it was; to repeat a run on
    # another host in the same arithmetic, set that precision here.
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    channels_last: bool = True
    num_workers: int = Field(0, ge=0)
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int = Field(1, ge=1)
    strategy: Literal["auto", "ddp", "ddp_spawn"] = "auto"
    max_train_batches: int | None = Field(None, ge=1)  # cap per epoch (quick runs and tests)
    # Start from these weights (.pt bundle or .ckpt) instead of a random init: a further
    # cosine cycle on top of an earlier run. Optimizer state starts fresh.
    init_weights: str | None = None


class AugmentConfig(_Section):
    # Keras ImageDataGenerator semantics: rotation and shear in degrees, shifts as
    # fractions, zoom as [1 - z, 1 + z]; plus intensity jitter.
    enabled: bool = True
    rotation_range: float = Field(0.2, ge=0.0)
    width_shift_range: float = Field(0.05, ge=0.0)
    height_shift_range: float = Field(0.05, ge=0.0)
    shear_range: float = Field(0.05, ge=0.0)
    zoom_range: float = Field(0.05, ge=0.0, lt=1.0)
    horizontal_flip: bool = True
    fill_mode: Literal["nearest", "constant", "reflect"] = "nearest"
    intensity_scale: float = Field(0.0, ge=0.0, lt=1.0)  # per-channel gain jitter, +-fraction
    gamma_range: float = Field(0.0, ge=0.0, lt=1.0)  # gamma jitter, +-fraction
    # Probability that the pre- (and, independently, the post-) contrast channel of a
    # training slice is replaced by its FLAIR: robustness to FLAIR-only and missing inputs.
    missing_sequence: float = Field(0.0, ge=0.0, le=1.0)
    # Probability that a training slice is skull-stripped (a morphological brain mask from
    # its FLAIR, brainseg.preprocessing.brainmask): robustness to skull-stripped inputs.
    skull_strip: float = Field(0.0, ge=0.0, le=1.0)


class SplitConfig(_Section):
    test: float = Field(0.1, ge=0.0, lt=1.0)
    val: float = Field(0.2, ge=0.0, lt=1.0)
    by: Literal["patient", "slice"] = "patient"


class InferenceConfig(_Section):
    threshold: float = Field(0.5, gt=0.0, le=1.0)
    tta: bool = False
    postprocess: str = "none"
    # signals -> expected Dice and review flag (brainseg.confidence), fitted out of fold by
    # `brainseg cv calibrate` and set by `brainseg bundle --calibration`
    calibration: dict[str, Any] | None = None

    @field_validator("calibration")
    @classmethod
    def _readable_calibration(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from brainseg.confidence import Calibration

        if value is None:
            return None
        try:
            return Calibration.from_dict(value).to_dict()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a calibration ({exc})") from None

    @field_validator("postprocess")
    @classmethod
    def _known_steps(cls, value: str) -> str:
        from brainseg.postprocess import parse_spec

        try:
            parse_spec(value)
        except BrainsegError as exc:
            raise ValueError(str(exc)) from None
        return value


class Config(_Section):
    seed: int = 42
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    train: TrainConfig = TrainConfig()
    augment: AugmentConfig = AugmentConfig()
    split: SplitConfig = SplitConfig()
    inference: InferenceConfig = InferenceConfig()

    @model_validator(mode="after")
    def _resolution_holds_every_member(self) -> Config:
        sides = self.model.member_resolutions
        if sides is not None and self.data.resolution != max(sides):
            raise ValueError(
                f"data.resolution {self.data.resolution} must be the largest of "
                f"model.member_resolutions {list(sides)}"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML, JSON, checkpoints), with lists rather than tuples."""
        return self.model_dump(mode="json")


DEFAULT_CONFIG: dict[str, Any] = Config().to_dict()


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` merged into a copy of ``base``, nested mappings key by key."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def validation_problems(exc: ValidationError, where: str) -> BrainsegError:
    """One ``where: key: what is wrong`` line per problem pydantic found, as one error."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif "input" in error and not isinstance(error["input"], dict):
            message += f" (got {error['input']!r})"
        lines.append(f"{where}: {key}: {message}")
    return BrainsegError("\n".join(lines))


def validate_config(raw: dict[str, Any], where: str = "config") -> Config:
    """The full, typed config (defaults filled in); every problem is one line
    ``where: key: what is wrong``, raised together as one ``BrainsegError``."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise validation_problems(exc, where) from None


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    """A YAML file that must hold a mapping; one line naming the file when it does not."""
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise BrainsegError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise BrainsegError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(loaded, dict):
        raise BrainsegError(f"{path}: a {what} must be a YAML mapping")
    return loaded


def read_config_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML config file as a raw mapping, with its ``extends:`` chain merged in."""
    path = Path(path)
    if path.resolve() in _seen:
        raise BrainsegError(f"{path}: 'extends' loops back to itself")
    loaded = read_yaml_mapping(path)
    base = loaded.pop("extends", None)
    if base is None:
        return loaded
    if not isinstance(base, str):
        raise BrainsegError(f"{path}: extends: must be a file path")
    parent = read_config_file(path.parent / base, (*_seen, path.resolve()))
    return deep_merge(parent, loaded)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the YAML file (and what it extends), then the overrides, validated."""
    raw = read_config_file(path) if path is not None else {}
    if overrides:
        raw = deep_merge(raw, overrides)
    return validate_config(raw, str(path) if path is not None else "config")


def save_config(config: Config, path: str | Path) -> None:
    """The full config as YAML: what a run saves beside its outputs, to be repeated from."""
    write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
