"""2.5D input (``data.context``): neighbouring FLAIR slices as channels, in training and in
prediction alike, with known values and end to end on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from brainseg.config import validate_config
from brainseg.errors import BrainsegError
from brainseg.io.volume import Volume
from brainseg.preprocessing import Preprocessor
from tests.conftest import TINY_CONFIG


def _numbered_slices(count: int) -> np.ndarray:
    """(count, 4, 4, 3) uint8: FLAIR = 10 x slice number + 10, T1s constant."""
    slices = np.full((count, 4, 4, 3), 7, np.uint8)
    slices[..., 1] = (10 * np.arange(count) + 10)[:, None, None]
    return slices


def test_context_channels_are_the_neighbours_flair_clipped_at_the_ends():
    pre = Preprocessor({"normalization": "volume", "resolution": None, "context": 2})
    out = pre.with_context(_numbered_slices(4))
    assert out.shape == (4, 4, 4, 7)
    # channels 3..6 are the FLAIR of slices s-2, s-1, s+1, s+2 (first/last repeated)
    assert out[:, 0, 0, 3:].tolist() == [
        [10, 10, 20, 30],
        [10, 10, 30, 40],
        [10, 20, 40, 40],
        [20, 30, 40, 40],
    ]
    assert (out[..., :3] == _numbered_slices(4)).all()
    scales = pre.scales(out)
    assert scales.shape == (7,) and np.allclose(scales[3:], scales[1])
    single = pre.with_context(_numbered_slices(1))  # one 2D image is its own neighbour
    assert (single[..., 3:] == single[..., 1:2]).all()
    assert pre.slices(Volume.from_slices(_numbered_slices(3))).shape[-1] == 7


def test_no_context_leaves_the_slices_alone():
    pre = Preprocessor({"normalization": "volume", "resolution": None})
    slices = _numbered_slices(3)
    assert pre.with_context(slices) is slices and pre.scales(slices).shape == (3,)


def test_config_sets_and_checks_the_input_channels():
    assert validate_config({"data": {"context": 1}})["model"]["in_channels"] == 5
    assert validate_config({})["model"]["in_channels"] == 3
    with pytest.raises(BrainsegError, match="does not match data.context 1"):
        validate_config({"data": {"context": 1}, "model": {"in_channels": 4}})


def test_a_2_5d_model_trains_and_predicts_through_torch_and_onnx(synth_root, tmp_path):
    from brainseg.cli import main
    from brainseg.data.volumes import load_clean_volumes
    from brainseg.inference.predictor import Predictor

    config = {k: dict(v) for k, v in TINY_CONFIG.items()}
    config["data"]["context"] = 1
    config["train"].update(epochs=1)
    path = tmp_path / "context.yaml"
    path.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["train", "--data", str(synth_root), "--out", str(run), "--config", str(path)]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["context"] == 1 and saved["model"]["in_channels"] == 5
    volume = load_clean_volumes(synth_root)[0]
    torch_probs = Predictor(run / "last.ckpt", engine="torch").predict(volume.image_volume())
    onnx_probs = Predictor(run / "last.ckpt", engine="onnx").predict(volume.image_volume())
    assert torch_probs.shape == volume.masks.shape
    assert np.abs(torch_probs - onnx_probs).max() < 1e-3
