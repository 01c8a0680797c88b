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
- ``flair_only``: 1 where the FLAIR stood in for every sequence.

A :class:`Calibration` (fitted out of fold by :mod:`brainseg.evaluation.calibration`) maps
them to an expected Dice: a linear score, then an isotonic (monotone) map of that score onto
the Dice it had out of fold. It is plain numbers, so it travels in the model's config
(``inference.calibration``), in the .pt bundle and in its ONNX and INT8 exports alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SIGNALS = ("soft_dice", "log_volume", "components", "uncertain", "flair_only")
UNCERTAIN_BAND = (0.25, 0.75)


def case_signals(probs: np.ndarray, mask: np.ndarray, flair_only: bool) -> dict[str, float]:
    """The signals of one volume: (S, H, W) probabilities and final mask in the frame."""
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
    }


@dataclass(frozen=True)
class Calibration:
    """Signals -> expected Dice: ``score = weights . signals + bias``, then the isotonic
    map (``knots_x`` -> ``knots_y``, linear in between, flat outside); ``review_below``:
    a case whose expected Dice is under it is flagged for review."""

    weights: tuple[float, ...]
    bias: float
    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]
    review_below: float
    signals: tuple[str, ...] = SIGNALS
    fitted_on: str = ""

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
        )
