import torch

from brainseg.config import AugmentConfig, DataConfig
from brainseg.data.dataset import SliceDataset
from brainseg.data.transforms import augment_batch
from brainseg.data.volumes import load_volumes

STRONG = {
    "rotation_range": 30.0,
    "shear_range": 10.0,
    "zoom_range": 0.2,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
}


def test_masks_stay_binary_and_aligned_with_images():
    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(8, 1, 64, 64)
    masks[:, :, 20:40, 10:30] = 1
    images = masks.repeat(1, 3, 1, 1) * 0.8  # the image is the mask, so they must agree
    cfg = AugmentConfig(**STRONG, intensity_scale=0.0, gamma_range=0.0)
    out_images, out_masks = augment_batch(images, masks, cfg, g)
    assert set(out_masks.unique().tolist()) <= {0.0, 1.0}
    agree = ((out_images[:, :1] > 0.4) == (out_masks > 0.5)).float().mean()
    assert agree > 0.99
    assert not torch.equal(out_masks, masks)  # something did move


def _still(horizontal_flip: bool) -> AugmentConfig:
    """Every range zero: only the flip (if asked) may change anything."""
    zero = {k: 0.0 for k in AugmentConfig.model_fields if k.endswith(("range", "scale"))}
    return AugmentConfig(**zero, horizontal_flip=horizontal_flip, fill_mode="nearest")


def test_identity_when_ranges_are_zero():
    cfg = _still(horizontal_flip=False)
    images, masks = torch.rand(2, 3, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
    out_images, out_masks = augment_batch(images, masks, cfg)
    assert torch.allclose(out_images, images, atol=1e-5) and torch.equal(out_masks, masks)


def test_horizontal_flip_mirrors():
    cfg = _still(horizontal_flip=True)
    masks = torch.zeros(64, 1, 16, 16)
    masks[..., :4] = 1
    _, out = augment_batch(masks.repeat(1, 3, 1, 1), masks, cfg, torch.Generator().manual_seed(1))
    flipped = out[..., -4:].mean(dim=(1, 2, 3)) == 1
    assert 10 < int(flipped.sum()) < 54  # about half the batch is mirrored


def test_dataset_items_and_oversampling(synth_root):
    volumes, _ = load_volumes(synth_root)
    ds = SliceDataset(volumes, DataConfig(resolution=32))
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.uint8
    assert item["mask"].shape == (1, 32, 32) and set(item["mask"].unique().tolist()) <= {0, 1}
    weights = ds.sample_weights(0.5)
    assert abs(float(weights[ds.has_tumor].sum()) - 0.5) < 1e-6
    assert ds.sample_weights(None) is None


def test_missing_sequence_replaces_t1_channels_by_flair():
    import torch

    from brainseg.data.transforms import drop_sequences

    images = torch.stack([torch.full((4, 4), float(c)) for c in range(3)])[None].repeat(
        200, 1, 1, 1
    )
    generator = torch.Generator().manual_seed(0)
    out = drop_sequences(images, 0.3, generator)
    assert torch.equal(out[:, 1], images[:, 1])  # the FLAIR is never touched
    pre = (out[:, 0] == 1).flatten(1).all(1).float().mean()
    post = (out[:, 2] == 1).flatten(1).all(1).float().mean()
    assert 0.2 < pre < 0.4 and 0.2 < post < 0.4
    assert torch.equal(drop_sequences(images, 1.0)[:, 0], images[:, 1])
    assert torch.equal(drop_sequences(images, 0.0), images)


def test_skull_strip_keeps_the_brain_and_clears_outside():
    import numpy as np
    import torch

    from brainseg.data.transforms import strip_skulls

    y, x = np.mgrid[-1:1:128j, -1:1:128j]
    head = (x / 0.8) ** 2 + (y / 0.9) ** 2 < 1
    skull = head & ((x / 0.75) ** 2 + (y / 0.85) ** 2 > 1)  # about 6 mm thick
    flair = np.where(skull, 3.0, np.where(head, 1.0, 0.0)).astype(np.float32)
    images = torch.from_numpy(np.stack([flair] * 3))[None].repeat(4, 1, 1, 1)
    masks = torch.zeros(4, 1, 128, 128)
    masks[:, 0, 60:68, 60:68] = 1  # a lesion in the middle
    masks[:, 0, 5:8, 60:68] = 1  # and a spurious one in the scalp
    out, out_masks = strip_skulls(images, masks, 1.0)
    centre = torch.from_numpy(((x / 0.5) ** 2 + (y / 0.6) ** 2 < 1).astype(bool))
    assert bool((out[:, 1][:, centre] == 1).all())  # the brain is kept
    assert float(out[:, 1][:, torch.from_numpy(skull)].max()) == 0.0  # the skull is gone
    assert bool((out_masks[:, 0, 60:68, 60:68] == 1).all())
    assert float(out_masks[:, 0, 5:8].sum()) == 0.0
    same, same_masks = strip_skulls(images, masks, 0.0)
    assert torch.equal(same, images) and torch.equal(same_masks, masks)
