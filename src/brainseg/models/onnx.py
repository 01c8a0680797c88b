"""ONNX model files: export (dynamic batch), the onnxruntime runner, the shipped INT8 file
and the per-user cache of exports.

The model's config and metadata travel inside the ONNX file (``metadata_props``), so an
exported model predicts exactly like the checkpoint it came from.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from brainseg.config import Config
from brainseg.cores import available_cores, pinned
from brainseg.errors import BrainsegError
from brainseg.fileio import write_bytes
from brainseg.models.files import (
    SHIPPED_INT8,
    SHIPPED_MODEL,
    file_digest,
    load_network,
    model_config,
)

if TYPE_CHECKING:  # onnx itself is imported where a model is built or edited
    import onnx


def export_onnx(model: str | Path | None, out: str | Path, opset: int = 17) -> Path:
    """Export a .pt/.ckpt model (None: the shipped one) to ONNX with its config inside."""
    net, config, meta = load_network(model)
    return export_network(net, config, meta, out, opset)


def export_network(
    net: Any, config: Config, meta: dict[str, Any], out: str | Path, opset: int = 17
) -> Path:
    """Export a built network (eval mode) to ONNX with a dynamic batch, ``config`` and
    ``meta`` inside."""
    import io

    import onnx
    import torch

    from brainseg.models.registry import IN_CHANNELS

    res = config.data.resolution or 256
    example = torch.zeros(2, IN_CHANNELS, res, res)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (example,),
            buffer,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in {
        "brainseg_config": json.dumps(config.to_dict()),
        "brainseg_meta": json.dumps({k: str(v) for k, v in meta.items()}),
    }.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    out = Path(out)
    write_bytes(out, proto.SerializeToString())
    return out


class OnnxRunner:
    """Runs an exported model with onnxruntime on the CPU."""

    def __init__(self, path: str | Path):
        import onnxruntime as ort

        path = Path(path)
        if not path.exists():
            raise BrainsegError(f"{path}: ONNX model not found")
        self.path = path
        ort.set_default_logger_severity(3)  # errors only: its warnings are no user's business
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Idle pool threads would spin between runs and slow the numpy work in between.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if pinned():  # e.g. one fold of `brainseg cv --jobs`: no more threads than cores
            options.intra_op_num_threads = len(available_cores())
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            reason = type(exc).__name__
            raise BrainsegError(f"{path}: not a loadable ONNX model ({reason})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if "brainseg_config" not in props:
            raise BrainsegError(f"{path}: ONNX file lacks brainseg metadata; re-export it")
        self.config: Config = model_config(json.loads(props["brainseg_config"]), path)
        self.meta: dict[str, Any] = json.loads(props.get("brainseg_meta", "{}"))
        self.quantized = "brainseg_quantization" in props
        self.source_sha1 = props.get("brainseg_source_sha1")  # the bundle it was made from
        self.input_name = self.session.get_inputs()[0].name

    @property
    def name(self) -> str:
        """The engine's name, as ``describe()`` and the service report it."""
        return "onnx-int8" if self.quantized else "onnx"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch.astype(np.float32)})[0]


def shipped_int8() -> OnnxRunner | None:
    """A runner for the shipped INT8 model, if present and made from the shipped bundle's
    exact bytes (its metadata records their hash); otherwise None."""
    if not (SHIPPED_INT8.exists() and SHIPPED_MODEL.exists()):
        return None
    runner = OnnxRunner(SHIPPED_INT8)
    return runner if runner.source_sha1 == file_digest(SHIPPED_MODEL) else None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "brainseg"


def cached_onnx(model: Path | None) -> Path:
    """The ONNX export of a .pt/.ckpt model, made once (locally, nothing is downloaded) and
    kept in the user cache, keyed by the model file's content."""
    source = model or SHIPPED_MODEL
    target = cache_dir() / "onnx" / f"{source.stem}-{file_digest(source)}.onnx"
    if not target.exists():
        export_onnx(model, target)
    return target


def set_member_gate(model: onnx.ModelProto, gate: float, new: float) -> None:
    """Change, in a loaded gated ensemble (an ``onnx.ModelProto``, fp32 or INT8), the gate
    constant ``gate`` to ``new``: the one comparison of the first member's per-slice maximum
    probability with it. ``new`` -1 passes every slice; the config in the metadata follows
    (``member_gate`` None for -1)."""
    from onnx import numpy_helper

    # a constant is an initializer (INT8 files) or a Constant node's tensor (fp32 exports)
    constants = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    gates = [
        constants[node.input[1]]
        for node in model.graph.node
        if node.op_type == "GreaterOrEqual"
        and node.input[1] in constants
        and np.isclose(numpy_helper.to_array(constants[node.input[1]]), gate).all()
    ]
    if len(gates) != 1:
        raise BrainsegError(f"no single member gate of {gate} in this ONNX model")
    value = numpy_helper.to_array(gates[0])
    gates[0].CopyFrom(numpy_helper.from_array(np.full_like(value, new), gates[0].name))
    for entry in model.metadata_props:
        if entry.key == "brainseg_config":
            config = json.loads(entry.value)
            config["model"]["member_gate"] = None if new < 0 else new
            entry.value = json.dumps(config)


def ungated_onnx(path: Path, gate: float) -> Path:
    """A cached copy of a gated ensemble's ONNX file (fp32 or INT8) whose gate passes every
    slice: the same members with the same weights and quantization, each run on every slice
    (``predict --all-members``). An INT8 export calibrates every member on every
    calibration slice (:func:`brainseg.inference.quantize.quantize_onnx`), so its ranges
    hold for every slice here too."""
    import onnx

    target = cache_dir() / "onnx" / f"{path.stem}-{file_digest(path)}-ungated.onnx"
    if target.exists():
        return target
    model = onnx.load(str(path))
    try:
        set_member_gate(model, gate, -1.0)
    except BrainsegError as exc:
        raise BrainsegError(f"{path}: {exc}") from None
    write_bytes(target, model.SerializeToString())
    return target
