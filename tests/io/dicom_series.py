"""Build real DICOM MR series with pydicom for the tests: uint16 pixels with scanner-like
rescaling, geometry from a NIfTI-style RAS affine, shuffled file names without suffix and
shuffled InstanceNumbers (so that only the positions can order the slices), and the timing
of real sequences (``FLAIR``, ``MPRAGE``, ``T2_FSE``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

# Acquisition headers as scanners write them (times in ms)
FLAIR = {
    "ScanningSequence": ["SE", "IR"],
    "SequenceVariant": ["SK", "SP", "MP"],
    "MRAcquisitionType": "2D",
    "RepetitionTime": 11000.0,
    "EchoTime": 140.0,
    "InversionTime": 2800.0,
}
MPRAGE = {
    "ScanningSequence": ["GR", "IR"],
    "SequenceVariant": ["SK", "SP", "MP"],
    "MRAcquisitionType": "3D",
    "RepetitionTime": 2530.0,
    "EchoTime": 1.64,
    "InversionTime": 1200.0,
}
T2_FSE = {
    "ScanningSequence": "SE",
    "SequenceVariant": ["SK", "SS"],
    "MRAcquisitionType": "2D",
    "RepetitionTime": 4000.0,
    "EchoTime": 102.0,
}


def uid(*parts: int) -> str:
    return "1.2.826.0.1.3680043.8.498." + ".".join(str(p) for p in parts)


def write_series(
    folder: Path,
    slices: np.ndarray,
    affine: np.ndarray,
    description: str,
    study: int,
    series: int,
    seed: int = 0,
    slope: float = 0.25,
    intercept: float = -100.0,
    header: dict | None = None,
) -> list[str]:
    """``slices`` (S, H, W) float on the grid of the RAS ``affine`` (column, row, slice);
    returns the SOPInstanceUIDs in slice order. ``header`` sets attributes as a scanner or an
    anonymiser would (timing, anonymised values); a value of None removes the attribute."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    folder.mkdir(parents=True, exist_ok=True)
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    col_vec, row_vec = lps[:3, 0], lps[:3, 1]
    spacing = [float(np.linalg.norm(row_vec)), float(np.linalg.norm(col_vec))]
    orientation = [*(col_vec / spacing[1]), *(row_vec / spacing[0])]
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(len(slices)) + 1
    uids = []
    for k, image in enumerate(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MR_STORAGE
        meta.MediaStorageSOPInstanceUID = uid(study, series, k + 1)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        name = folder / f"im{rng.integers(1e9):09d}"
        ds = FileDataset(str(name), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MR_STORAGE, meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^P", "P1", "", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = uid(study), uid(study, series)
        ds.FrameOfReferenceUID = uid(study, 999)
        ds.StudyID, ds.StudyDate, ds.StudyTime = "1", "20260101", "120000"
        ds.ReferringPhysicianName, ds.AccessionNumber = "", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MR", series, int(numbers[k])
        ds.SeriesDescription = description
        ds.Manufacturer = "test"
        ds.ImagePositionPatient = [float(v) for v in (lps @ [0, 0, k, 1])[:3]]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.PixelSpacing = spacing
        ds.SliceThickness = float(np.linalg.norm(lps[:3, 2]))
        ds.Rows, ds.Columns = image.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        stored = np.clip(np.round((image - intercept) / slope), 0, 65535).astype(np.uint16)
        ds.PixelData = stored.tobytes()
        for key, value in (header or {}).items():
            if value is None:
                delattr(ds, key)
            else:
                setattr(ds, key, value)
        pydicom.dcmwrite(name, ds, enforce_file_format=True)
        uids.append(ds.SOPInstanceUID)
    return uids


def stored_values(slices: np.ndarray, slope: float = 0.25, intercept: float = -100.0):
    """What a reader gets back from ``write_series`` after rescaling."""
    stored = np.clip(np.round((slices - intercept) / slope), 0, 65535)
    return (stored * slope + intercept).astype(np.float32)
