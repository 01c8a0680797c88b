"""The calibration plot: each case's expected Dice (out of fold) against the Dice it got."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainseg.report.figures import save_figure

MARKERS = {"all": ("o", "three sequences"), "flair": ("^", "FLAIR only")}


def plot_calibration(cases: list[dict[str, Any]], review_below: float, out: str | Path) -> None:
    """Expected against actual Dice, one marker per input, the diagonal and the threshold."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    for name, (marker, label) in MARKERS.items():
        mine = [c for c in cases if c["input"] == name]
        if mine:
            x = [c["expected_dice"] for c in mine]
            ax.scatter(x, [c["dice"] for c in mine], marker=marker, s=18, alpha=0.7, label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="expected = actual")
    ax.axvline(review_below, color="tab:red", lw=1, label=f"review below {review_below:.2f}")
    ax.set(xlabel="expected Dice (out of fold)", ylabel="actual Dice", xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, out)
