"""Joint image/mask augmentation on whole batches, vectorised with one ``grid_sample`` each.

Keras ``ImageDataGenerator`` semantics (the original LGG U-Net's): rotation and shear ranges in
degrees, shifts as fractions of the size, zoom as ``[1 - z, 1 + z]``, horizontal flips, and
``nearest`` fill (edge pixels repeat). The mask uses nearest-neighbour sampling, so it stays
binary and aligned with its image. Optional per-channel intensity scale and gamma jitter
make the model robust to the brightness differences between scanners. Missing-sequence
augmentation replaces the pre- or post-contrast channel by the FLAIR, as the Kaggle data
itself does when a sequence is missing and as prediction does for a FLAIR-only scan;
skull-stripping augmentation keeps only a rough brain, as skull-stripped inputs (BraTS)
look.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from brainseg.config import AugmentConfig

FILL_MODES = {"nearest": "border", "constant": "zeros", "reflect": "reflection"}


def random_affines(n: int, cfg: AugmentConfig, generator: torch.Generator | None = None):
    """(n, 2, 3) affine matrices in normalised coordinates, as ``affine_grid`` expects."""

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    rot = torch.deg2rad(uniform(-cfg.rotation_range, cfg.rotation_range))
    shear = torch.deg2rad(uniform(-cfg.shear_range, cfg.shear_range))
    zx = uniform(1 - cfg.zoom_range, 1 + cfg.zoom_range)
    zy = uniform(1 - cfg.zoom_range, 1 + cfg.zoom_range)
    tx = uniform(-cfg.width_shift_range, cfg.width_shift_range) * 2
    ty = uniform(-cfg.height_shift_range, cfg.height_shift_range) * 2
    flip = torch.ones(n)
    if cfg.horizontal_flip:
        flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin, tan = torch.cos(rot), torch.sin(rot), torch.tan(shear)
    # rotation @ shear @ (zoom * flip), the order Keras composes them in
    a00 = cos * zx * flip
    a01 = (-sin + cos * tan) * zy
    a10 = sin * zx * flip
    a11 = (cos + sin * tan) * zy
    theta = torch.stack([torch.stack([a00, a01, tx], 1), torch.stack([a10, a11, ty], 1)], 1)
    return theta


def augment_batch(
    images: torch.Tensor,
    masks: torch.Tensor,
    cfg: AugmentConfig,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment float images (N, C, H, W) and masks (N, 1, H, W) together."""
    n = images.shape[0]
    theta = random_affines(n, cfg, generator).to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    padding = FILL_MODES[cfg.fill_mode]
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    masks = F.grid_sample(
        masks.to(images.dtype), grid, mode="nearest", padding_mode=padding, align_corners=False
    )
    scale_jitter = cfg.intensity_scale
    gamma_jitter = cfg.gamma_range
    if scale_jitter > 0:
        factor = 1 + (torch.rand(n, images.shape[1], 1, 1, generator=generator) * 2 - 1) * (
            scale_jitter
        )
        images = images * factor.to(images.device, images.dtype)
    if gamma_jitter > 0:
        gamma = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * gamma_jitter
        images = images.clamp_min(0).pow(gamma.to(images.device, images.dtype))
    missing = cfg.missing_sequence
    if missing > 0:
        images = drop_sequences(images, missing, generator)
    strip = cfg.skull_strip
    if strip > 0:
        images, masks = strip_skulls(images, masks, strip, generator)
    return images, masks


def strip_skulls(
    images: torch.Tensor,
    masks: torch.Tensor,
    probability: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """With ``probability`` per slice, keep only a rough brain (``brainmask``, from the
    FLAIR) and zero the rest, as skull-stripped inputs look; the target keeps only what lies
    inside that brain."""
    from brainseg.preprocessing.brainmask import brain_mask
    from brainseg.preprocessing.geometry import FRAME_PIXEL_MM, FRAME_SIZE

    chosen = torch.rand(images.shape[0], generator=generator) < probability
    if not bool(chosen.any()):
        return images, masks
    pixel_mm = FRAME_PIXEL_MM * FRAME_SIZE / images.shape[-1]
    images, masks = images.clone(), masks.clone()
    for index in torch.nonzero(chosen).flatten().tolist():
        flair = images[index, 1].detach().float().cpu().numpy()
        brain = torch.from_numpy(brain_mask(flair, pixel_mm)).to(images.device)
        images[index] = images[index] * brain.to(images.dtype)
        masks[index] = masks[index] * brain.to(masks.dtype)
    return images, masks


def drop_sequences(
    images: torch.Tensor, probability: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(N, 3, H, W) in the model's order (pre-contrast, FLAIR, post-contrast): each of the
    two T1 channels is replaced by the FLAIR with ``probability``, independently."""
    draw = torch.rand(images.shape[0], 2, generator=generator).to(images.device)
    replace = draw < probability
    flair = images[:, 1:2]
    out = images.clone()
    out[:, 0:1] = torch.where(replace[:, 0, None, None, None], flair, images[:, 0:1])
    out[:, 2:3] = torch.where(replace[:, 1, None, None, None], flair, images[:, 2:3])
    return out
