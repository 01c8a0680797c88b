"""INT8 ONNX models: static quantization calibrated on real slices.

ONNX Runtime's static quantization (QDQ, per-channel int8 weights, uint8 activations) needs
activation ranges, so it is calibrated on slices of real volumes (given by the caller),
preprocessed exactly as the predictor does. It pays on CPUs (docs/performance.md); its Dice
must stay within 0.005 of fp32 (check your own model with
``brainseg evaluate --model X.int8.onnx``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from brainseg.config import Config
from brainseg.errors import BrainsegError
from brainseg.fileio import write_bytes
from brainseg.io.volume import Volume


def calibration_batches(
    volumes: list[Volume], config: Config, per_patient: int = 8
) -> list[np.ndarray]:
    """Model-ready batches: ``per_patient`` evenly spaced slices of each volume, normalised
    and resized as the predictor does."""
    from brainseg.preprocessing import Preprocessor

    if not volumes:
        raise BrainsegError("no volumes to calibrate the INT8 export on")
    pre = Preprocessor(config.data)
    batches = []
    for volume in volumes:
        slices = pre.slices(volume)
        chosen_slices = slices[np.linspace(0, len(slices) - 1, per_patient).astype(int)]
        batches.append(pre.network_input(chosen_slices, pre.scales(slices)))
    return batches


def quantize_onnx(
    fp32_onnx: str | Path,
    out: str | Path,
    batches: list[np.ndarray],
    extra_meta: dict[str, str] | None = None,
) -> Path:
    """Write an INT8 (QDQ) copy of ``fp32_onnx`` calibrated on ``batches``; the brainseg
    metadata (config, model card fields) is carried over. A gated ensemble is calibrated
    with its gate lifted, so that every member's ranges come from every calibration slice:
    otherwise a later member is calibrated only on the slices that pass the gate (on none,
    for a calibration set that never opens it) and runs on others with ``--all-members``."""
    import json

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(batches)

        def get_next(self) -> dict | None:
            batch = next(self.batches, None)
            return None if batch is None else {"image": batch}

    from brainseg.models.files import model_config
    from brainseg.models.onnx import set_member_gate

    source = onnx.load(str(fp32_onnx))
    props = {e.key: e.value for e in source.metadata_props}
    if "brainseg_config" not in props:
        raise BrainsegError(f"{fp32_onnx}: ONNX file lacks brainseg metadata; re-export it")
    gate = model_config(json.loads(props["brainseg_config"]), fp32_onnx).model.member_gate
    with tempfile.TemporaryDirectory() as tmp:
        prepared, quantized = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        if gate is not None:
            ungated = onnx.ModelProto()
            ungated.CopyFrom(source)  # the loaded graph, not a second read of the file
            set_member_gate(ungated, gate, -1.0)
            fp32_onnx = Path(tmp) / "ungated.onnx"
            onnx.save(ungated, str(fp32_onnx))
        quant_pre_process(str(fp32_onnx), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        model = onnx.load(str(quantized))
    if gate is not None:
        set_member_gate(model, -1.0, gate)
    del model.metadata_props[:]
    model.metadata_props.extend(source.metadata_props)
    for key, value in {
        "brainseg_quantization": "int8-qdq-per-channel",
        **(extra_meta or {}),
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    write_bytes(out, model.SerializeToString())
    return Path(out)


def export_int8(
    model: str | Path | None, out: str | Path, calibration: list[Volume]
) -> tuple[Path, int]:
    """Export ``model`` (None: the shipped one) to an INT8 ONNX file calibrated on slices of
    the ``calibration`` volumes (``brainseg.data.volumes.calibration_volumes`` reads them
    from a labelled dataset); return the path and how many volumes were used."""
    from brainseg.models.files import SHIPPED_MODEL, file_digest
    from brainseg.models.onnx import OnnxRunner, export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx")
        batches = calibration_batches(calibration, OnnxRunner(fp32).config)
        source = {"brainseg_source_sha1": file_digest(Path(model) if model else SHIPPED_MODEL)}
        return quantize_onnx(fp32, out, batches, source), len(batches)
