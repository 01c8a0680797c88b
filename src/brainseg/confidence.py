"""Expected quality per case: signals a prediction carries about its own quality, and the
calibrated map from them to an expected Dice and a review flag.

The signals are computed in the training frame (256 x 256 slices of about 0.9 mm, the
input's own slices), from a volume's probabilities and its final mask, so that they mean the
same for a Kaggle patient, a NIfTI volume and a DICOM series:

- ``soft_dice``: the Dice between the mask and the probabilities themselves,
  2 sum(p m) / (sum p + sum m); high where the model is sure of every voxel it outlines and
  of nothing else;
- ``log_volume``: log10(1 + lesion voxels), since small lesions score lower;
- ``components``: the mask's 3D connected components (26-connectivity);
- ``uncertain``: the share of voxels at 0.25 < p < 0.75 among those and the mask's;
- ``flair_only``: 1 where the FLAIR stood in for every sequence;
- ``ring_bright``: the share of the tissue in a ring of ``RING_PX`` pixels around the mask
  (in-plane, square) that is at least as bright on the FLAIR as the mask's darkest quarter; high
  where the lesion goes on beyond the mask, which a model's own probabilities cannot show
  when it is sure of the part it outlined;
- ``contrast``: the mask's median FLAIR minus the ring's, in interquartile ranges of the
  head's tissue; low where the mask stops inside the lesion or spills into normal tissue.

The last two read the FLAIR in the frame, so they depend on no model; being ranks and
ratios, they do not depend on the FLAIR's scale either.

A :class:`Calibration` (fitted out of fold by :mod:`brainseg.evaluation.calibration`) maps
them to an expected Dice: a linear score, then an isotonic (monotone) map of that score onto
the Dice it had out of fold. It is plain numbers, so it travels in the model's config
(``inference.calibration``), in the .pt bundle and in its ONNX and INT8 exports alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SIGNALS = (
    "soft_dice",
    "log_volume",
    "components",
    "uncertain",
    "flair_only",
    "ring_bright",
    "contrast",
)
UNCERTAIN_BAND = (0.25, 0.75)
RING_PX = 4  # about 3.6 mm in the training frame
TISSUE = 0.12  # tissue: FLAIR above this share of its 99th percentile (as brainmask does)


def extent_signals(flair: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """``ring_bright`` and ``contrast`` of a final mask (S, H, W) on its FLAIR (S, H, W)."""
    from scipy import ndimage

    none = {"ring_bright": 0.0, "contrast": 0.0}
    slices, rows, cols = (np.flatnonzero(mask.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1)))
    if not slices.size:
        return none
    box = (  # the mask's bounding box grown by the ring: all that the dilation needs
        slice(slices[0], slices[-1] + 1),
        slice(max(0, rows[0] - RING_PX), rows[-1] + RING_PX + 1),
        slice(max(0, cols[0] - RING_PX), cols[-1] + RING_PX + 1),
    )
    values = np.asarray(flair, np.float32)
    sample = values[:, ::2, ::2]  # quantiles of the whole volume: a quarter of it is plenty
    tissue_min = TISSUE * float(np.percentile(sample, 99))
    tissue = sample[sample > tissue_min]
    side = 2 * RING_PX + 1  # a square ring: separable, so fast on large lesions
    grown = ndimage.maximum_filter(mask[box].view(np.uint8), size=(1, side, side)) > 0
    around = values[box][grown & ~mask[box]]
    ring = around[around > tissue_min]
    if not ring.size or not tissue.size:
        return none
    inside = values[mask]
    low, high = np.percentile(tissue, [25, 75])
    return {
        "ring_bright": round(float((ring >= np.percentile(inside, 25)).mean()), 5),
        "contrast": round(float((np.median(inside) - np.median(ring)) / max(high - low, 1e-6)), 5),
    }


def case_signals(
    probs: np.ndarray, mask: np.ndarray, flair_only: bool, flair: np.ndarray
) -> dict[str, float]:
    """The signals of one volume: (S, H, W) probabilities, final mask and FLAIR, all in the
    frame."""
    from scipy import ndimage

    p = np.asarray(probs, np.float32)
    m = np.asarray(mask, bool)
    overlap, p_sum, m_sum = float(p[m].sum()), float(p.sum(dtype=np.float64)), int(m.sum())
    soft_dice = 2 * overlap / (p_sum + m_sum) if m_sum else 0.0
    low, high = UNCERTAIN_BAND
    unsure = int(((p > low) & (p < high)).sum())
    components = ndimage.label(m, structure=np.ones((3,) * m.ndim))[1] if m_sum else 0
    return {
        "soft_dice": round(soft_dice, 5),
        "log_volume": round(float(np.log10(1 + m_sum)), 5),
        "components": float(components),
        "uncertain": round(unsure / (unsure + m_sum), 5) if unsure + m_sum else 0.0,
        "flair_only": 1.0 if flair_only else 0.0,
        **extent_signals(flair, m),
    }


@dataclass(frozen=True)
class Calibration:
    """Signals -> expected Dice: ``score = weights . signals + bias``, then the isotonic
    map (``knots_x`` -> ``knots_y``, linear in between, flat outside); ``review_below``:
    a case whose expected Dice is under it is flagged for review; ``postprocess``: the
    post-processing of the masks it was fitted on (empty in files that predate it), the only
    one whose masks it describes."""

    weights: tuple[float, ...]
    bias: float
    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]
    review_below: float
    signals: tuple[str, ...] = SIGNALS
    fitted_on: str = ""
    postprocess: str = ""

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.signals) or set(self.signals) - set(SIGNALS):
            raise ValueError(f"weights for the signals {', '.join(SIGNALS)}")
        if len(self.knots_x) != len(self.knots_y) or not self.knots_x:
            raise ValueError("as many isotonic knots_x as knots_y, at least one")

    def expected_dice(self, signals: dict[str, float]) -> float:
        pairs = zip(self.weights, self.signals, strict=True)
        score = self.bias + sum(w * signals[name] for w, name in pairs)
        return round(float(np.clip(np.interp(score, self.knots_x, self.knots_y), 0, 1)), 3)

    def assess(self, signals: dict[str, float]) -> dict[str, Any]:
        """``expected_dice`` and ``review`` of one case."""
        expected = self.expected_dice(signals)
        return {"expected_dice": expected, "review": bool(expected < self.review_below)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "signals": list(self.signals),
            "weights": list(self.weights),
            "bias": self.bias,
            "knots_x": list(self.knots_x),
            "knots_y": list(self.knots_y),
            "review_below": self.review_below,
            "fitted_on": self.fitted_on,
            "postprocess": self.postprocess,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Calibration:
        return cls(
            weights=tuple(float(w) for w in saved["weights"]),
            bias=float(saved["bias"]),
            knots_x=tuple(float(x) for x in saved["knots_x"]),
            knots_y=tuple(float(y) for y in saved["knots_y"]),
            review_below=float(saved["review_below"]),
            signals=tuple(saved.get("signals", SIGNALS)),
            fitted_on=str(saved.get("fitted_on", "")),
            postprocess=str(saved.get("postprocess", "")),
        )
