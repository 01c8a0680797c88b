"""Training and prediction feed the network the same tensor for the same slice."""

from __future__ import annotations

import numpy as np
import pytest

from brainseg.config import DataConfig
from brainseg.data.dataset import SliceDataset
from brainseg.data.volumes import load_clean_volumes
from brainseg.io.inputs import find_inputs, read_item
from brainseg.preprocessing import Preprocessor, normalize
from tests.conftest import real_data_or_skip


def _training_inputs(patients, data_config) -> np.ndarray:
    """What the LightningModule's forward receives (augmentation off): the dataset's stored
    uint8 slices times their scales, exactly as ``SegmentationModule._prepare`` does it."""
    dataset = SliceDataset(patients, data_config)
    return normalize(dataset.images.float(), dataset.scales.float()).numpy()


def _prediction_inputs(folders, data_config) -> np.ndarray:
    """What ``brainseg predict`` feeds the network for the same folders, read from disk."""
    pre = Preprocessor(data_config)
    items, problems = find_inputs(folders)
    assert not problems
    batches = []
    for item in items:
        (volume,), _ = read_item(item)
        slices = pre.slices(volume)
        batches.append(pre.network_input(slices, pre.scales(slices)))
    return np.concatenate(batches)


@pytest.mark.parametrize("normalization", ["volume", "scale255"])
def test_synthetic_slices_agree(synth_root, normalization):
    config = DataConfig(normalization=normalization, resolution=32)
    patients = load_clean_volumes(synth_root)[:3]
    folders = [synth_root / p.patient for p in patients]
    train, predict = _training_inputs(patients, config), _prediction_inputs(folders, config)
    assert train.shape == predict.shape == (24, 3, 32, 32)
    assert float(np.abs(train - predict).max()) <= 1e-3


@pytest.mark.realdata
def test_real_slices_agree():
    root = real_data_or_skip()
    names = sorted(p.name for p in root.iterdir() if p.is_dir())[:4]
    config = DataConfig(normalization="volume", resolution=128)
    patients = load_clean_volumes(root, patients=names)
    train = _training_inputs(patients, config)
    predict = _prediction_inputs([root / n for n in names], config)
    assert train.shape == predict.shape and len(train) > 60
    assert float(np.abs(train - predict).max()) <= 1e-3
    assert float(train.max()) > 1.0  # normalised, not raw 0..255 nor 0..1
