"""A torch Dataset over decoded patients: uint8 in memory, normalised on the batch.

Each item is a dict of ``image`` (C, R, R) uint8, ``mask`` (1, R, R) uint8, ``scale`` (C,)
float32 and ``patient`` (index), C = 3 sequences. Keeping uint8
makes the whole of ../shared about 400 MB and lets a single loader process keep up;
augmentation runs on whole batches later. The slices go through ``brainseg.preprocessing``,
the same code as prediction, so that training and inference feed the network the same
tensor for the same slice.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from brainseg.config import DataConfig
from brainseg.data.volumes import Patient
from brainseg.preprocessing import Preprocessor, resize_masks


class SliceDataset(Dataset):
    """All slices of the given volumes, optionally restricted to selected slice stems."""

    def __init__(
        self,
        volumes: list[Patient],
        data_config: DataConfig,
        stems: set[str] | None = None,
    ):
        pre = Preprocessor(data_config)
        resolution = data_config.resolution
        images, masks, scales, patient_index = [], [], [], []
        self.patients = [v.patient for v in volumes]
        self.stems: list[str] = []
        for index, volume in enumerate(volumes):
            keep = np.array([stems is None or s in stems for s in volume.stems], bool)
            if not keep.any():
                continue
            slices = pre.slices(volume.image_volume())
            images.append(torch.from_numpy(pre.resized(slices[keep])))
            masks.append(torch.from_numpy(resize_masks(volume.masks[keep], resolution)))
            scale = torch.from_numpy(pre.scales(slices))
            scales.append(scale.expand(int(keep.sum()), -1))
            patient_index.append(torch.full((int(keep.sum()),), index, dtype=torch.long))
            self.stems += [s for s, k in zip(volume.stems, keep, strict=True) if k]
        self.images = torch.cat(images)
        self.masks = torch.cat(masks)
        self.scales = torch.cat(scales).contiguous()
        self.patient_index = torch.cat(patient_index)
        self.has_tumor = self.masks.flatten(1).any(dim=1).bool()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "image": self.images[index],
            "mask": self.masks[index],
            "scale": self.scales[index],
            "patient": self.patient_index[index],
        }

    def sample_weights(self, tumor_fraction: float | None) -> torch.Tensor | None:
        """Per-slice weights so that a draw is a tumour slice with ``tumor_fraction``, every
        tumour slice alike (None: the natural rate, or nothing to oversample)."""
        n_tumor = int(self.has_tumor.sum())
        if tumor_fraction is None or n_tumor in (0, len(self)):
            return None
        tumor = self.has_tumor.double()
        empty = (~self.has_tumor).double()
        weights = tumor_fraction * tumor / tumor.sum() + (1 - tumor_fraction) * empty / empty.sum()
        return weights
