"""DICOM-SEG output with highdicom: one binary segment, "FLAIR abnormality", whose frames
reference the source FLAIR series' instances, with the algorithm's identification (brainseg
version, model name and version), so that a viewer or PACS shows it on the right slices.

The patient and study attributes come from the source where they are valid and are made
valid where not (``brainseg.io.dicom_clean``: anonymised values, missing type-2 attributes,
odd character sets); each change, and anything the libraries warn of, is a note for the
QC record, never a crash."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainseg import __version__
from brainseg.io.dicom_clean import clean_copied, clean_headers
from brainseg.logs import library_warnings

SEGMENT_LABEL = "FLAIR abnormality"


def dicom_seg_bytes(
    masks: np.ndarray, slice_files: list, model: dict[str, Any]
) -> tuple[bytes, list[str]]:
    """(S, H, W) binary masks, slice k on ``slice_files[k]`` (a path, or its header already
    read), as DICOM-SEG bytes; and the notes on what the source's header needed."""
    import pydicom

    with library_warnings() as warned:
        sources = [
            f if isinstance(f, pydicom.Dataset) else pydicom.dcmread(f, stop_before_pixels=True)
            for f in slice_files
        ]
        sources, notes = clean_headers(sources)
        data, copied = _segmentation(masks, sources, model)
    notes += copied
    if warned:
        notes.append(f"{len(warned)} DICOM library warning(s) about the header (--verbose)")
    return data, notes


def _series_number(source) -> int:
    try:
        return int(str(source.get("SeriesNumber") or 0)) % 10000 + 1000
    except ValueError:
        return 1000


def _segmentation(masks: np.ndarray, sources: list, model: dict[str, Any]):
    import io

    import highdicom as hd
    from pydicom.sr.codedict import codes

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
        series_number=_series_number(sources[0]),
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="brainseg",
        manufacturer_model_name=str(model.get("name", "model")),
        software_versions=__version__,
        device_serial_number="0",
        series_description=f"brainseg {SEGMENT_LABEL}",
        omit_empty_frames=False,
    )
    notes = clean_copied(seg)
    buffer = io.BytesIO()
    seg.save_as(buffer)
    return buffer.getvalue(), notes
