"""Per-patient pictures of chosen cases (the worst out-of-fold patients, for the model card's
failure modes): the FLAIR, the truth, and the prediction with all sequences and with the
FLAIR alone, on the slice with the most lesion."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainseg.data.volumes import Patient
from brainseg.io.writers import overlay
from brainseg.report.figures import save_figure


def case_rows_figure(
    rows: list[dict],
    volumes: list[Patient],
    preds: dict[str, np.ndarray],
    preds_flair: dict[str, np.ndarray],
    out: str | Path,
) -> None:
    """One row per ``rows`` entry (``patient``, ``dice``, ``dice_flair_only``): FLAIR, truth
    outline on FLAIR, and both predictions as overlays (truth green, prediction red)."""
    import matplotlib.pyplot as plt

    by_name = {v.patient: v for v in volumes}
    fig, axes = plt.subplots(len(rows), 4, figsize=(9, 2.4 * len(rows)), squeeze=False)
    for ax_row, row in zip(axes, rows, strict=True):
        volume = by_name[row["patient"]]
        i = int(np.argmax(volume.masks.reshape(len(volume.stems), -1).sum(1)))
        flair = volume.images[i][..., 1]
        panels = [
            (flair, f"{row['patient']}\n{volume.stems[i]}"),
            (overlay(flair, volume.masks[i], None), f"truth ({int(volume.masks[i].sum())} px)"),
            (
                overlay(flair, volume.masks[i], preds[row["patient"]][i]),
                f"three sequences: patient Dice {row['dice']:.2f}",
            ),
            (
                overlay(flair, volume.masks[i], preds_flair[row["patient"]][i]),
                f"FLAIR only: {row['dice_flair_only']:.2f}",
            ),
        ]
        for ax, (image, title) in zip(ax_row, panels, strict=True):
            ax.imshow(image, cmap="gray")
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    fig.suptitle(
        "Truth green, prediction red, overlap yellow (slice with the most lesion)", fontsize=8
    )
    save_figure(fig, out, dpi=90)
