"""Dataset summary for ``brainseg inspect``: counts, sizes and tumour fraction per patient."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainseg.data.volumes import Patient
from brainseg.errors import Problem


def summarize(volumes: list[Patient], problems: list[Problem]) -> dict[str, Any]:
    per_patient = []
    shapes, channels = set(), set()
    for v in volumes:
        tumor = v.tumor_slices
        shapes.add(f"{v.images.shape[2]}x{v.images.shape[1]}")
        channels.add(int(v.images.shape[3]))
        per_patient.append(
            {
                "patient": v.patient,
                "slices": len(v.stems),
                "tumor_slices": int(tumor.sum()),
                "tumor_fraction": round(float(tumor.mean()), 4) if len(tumor) else 0.0,
                "lesion_pixels": int(v.masks.sum()),
            }
        )
    return {
        "patients": len(volumes),
        "slices": int(sum(p["slices"] for p in per_patient)),
        "tumor_slices": int(sum(p["tumor_slices"] for p in per_patient)),
        "image_sizes": sorted(shapes),
        "channels": sorted(channels),
        "per_patient": per_patient,
        "problems": [{"file": p.file, "problem": p.reason} for p in problems],
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"patients:      {summary['patients']}",
        f"slices:        {summary['slices']}",
        f"tumour slices: {summary['tumor_slices']}"
        + (f" ({summary['tumor_slices'] / summary['slices']:.1%})" if summary["slices"] else ""),
        f"image size:    {', '.join(summary['image_sizes']) or '-'}",
        f"channels:      {', '.join(map(str, summary['channels'])) or '-'}",
    ]
    if summary["per_patient"]:
        fractions = np.array([p["tumor_fraction"] for p in summary["per_patient"]])
        lines.append(
            f"tumour fraction per patient: min {fractions.min():.2f}, median "
            f"{np.median(fractions):.2f}, max {fractions.max():.2f}"
        )
        lines.append("")
        lines.append(f"{'patient':<28} {'slices':>6} {'tumour':>6} {'fraction':>8}")
        for p in summary["per_patient"]:
            lines.append(
                f"{p['patient']:<28} {p['slices']:>6} {p['tumor_slices']:>6} "
                f"{p['tumor_fraction']:>8.2f}"
            )
    if summary["problems"]:
        lines.append("")
        lines.append(f"{len(summary['problems'])} problem(s):")
        lines += [f"  {p['file']}: {p['problem']}" for p in summary["problems"]]
    return "\n".join(lines)
