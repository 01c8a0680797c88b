"""Data-exploration figures for ``brainseg inspect --figures``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainseg.data.volumes import Patient
from brainseg.report.figures import save_figure


def _outline(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return mask.astype(bool) & ~ndimage.binary_erosion(mask.astype(bool))


def write_exploration_figures(volumes: list[Patient], out: str | Path, seed: int = 0) -> list[Path]:
    """Montage with mask outlines, slices with/without tumour per patient, lesion sizes and
    intensity histograms per channel. Returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    rng = np.random.default_rng(seed)
    paths = []

    # 1. montage of random slices (tumour slices preferred) with outlines
    pool = [(v, i) for v in volumes for i in np.flatnonzero(v.tumor_slices)]
    pool = pool or [(v, i) for v in volumes for i in range(len(v.stems))]
    picks = [pool[i] for i in rng.choice(len(pool), size=min(12, len(pool)), replace=False)]
    cols = 4
    rows = int(np.ceil(len(picks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (v, i) in zip(axes.ravel(), picks, strict=False):
        ax.imshow(v.images[i])
        edge = _outline(v.masks[i])
        ys, xs = np.nonzero(edge)
        ax.scatter(xs, ys, s=0.3, c="red")
        ax.set_title(v.stems[i], fontsize=7)
    fig.suptitle("Random slices (RGB = pre-contrast, FLAIR, post-contrast) with mask outlines")
    paths.append(out / "montage.png")
    save_figure(fig, paths[-1])

    # 2. slices with and without tumour per patient
    fig, ax = plt.subplots(figsize=(max(6, len(volumes) * 0.2), 4))
    names = [v.patient for v in volumes]
    with_t = np.array([v.tumor_slices.sum() for v in volumes])
    total = np.array([len(v.stems) for v in volumes])
    ax.bar(range(len(names)), with_t, label="with tumour", color="tab:red")
    ax.bar(range(len(names)), total - with_t, bottom=with_t, label="no tumour", color="tab:gray")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=5)
    ax.set(ylabel="slices", title="Slices with and without tumour per patient")
    ax.legend()
    paths.append(out / "slices_per_patient.png")
    save_figure(fig, paths[-1])

    # 3. lesion size distribution (per slice and per patient)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    slice_sizes = np.concatenate([v.masks.reshape(len(v.stems), -1).sum(1) for v in volumes])
    a1.hist(slice_sizes[slice_sizes > 0], bins=40, color="tab:red")
    a1.set(xlabel="lesion pixels per tumour slice", ylabel="slices", title="Lesion size per slice")
    a2.hist([int(v.masks.sum()) for v in volumes], bins=20, color="tab:purple")
    a2.set(xlabel="lesion pixels per patient", ylabel="patients", title="Lesion size per patient")
    paths.append(out / "lesion_sizes.png")
    save_figure(fig, paths[-1])

    # 4. intensity histograms per channel, one line per patient (non-zero pixels)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    bins = np.arange(0, 257, 4)
    for c, (ax, title) in enumerate(
        zip(axes, ["pre-contrast", "FLAIR", "post-contrast"], strict=True)
    ):
        for v in volumes:
            values = v.images[..., c].ravel()
            hist, _ = np.histogram(values[values > 0], bins=bins, density=True)
            ax.plot(bins[:-1], hist, alpha=0.4, lw=0.8)
        ax.set(title=f"{title} intensity per patient", xlabel="value (non-zero pixels)")
    paths.append(out / "intensity_histograms.png")
    save_figure(fig, paths[-1])
    return paths
