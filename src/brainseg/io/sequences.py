"""Which MRI sequence a file holds, from its name, the BraTS way.

A name is split into tokens on anything that is not a letter or digit
(``BraTS20_Training_001_t1ce.nii.gz`` -> ``brats20``, ``training``, ``001``, ``t1ce``) and
matched case-insensitively, last token first, so a case ID never wins over the suffix:

- ``flair``, ``t2flair``, ``t2f`` (BraTS 2023) -> FLAIR;
- ``t1``, ``t1n``, ``t1w`` -> pre-contrast T1;
- ``t1ce``, ``t1c``, ``t1gd``, ``t1post`` -> post-contrast T1;
- ``seg``, ``mask``, ``label``, ``labels`` -> a label file (never an input);
- ``t2``, ``t2w`` -> T2, and ``dwi``, ``adc``... -> known sequences the model does not
  use (skipped in a case folder, refused as the FLAIR).

A name with none of these tokens is ``None``: an unnamed volume, segmented as a FLAIR on
its own.
"""

from __future__ import annotations

import re
from pathlib import Path

from brainseg.io.naming import nifti_stem

FLAIR, T1, T1C, T2 = "flair", "t1", "t1c", "t2"
LABEL, IGNORED = "label", "ignored"

_TOKENS = {
    "flair": FLAIR,
    "t1": T1,
    "t1n": T1,
    "t1w": T1,
    "t1ce": T1C,
    "t1c": T1C,
    "t1gd": T1C,
    "t1post": T1C,
    "seg": LABEL,
    "mask": LABEL,
    "label": LABEL,
    "labels": LABEL,
    "t2": T2,
    "t2w": T2,
    "t2f": FLAIR,  # BraTS 2023: T2-FLAIR
    "t2flair": FLAIR,
    "t2star": IGNORED,
    "dwi": IGNORED,
    "adc": IGNORED,
    "pd": IGNORED,
}
_SPLIT = re.compile(r"[^a-z0-9]+")


def sequence_of(path: str | Path) -> str | None:
    """``flair``, ``t1``, ``t1c``, ``t2``, ``label``, ``ignored`` or None (no sequence token)."""
    stem = nifti_stem(path).lower()
    for token in reversed([t for t in _SPLIT.split(stem) if t]):
        if token in _TOKENS:
            return _TOKENS[token]
    return None
