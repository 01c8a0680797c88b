"""DICOM-SEG output with highdicom: one binary segment, "FLAIR abnormality", whose frames
reference the source FLAIR series' instances, with the algorithm's identification (brainseg
version, model name and version), so that a viewer or PACS shows it on the right slices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainseg import __version__
from brainseg.fileio import write_bytes

SEGMENT_LABEL = "FLAIR abnormality"


def dicom_seg_bytes(masks: np.ndarray, slice_files: list, model: dict[str, Any]) -> bytes:
    """(S, H, W) binary masks, slice k on ``slice_files[k]`` (a path, or its header already
    read), as DICOM-SEG bytes."""
    import io

    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    sources = [
        f if isinstance(f, pydicom.Dataset) else pydicom.dcmread(f, stop_before_pixels=True)
        for f in slice_files
    ]
    algorithm = hd.AlgorithmIdentificationSequence(
        name=f"brainseg {model.get('name', 'model')}",
        family=codes.DCM.ArtificialIntelligence,
        version=f"{model.get('version', '?')} (brainseg {__version__})",
        source="brainseg",
    )
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=SEGMENT_LABEL,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
        anatomic_regions=[codes.SCT.Brain],
    )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.asarray(masks, bool).astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment],
        series_instance_uid=hd.UID(),
        series_number=int(getattr(sources[0], "SeriesNumber", 0) or 0) + 1000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="brainseg",
        manufacturer_model_name=str(model.get("name", "model")),
        software_versions=__version__,
        device_serial_number="0",
        series_description=f"brainseg {SEGMENT_LABEL}",
        omit_empty_frames=False,
    )
    buffer = io.BytesIO()
    seg.save_as(buffer)
    return buffer.getvalue()


def write_dicom_seg(masks: np.ndarray, slice_files: list[str], model: dict, out: str | Path):
    write_bytes(out, dicom_seg_bytes(masks, slice_files, model))
