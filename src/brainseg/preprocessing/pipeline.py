"""From a ``Volume`` to network input and from network output back to the volume's grid.

The same steps run in training, evaluate, predict and the service:

1. channel assembly: the model's sequences in its order (pre-contrast, FLAIR,
   post-contrast); a missing sequence is replaced by the FLAIR, as the Kaggle data does;
2. uint8: each channel rescaled over the whole volume, whatever its units
   (``intensity.to_uint8``);
3. for a volume with geometry (NIfTI, DICOM): into the training frame, axial LPS slices of
   256 x 256 at 0.9 mm (``geometry.to_frame``); 2D images are taken as already in it;
4. resize to the model's resolution by area averaging, rounded back to uint8 (what the
   training set holds in memory);
5. normalisation: per-channel multipliers of the whole volume (``intensity``).

Outputs (probabilities) go back to the frame's slice size by bilinear interpolation, then
onto the input's own grid (``geometry.from_frame``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainseg.config import DataConfig
from brainseg.errors import BrainsegError
from brainseg.io.volume import Volume
from brainseg.preprocessing.geometry import FrameMapping, from_frame, to_frame
from brainseg.preprocessing.intensity import channel_scales, normalize, to_uint8
from brainseg.preprocessing.resize import resize

MODEL_SEQUENCES = ("t1", "flair", "t1c")
FLAIR_CHANNEL = MODEL_SEQUENCES.index("flair")


def assemble_channels(volume: Volume, sequences: tuple[str, ...] = MODEL_SEQUENCES) -> np.ndarray:
    """uint8 slices (S, H, W, len(sequences)), FLAIR standing in for a missing sequence."""
    if "flair" not in volume.channels:
        raise BrainsegError(f"{volume.source}: no FLAIR channel (has {', '.join(volume.channels)})")
    if volume.channels == sequences and volume.array.dtype == np.uint8:
        return volume.array  # already model-ready (Kaggle slices): no copy
    by_name = {name: i for i, name in enumerate(volume.channels)}
    converted: dict[int, np.ndarray] = {}

    def channel(name: str) -> np.ndarray:
        index = by_name.get(name, by_name["flair"])
        if index not in converted:
            converted[index] = to_uint8(volume.array[..., index])
        return converted[index]

    return np.stack([channel(name) for name in sequences], axis=-1)


def _resized_values(slices: np.ndarray, resolution: int | None) -> np.ndarray:
    """uint8 slices (N, H, W, C) -> (N, C, R, R) area-averaged and rounded to integers: uint8
    when no resizing is needed, else float32 holding the same integer values."""
    x = slices.transpose(0, 3, 1, 2)
    if not resolution or x.shape[-2:] == (resolution, resolution):
        return x
    return np.round(resize(x.astype(np.float32), (resolution, resolution), "area"))


def resize_slices(slices: np.ndarray, resolution: int | None) -> np.ndarray:
    """uint8 slices (N, H, W, C) -> uint8 (N, C, R, R): area-averaged and rounded, exactly as
    the training set stores them."""
    return np.ascontiguousarray(_resized_values(slices, resolution), np.uint8)


def resize_masks(masks: np.ndarray, resolution: int | None) -> np.ndarray:
    """Binary masks (N, H, W) -> (N, 1, R, R) uint8: area-averaged, kept where >= 0.5."""
    m = np.asarray(masks, np.uint8)[:, None]
    if not resolution or m.shape[-2:] == (resolution, resolution):
        return m
    small = resize(m.astype(np.float32), (resolution, resolution), "area")
    return (small >= 0.5).astype(np.uint8)


@dataclass
class Prepared:
    """A volume made ready for the network: uint8 ``slices`` (S, H, W, 3) in the training
    frame, the per-channel ``scales`` of the whole volume, and the ``mapping`` back to the
    input's grid (None for 2D images, which are taken as they are)."""

    slices: np.ndarray
    scales: np.ndarray
    mapping: FrameMapping | None


class Preprocessor:
    """The preprocessing of one model, from the ``data`` section of its config."""

    def __init__(self, data_config: DataConfig):
        self.normalization = data_config.normalization
        self.resolution = data_config.resolution
        self.framing = data_config.framing

    def slices(self, volume: Volume) -> np.ndarray:
        """uint8 slices (S, H, W, 3) in the model's channel order, on the volume's grid."""
        return assemble_channels(volume)

    def prepare(self, volume: Volume) -> Prepared:
        """Steps 1-3 and the scales of step 5 for a whole volume."""
        slices, mapping = assemble_channels(volume), None
        if volume.geometry:
            slices, mapping = to_frame(volume, slices, self.framing)
        return Prepared(slices, self.scales(slices), mapping)

    @staticmethod
    def restore(values: np.ndarray, prepared: Prepared) -> np.ndarray:
        """Frame-sized outputs (S, H, W) -> float32 on the input's own grid."""
        if prepared.mapping is None:
            return np.asarray(values, np.float32)
        return from_frame(values, prepared.mapping)

    def scales(self, slices: np.ndarray) -> np.ndarray:
        """Per-channel multipliers (3,) of the whole volume."""
        return channel_scales(slices, self.normalization)

    def resized(self, slices: np.ndarray) -> np.ndarray:
        """uint8 slices (N, H, W, 3) -> uint8 (N, 3, R, R) at the model's resolution (what the
        training set holds; normalisation follows on the batch)."""
        return resize_slices(slices, self.resolution)

    def network_input(self, slices: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """uint8 slices (N, H, W, 3) -> float32 network input (N, 3, R, R)."""
        x = _resized_values(slices, self.resolution).astype(np.float32, copy=False)
        return np.ascontiguousarray(normalize(x, scales), np.float32)

    @staticmethod
    def to_input_size(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Network probabilities (N, 1, R, R) -> (N, H, W) at the input's slice size."""
        return resize(probs, size, "bilinear")[:, 0]
