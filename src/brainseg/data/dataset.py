"""A torch Dataset over decoded patients: uint8 in memory, normalised on the batch.

Each item is a dict of ``image`` (C, R, R) uint8, ``mask`` (1, R, R) uint8, ``scale`` (C,)
float32 and ``patient`` (index); C is 3, or 3 + 2 x context for a 2.5D model. Keeping uint8
makes the whole of ../shared about 400 MB and lets a single loader process keep up;
augmentation runs on whole batches later. The slices go through ``brainseg.preprocessing``,
the same code as prediction, so that training and inference feed the network the same
tensor for the same slice.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from brainseg.data.volumes import Patient
from brainseg.preprocessing import Preprocessor, resize_masks


class SliceDataset(Dataset):
    """All slices of the given volumes, optionally restricted to selected slice stems."""

    def __init__(
        self,
        volumes: list[Patient],
        normalization: str = "volume",
        resolution: int | None = None,
        stems: set[str] | None = None,
        context: int = 0,
    ):
        pre = Preprocessor(
            {"normalization": normalization, "resolution": resolution, "context": context}
        )
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

    def sample_weights(
        self, tumor_fraction: float | None, spread: str = "uniform"
    ) -> torch.Tensor | None:
        """Per-slice weights so that a draw is a tumour slice with ``tumor_fraction``.

        ``spread`` shares the tumour draws among the tumour slices: ``uniform`` (each slice
        alike), ``area`` (in proportion to the lesion's area on the slice, as Buda et al.
        sample), or ``patient`` (each patient's tumour slices together weigh alike, so a
        small lesion, seen on few slices, is drawn as often as a large one).
        """
        n_tumor = int(self.has_tumor.sum())
        if tumor_fraction is None or n_tumor in (0, len(self)):
            return None
        tumor = self.has_tumor.double()
        if spread == "area":
            tumor = self.masks.flatten(1).sum(dim=1).double()
        elif spread == "patient":
            per_patient = torch.zeros(len(self.patients), dtype=torch.float64)
            per_patient.index_add_(0, self.patient_index, tumor)
            tumor = tumor / per_patient[self.patient_index].clamp(min=1)
        elif spread != "uniform":
            raise ValueError(f"unknown tumour sampling spread {spread!r}")
        empty = (~self.has_tumor).double()
        weights = tumor_fraction * tumor / tumor.sum() + (1 - tumor_fraction) * empty / empty.sum()
        return weights
