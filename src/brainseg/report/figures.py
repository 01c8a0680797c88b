"""Shared figure helpers: a headless backend and atomic PNG writes."""

from __future__ import annotations

import io
from pathlib import Path

from brainseg.fileio import write_bytes


def save_figure(fig, out: str | Path, dpi: int = 110) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    write_bytes(out, buffer.getvalue())
