"""A torch Dataset over decoded volumes: uint8 in memory, normalised on the batch.

Each item is a dict of ``image`` (3, R, R) uint8, ``mask`` (1, R, R) uint8, ``scale`` (3,)
float32 and ``patient`` (index). Keeping uint8 makes the whole of ../shared about 400 MB and
lets a single loader process keep up; augmentation runs on whole batches later.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from brainseg.data.normalization import channel_scales
from brainseg.data.volumes import Volume


def resize_uint8(images: torch.Tensor, masks: torch.Tensor, size: int):
    """Resize (N, C, H, W) uint8 images (area) and masks (nearest, stays binary)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images, masks
    small = F.interpolate(images.float(), size=(size, size), mode="area")
    small_masks = F.interpolate(masks.float(), size=(size, size), mode="area") >= 0.5
    return small.round().clamp(0, 255).to(torch.uint8), small_masks.to(torch.uint8)


class SliceDataset(Dataset):
    """All slices of the given volumes, optionally restricted to selected slice stems."""

    def __init__(
        self,
        volumes: list[Volume],
        normalization: str = "volume",
        resolution: int | None = None,
        stems: set[str] | None = None,
    ):
        images, masks, scales, patient_index = [], [], [], []
        self.patients = [v.patient for v in volumes]
        self.stems: list[str] = []
        for index, volume in enumerate(volumes):
            keep = np.array([stems is None or s in stems for s in volume.stems], bool)
            if not keep.any():
                continue
            img = torch.from_numpy(np.ascontiguousarray(volume.images[keep])).permute(0, 3, 1, 2)
            msk = torch.from_numpy(np.ascontiguousarray(volume.masks[keep]))[:, None]
            if resolution:
                img, msk = resize_uint8(img, msk, resolution)
            images.append(img.contiguous())
            masks.append(msk.contiguous())
            scale = torch.from_numpy(channel_scales(volume.images, normalization))
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
        """Per-slice weights so that a draw is a tumour slice with ``tumor_fraction``."""
        n_tumor = int(self.has_tumor.sum())
        if tumor_fraction is None or n_tumor in (0, len(self)):
            return None
        weights = torch.where(
            self.has_tumor,
            tumor_fraction / n_tumor,
            (1 - tumor_fraction) / (len(self) - n_tumor),
        )
        return weights.double()
