"""Which MR sequence a DICOM series holds: from its acquisition header first, from its
descriptions second (docs/own-scans.md, "Which series is the FLAIR").

Header rules, times in ms (RepetitionTime TR, EchoTime TE, InversionTime TI):

- **FLAIR**: an inversion pulse (``IR`` in ScanningSequence, or a TI) with a long TI
  (>= 1400) and, where given, a long TR (>= 4000) and TE (>= 50): fluid nulled, T2-weighted.
- **T1**: an inversion with a TI below 1400 and a TR below 4000 (MPRAGE, T1-FLAIR), or an
  inversion with a long TI read out by a short-TE gradient echo (MP2RAGE); or no inversion
  with a short TR (<= 1000) and a short TE (<= 30 spin echo, < 12 gradient echo).
  Post-contrast when ContrastBolusAgent is set or the description says so.
- **T2**: no inversion (ScanningSequence given, without ``IR``, and no TI), a long TE (>= 60)
  and TR (>= 1500).
- **other**: a short-TI inversion (STIR, TI <= 400), echo-planar without an inversion
  (diffusion, BOLD, perfusion), gradient echo with a long TE (T2*, SWI), proton density.

A header without these tags says nothing, and the description decides. Where both speak and
disagree, the header wins, except that a description FLAIR with a header T2 stays a FLAIR
with a warning: some exports drop the inversion tags, and a fluid-nulled image cannot be
told from its timing alone without them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from brainseg.io.sequences import FLAIR, T1, T1C, T2

OTHER = "other"
LONG_TI, SHORT_TI = 1400.0, 400.0
LONG_TR, LONG_TE = 4000.0, 50.0
NAMES = {FLAIR: "a FLAIR", T1: "a T1", T1C: "a post-contrast T1", T2: "a T2"}


@dataclass(frozen=True)
class SeriesKind:
    """What a series is (``sequence``: FLAIR, T1, T1C, T2, OTHER or None when nothing says),
    in words for messages (``what``: "a T1 (inversion recovery, TI 900 ms, TR 2300 ms)"), and
    a warning where header and description disagree."""

    sequence: str | None
    what: str = "not recognised"
    warning: str = ""


def _number(header, key: str) -> float | None:
    value = getattr(header, key, None)
    if value is None or value == "":
        return None
    if not isinstance(value, (int, float, str)):  # a multi-valued element: its first value
        value = next(iter(value), None)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _codes(header, key: str) -> set[str]:
    value = getattr(header, key, None)
    if value is None or value == "":
        return set()
    values = [value] if isinstance(value, str) else list(value)
    return {str(v).strip().upper() for v in values}


def _timing(tr: float | None, te: float | None, ti: float | None) -> str:
    pairs = (("TI", ti), ("TE", te), ("TR", tr))
    return ", ".join(f"{name} {value:.0f} ms" for name, value in pairs if value is not None)


@dataclass(frozen=True)
class _Timing:
    """The acquisition tags the rules read, in ms (None where absent or unusable)."""

    scanning: frozenset[str]
    tr: float | None
    te: float | None
    ti: float | None

    @property
    def gradient(self) -> bool:
        return "GR" in self.scanning and "SE" not in self.scanning

    def __str__(self) -> str:
        return _timing(self.tr, self.te, self.ti)


def _inverted(t: _Timing) -> tuple[str | None, str]:
    """The rules for a series with an inversion pulse and a known TI."""
    long_tr = t.tr is None or t.tr >= LONG_TR
    if t.ti <= SHORT_TI:
        return OTHER, f"a STIR (short-TI inversion recovery, {t})"
    if t.ti >= LONG_TI and t.gradient and (t.te is None or t.te < 12):
        return T1, f"inversion-recovery gradient echo, {t} (MP2RAGE-like)"
    if t.ti >= LONG_TI and long_tr and (t.te is None or t.te >= LONG_TE):
        return FLAIR, f"inversion recovery, {t}"
    if t.ti < LONG_TI and not long_tr:
        return T1, f"inversion-recovery {'gradient' if t.gradient else 'spin'} echo, {t}"
    return None, ""


def _not_inverted(t: _Timing) -> tuple[str | None, str]:
    """The rules for a series whose ScanningSequence shows no inversion (TE and TR known)."""
    if t.te >= 60 and t.tr >= 1500:
        return T2, f"no inversion, {t}"
    if t.tr <= 1000 and t.te < (12 if t.gradient else 30):
        return T1, f"no inversion, {t}"
    if t.gradient and t.te >= 12:
        return OTHER, f"a gradient echo with a long TE (T2* or SWI, {t})"
    if t.tr >= 1500 and t.te < 40:
        return OTHER, f"a proton-density series (no inversion, {t})"
    return None, ""


def header_sequence(header) -> tuple[str | None, str]:
    """(sequence, evidence) from the acquisition tags alone; (None, "") when they say nothing."""
    t = _Timing(
        frozenset(_codes(header, "ScanningSequence")),
        _number(header, "RepetitionTime"),
        _number(header, "EchoTime"),
        _number(header, "InversionTime"),
    )
    if t.ti is not None:
        return _inverted(t)
    if "IR" in t.scanning:  # an inversion of unknown TI
        return None, ""
    if "EP" in t.scanning:
        return OTHER, f"an echo-planar series without inversion (diffusion or BOLD, {t})"
    if t.tr is None or t.te is None or not t.scanning:
        return None, ""
    return _not_inverted(t)


_POST = re.compile(r"(post|\+c\b|gad|\bgd\b|contrast|\bce\b|t1c|t1ce|t1gd|\+gd)", re.I)
_OTHER = re.compile(
    r"(dwi|diff|\badc\b|trace|dti|\bbold\b|perf|\bswi\b|t2\*|t2star|\bgre\b|localizer|"
    r"\bloc\b|scout|survey|\bstir\b|\bpd\b)",
    re.I,
)


def description_sequence(description: str) -> str | None:
    """FLAIR, T1, T1C, T2, OTHER or None from a series' description text."""
    text = description.lower()
    t1_flair = re.search(r"t1[ _-]?(w[ _-]?)?flair", text)
    if ("flair" in text or re.search(r"dark[ _-]?fluid", text)) and not t1_flair:
        return FLAIR
    if t1_flair or re.search(r"t1|mprage|spgr|tfl|bravo|mp2rage", text):
        return T1C if _POST.search(text) else T1
    if _OTHER.search(text):
        return OTHER
    if re.search(r"t2|\btse\b|\bfse\b", text):
        return T2
    return None


def classify_series(header, description: str) -> SeriesKind:
    """The series' sequence from its header and description (the module's rules)."""
    by_header, evidence = header_sequence(header)
    by_text = description_sequence(description)
    if by_header == T1 and (by_text == T1C or str(getattr(header, "ContrastBolusAgent", ""))):
        by_header = T1C
    if by_header is None:
        if by_text is None:
            return SeriesKind(None)
        return SeriesKind(by_text, f"{_name(by_text)} (by its description)")
    if by_header == T2 and by_text == FLAIR:
        return SeriesKind(
            FLAIR,
            f"a FLAIR by its description ({evidence})",
            f"the FLAIR's header shows {evidence}: check that it is a FLAIR",
        )
    if by_header == OTHER:
        return SeriesKind(OTHER, evidence)
    return SeriesKind(by_header, f"{_name(by_header)} ({evidence})")


def _name(sequence: str) -> str:
    return NAMES.get(sequence, "not a FLAIR, T1 or T2")
