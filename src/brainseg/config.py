"""One YAML config holds every hyperparameter; command-line flags override it.

The resolved config is saved beside each run (``RUN/config.yaml``) so it can be repeated.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from brainseg.errors import BrainsegError
from brainseg.fileio import write_text

DEFAULT_CONFIG: dict[str, Any] = {
    "seed": 42,
    "data": {
        # "scale255" is the seed's /255; "volume" divides each channel by its per-volume
        # 99th percentile inside the brain, which copes with dark volumes.
        "normalization": "volume",
        # Side length the model sees; predictions are resized back to the input size. 128 is
        # chosen by measured time-to-Dice on 2 CPU cores (docs/performance.md).
        "resolution": 128,
        # Probability that a training draw is a tumour-bearing slice (null: natural rate).
        "oversample_tumor": 0.5,
        "cache_dir": None,
    },
    # members > 1: an ensemble of U-Nets averaging logits (made by 'brainseg bundle' from
    # several checkpoints).
    "model": {"features": 16, "depth": 4, "dropout": 0.1, "in_channels": 3, "members": 1},
    "loss": {"name": "dice_bce", "smooth": 1.0},
    "train": {
        "epochs": 30,
        "batch_size": 16,
        "lr": 1.0e-3,
        "lr_decay": "cosine",  # none | cosine | step
        "lr_step_epochs": 10,
        "lr_gamma": 0.5,
        "weight_decay": 0.0,
        "precision": "auto",  # auto | 32 | bf16-mixed | 16-mixed
        "channels_last": True,
        # torch.compile the training forward (true | false | "auto": only for runs of at least
        # 10,000 images with a C++ compiler present). Off by default: on 2 CPU cores the
        # compiled step alone is 1.3x faster, but whole training runs measured 16.7 img/s
        # compiled against 17.8 eager (docs/performance.md), so it does not pay for itself.
        "compile": False,
        "num_workers": 0,
        "accelerator": "auto",
        "devices": 1,
        "strategy": "auto",
        "max_train_batches": None,  # cap per epoch (quick runs and tests)
        # Start from these weights (.pt bundle or .ckpt) instead of a random init: a second
        # cosine cycle on top of an earlier run. Optimizer state starts fresh.
        "init_weights": None,
    },
    # The seed's ImageDataGenerator settings (Keras semantics: rotation and shear in degrees,
    # shifts as fractions, zoom as [1 - z, 1 + z]). The shipped recipe (configs/lgg.yaml)
    # uses stronger geometry and the intensity jitter below, which the seed did not have.
    "augment": {
        "enabled": True,
        "rotation_range": 0.2,
        "width_shift_range": 0.05,
        "height_shift_range": 0.05,
        "shear_range": 0.05,
        "zoom_range": 0.05,
        "horizontal_flip": True,
        "fill_mode": "nearest",
        "intensity_scale": 0.0,  # per-channel gain jitter, +-fraction
        "gamma_range": 0.0,  # gamma jitter, +-fraction
    },
    "split": {"test": 0.1, "val": 0.2, "by": "patient"},
    "inference": {"threshold": 0.5, "tta": False, "postprocess": "none"},
}


def deep_merge(base: dict[str, Any], update: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``; unknown keys are an error, not a silent typo."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        name = f"{where}{key}"
        if key not in merged:
            raise BrainsegError(f"config: unknown key '{name}'")
        if isinstance(merged[key], dict):
            if not isinstance(value, dict):
                raise BrainsegError(f"config: '{name}' must be a mapping")
            merged[key] = deep_merge(merged[key], value, f"{name}.")
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict:
    """Defaults, then the YAML file, then the overrides (nested dicts)."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    if path is not None:
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise BrainsegError(f"{path}: cannot read config ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise BrainsegError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
        if not isinstance(loaded, dict):
            raise BrainsegError(f"{path}: config must be a YAML mapping")
        config = deep_merge(config, loaded)
    if overrides:
        config = deep_merge(config, overrides)
    return config


def save_config(config: dict[str, Any], path: str | Path) -> None:
    write_text(path, yaml.safe_dump(config, sort_keys=False))
