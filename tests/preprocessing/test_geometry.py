"""Geometry: every storage order of the same scan reaches the same training-frame slices,
and outputs map back exactly onto each input grid (same mask in world space)."""

from __future__ import annotations

import itertools

import nibabel as nib
import nibabel.orientations as nio
import numpy as np
import pytest

from brainseg.io.volume import Volume
from brainseg.preprocessing.geometry import FRAME_SIZE, from_frame, to_frame


def _phantom(shape=(20, 40, 36)) -> np.ndarray:
    """(S, H, W) uint8: an off-centre ellipsoid 'head' with a bright blob in it."""
    s, h, w = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    head = ((s / 0.9) ** 2 + ((h - 0.1) / 0.8) ** 2 + (w / 0.7) ** 2) < 1
    blob = ((s - 0.2) ** 2 + (h + 0.2) ** 2 + (w - 0.3) ** 2) < 0.05
    return (head * 90 + blob * 120).astype(np.uint8)


def _image(slices: np.ndarray, spacing) -> nib.Nifti1Image:
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])  # the training frame, LPS
    return nib.Nifti1Image(np.ascontiguousarray(slices.transpose(2, 1, 0)), affine)


def _volume(image: nib.Nifti1Image) -> Volume:
    data = np.asarray(image.dataobj).transpose(2, 1, 0)[..., None]
    return Volume(np.repeat(data, 3, axis=-1), image.affine, ("t1", "flair", "t1c"), "x")


def _orientations():
    for perm in itertools.permutations(range(3)):
        for flips in itertools.product((1, -1), repeat=3):
            yield np.array([[p, f] for p, f in zip(perm, flips, strict=True)], float)


ALL = list(_orientations())


@pytest.mark.parametrize("spacing", [(0.9, 0.9, 3.0), (1.0, 1.0, 1.0), (0.45, 0.5, 2.0)])
def test_every_axis_order_and_flip_gives_the_same_frame_and_world_mask(spacing):
    canonical = _image(_phantom(), spacing)
    reference, _ = to_frame(_volume(canonical), _volume(canonical).array)
    assert reference.shape[1:3] == (FRAME_SIZE, FRAME_SIZE)
    for ornt in ALL:  # 48 storage orders: every permutation of the axes and every flip
        stored = canonical.as_reoriented(ornt)
        volume = _volume(stored)
        framed, mapping = to_frame(volume, volume.array)
        assert np.array_equal(framed, reference), mapping.input_axes
        # a frame output (here: a threshold of the frame itself) mapped back onto the stored
        # grid, then read in world space, is the canonical volume's mask
        back = from_frame((framed[..., 1] > 100).astype(np.float32), mapping) >= 0.5
        assert back.shape == volume.shape
        mask = nib.Nifti1Image(back.transpose(2, 1, 0).astype(np.uint8), stored.affine)
        to_lps = nio.ornt_transform(nio.io_orientation(stored.affine), nio.axcodes2ornt("LPS"))
        world = np.asarray(mask.as_reoriented(to_lps).dataobj).transpose(2, 1, 0)
        expected_back = from_frame((reference[..., 1] > 100).astype(np.float32), _lps(canonical))
        assert np.array_equal(world, expected_back >= 0.5)


def _lps(image):
    volume = _volume(image)
    return to_frame(volume, volume.array)[1]


def test_frame_round_trip_recovers_a_mask_on_the_input_grid():
    slices = _phantom((12, 90, 70))
    image = _image(slices, (1.1, 1.0, 4.0))
    volume = _volume(image)
    framed, mapping = to_frame(volume, volume.array)
    assert mapping.resampled and not mapping.resliced
    truth = slices > 150  # the blob
    # the blob as the frame sees it, mapped back: the same voxels up to the interpolation
    back = from_frame((framed[..., 1] > 150).astype(np.float32), mapping) >= 0.5
    dice = 2 * (back & truth).sum() / (back.sum() + truth.sum())
    assert dice > 0.95


def test_training_frame_volume_is_left_as_it_is():
    slices = np.zeros((3, FRAME_SIZE, FRAME_SIZE), np.uint8)
    slices[:, 60:200, 50:210] = 80
    volume = _volume(_image(slices, (0.9, 0.9, 3.0)))
    framed, mapping = to_frame(volume, volume.array)
    assert not mapping.resampled and mapping.input_axes == "LPS"
    assert np.array_equal(framed, volume.array)
    assert np.array_equal(from_frame(framed[..., 1], mapping), slices)


def test_sagittal_storage_is_resliced_to_axial():
    canonical = _image(_phantom(), (1.0, 1.0, 1.0))
    sagittal = canonical.as_reoriented(np.array([[2, 1], [1, -1], [0, 1]], float))
    volume = _volume(sagittal)
    _, mapping = to_frame(volume, volume.array)
    assert mapping.acquisition == "sagittal" and mapping.resliced
