"""Shared fixtures: tiny synthetic datasets, a tiny model bundle, and the real data path."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

# Keep the tests hermetic: the ONNX export cache goes to a private folder, not ~/.cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="bstest-cache-")

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lgg" / "kaggle_3m"

TINY_CONFIG = {
    "data": {"resolution": 64, "normalization": "volume"},
    "model": {"features": 4, "depth": 2, "dropout": 0.0},
    "train": {"epochs": 2, "batch_size": 8, "lr": 3e-3, "precision": "32-true"},
    "augment": {"rotation_range": 5.0},
}


def train_command(data: Path, run: Path, config: Path, *extra: str) -> list[str]:
    """``python -m brainseg train`` as a subprocess command (kill and DDP tests)."""
    import sys

    return [
        sys.executable,
        "-m",
        "brainseg",
        "train",
        "--data",
        str(data),
        "--out",
        str(run),
        "--config",
        str(config),
        *extra,
    ]


def real_data_or_skip() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real LGG data not found at {REAL_DATA} (needs ../shared beside the repo)")
    return REAL_DATA


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """8 patients x 8 slices of 64x64 phantoms, written once per session."""
    from brainseg.data.synthetic import write_synthetic_dataset

    root = tmp_path_factory.mktemp("synth")
    write_synthetic_dataset(root, patients=8, slices=8, seed=3, size=64)
    return root


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    """A random-weight model bundle: enough to test formats, engines and plumbing."""
    import torch

    from brainseg.config import load_config
    from brainseg.models import create_model
    from brainseg.models.files import save_bundle

    torch.manual_seed(0)
    config = load_config(None, {"data": {"resolution": 64}, "model": {"features": 4, "depth": 2}})
    model = create_model(config.model)
    with torch.no_grad():  # bias the head so that some pixels come out positive
        model.head.bias.fill_(0.0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_bundle(config, model.state_dict(), {"name": "tiny", "version": "test"}, path)
    return path


def write_rgb(path: Path, array: np.ndarray) -> None:
    import tifffile

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        from PIL import Image

        Image.fromarray(array).save(path)
    else:
        tifffile.imwrite(path, array)


def world_mask(path) -> np.ndarray:
    """A predicted NIfTI mask read back in the training frame's storage order (LPS), so that
    masks of the same scan stored in different orders compare voxel by voxel."""
    import nibabel as nib
    import nibabel.orientations as nio

    image = nib.load(path)
    to_lps = nio.ornt_transform(nio.io_orientation(image.affine), nio.axcodes2ornt("LPS"))
    return np.asarray(image.as_reoriented(to_lps).dataobj).astype(bool)


def dice3d(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two masks with brainseg's own metric (1.0 when both are empty)."""
    from brainseg.metrics import counts, dice

    return dice(counts(np.asarray(a, bool), np.asarray(b, bool)))


@pytest.fixture(scope="session")
def lgg_patient():
    """One real LGG patient with a lesion, for tests that run the shipped model on it
    (skipped, with the reason, without ../shared or the shipped weights)."""
    from brainseg.data.volumes import load_volumes
    from brainseg.models.files import SHIPPED_MODEL

    root = real_data_or_skip()
    if not SHIPPED_MODEL.exists():
        pytest.skip("no shipped model in this checkout")
    name = sorted(p.name for p in root.iterdir() if p.is_dir())[1]
    volume = load_volumes(root, patients=[name])[0][0]
    assert volume.masks.any()
    return volume
