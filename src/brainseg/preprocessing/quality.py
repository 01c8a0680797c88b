"""Quality control per case: what the preprocessing found and did, and what is unusual.

One record per volume, written as a row of ``predictions.csv`` and, when it has warnings,
one line on stderr. Fields (docs/own-scans.md):

- ``sequences``: the sequences used (``flair+t1+t1c``; a missing one is replaced by FLAIR);
- ``orientation``: the input's axis codes (``RAS``, ``LPS``, ``PIR``...), ``acquisition``:
  the plane of its stored slices, ``resliced``, ``resampled``, ``spacing_mm`` and
  ``frame_mm`` (the pixel size it was put on: 0.9 for a whole head);
- ``intensity``: the FLAIR's type and range, and its constant background if it has one;
- ``warnings``: what the reader doubted (a FLAIR the user named that is a T1 or T2 by its
  header or name), "FLAIR only: expect lower Dice (see the model card)", "non-axial
  acquisition resliced to axial", "oblique acquisition", "field of view unlike the training
  data", "no brain-like signal found", and an empty mask on a volume with brain signal;
- ``notes``: what the reader did (a sequence resampled onto the FLAIR grid).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brainseg.io.volume import Volume
from brainseg.preprocessing.geometry import FRAME_PIXEL_MM, FRAME_SIZE
from brainseg.preprocessing.intensity import background_value
from brainseg.preprocessing.pipeline import Prepared

FLAIR_ONLY = "FLAIR only: expect lower Dice (see the model card)"
NO_SIGNAL = "no brain-like signal found"
EMPTY_MASK = "empty mask on a volume with brain signal: no lesion found (check the input)"
MIN_SIGNAL_FRACTION = 0.01  # of the frame's pixels, FLAIR clearly above background
MIN_EXTENT_MM = 90.0  # a brain without skull is about 140 mm wide
MAX_EXTENT_FACTOR = 1.08  # Kaggle heads span 200-230 mm of the 230 mm frame


def _intensity(volume: Volume) -> str:
    flair = volume.array[..., volume.channels.index("flair")]
    if flair.dtype == np.uint8:
        return "uint8"
    data = flair.astype(np.float32)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return f"{flair.dtype}, no finite values"
    text = f"{flair.dtype} {float(finite.min()):.4g}..{float(finite.max()):.4g}"
    if finite.min() < 0:
        text += ", negative values (z-scored?)"
    background = background_value(data)
    if background is not None:
        text += f", background {background:.4g}"
    return text


def _has_signal(prepared: Prepared) -> bool:
    flair = prepared.slices[..., 1]
    top = float(np.percentile(flair, 99.5)) if flair.size else 0.0
    if top <= 0:
        return False
    per_slice = (flair > 0.2 * top).reshape(len(flair), -1).mean(axis=1)
    return float(per_slice.max(initial=0.0)) >= MIN_SIGNAL_FRACTION


def quality_record(volume: Volume, prepared: Prepared, masks: np.ndarray) -> dict[str, Any]:
    """The QC fields of one segmented volume (``masks`` on its own grid)."""
    used = [s for s in ("flair", "t1", "t1c") if s in volume.channels]
    warnings: list[str] = list(volume.warnings)
    if used == ["flair"]:
        warnings.append(FLAIR_ONLY)
    record: dict[str, Any] = {"sequences": "+".join(used), "intensity": _intensity(volume)}
    mapping = prepared.mapping
    if mapping is not None:
        record.update(
            orientation=mapping.input_axes,
            acquisition=mapping.acquisition,
            resliced=mapping.resliced,
            resampled=mapping.resampled,
            spacing_mm="x".join(f"{s:.2f}" for s in mapping.spacing),
            frame_mm=round(mapping.frame_mm, 3),
        )
        if mapping.resliced:
            warnings.append(f"non-axial acquisition ({mapping.acquisition}) resliced to axial")
        if mapping.obliquity_deg > 5:
            warnings.append(
                f"oblique acquisition ({mapping.obliquity_deg:.0f} degrees off the axes): "
                "taken along its nearest axes"
            )
        frame_mm = FRAME_SIZE * FRAME_PIXEL_MM
        if mapping.extent_mm > MAX_EXTENT_FACTOR * frame_mm:
            warnings.append(
                f"field of view unlike the training data: signal spans {mapping.extent_mm:.0f} "
                f"mm, more than the {frame_mm:.0f} mm training frame (cropped to it)"
            )
        elif 0 < mapping.extent_mm < MIN_EXTENT_MM:
            warnings.append(
                f"field of view unlike the training data: only {mapping.extent_mm:.0f} mm "
                "of signal across"
            )
    signal = _has_signal(prepared)
    if not signal:
        warnings.append(NO_SIGNAL)
    elif len(masks) > 1 and not np.asarray(masks).any():  # a lone slice may well be empty
        warnings.append(EMPTY_MASK)
    record["warnings"] = "; ".join(warnings)
    record["notes"] = "; ".join(volume.notes)
    return record
