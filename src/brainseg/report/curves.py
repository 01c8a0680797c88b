"""Training curves: loss and Dice against epoch."""

from __future__ import annotations

import csv
from pathlib import Path

from brainseg.report.figures import save_figure


def plot_history(rows: list[dict[str, float]], out: str | Path) -> None:
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_dice) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in rows], "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_dice.plot(epochs, [r["train_dice"] for r in rows], "o-", label="train (pooled)")
    ax_dice.plot(epochs, [r["val_dice"] for r in rows], "o-", label="validation (pooled)")
    ax_dice.plot(
        epochs, [r["val_dice_patient"] for r in rows], "s--", label="validation (per-patient mean)"
    )
    ax_dice.set(xlabel="epoch", ylabel="Dice", title="Dice", ylim=(0, 1))
    for ax in (ax_loss, ax_dice):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, out)


def read_history(path: str | Path) -> list[dict[str, float]]:
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
