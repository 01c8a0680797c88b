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
from typing import Any

import numpy as np

from brainseg.errors import BrainsegError
from brainseg.fileio import write_bytes
from brainseg.models.files import SHIPPED_INT8, SHIPPED_MODEL, file_digest, load_network


def export_onnx(model: str | Path | None, out: str | Path, opset: int = 17) -> Path:
    """Export a .pt/.ckpt model (None: the shipped one) to ONNX with its config inside."""
    net, config, meta = load_network(model)
    return export_network(net, config, meta, out, opset)


def export_network(
    net: Any, config: dict[str, Any], meta: dict[str, Any], out: str | Path, opset: int = 17
) -> Path:
    """Export a built network (eval mode) to ONNX with a dynamic batch, ``config`` and
    ``meta`` inside."""
    import io

    import onnx
    import torch

    res = config["data"].get("resolution") or 256
    example = torch.zeros(2, config["model"].get("in_channels", 3), res, res)
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
        "brainseg_config": json.dumps(config),
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
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Idle pool threads would spin between runs and slow the numpy work in between.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
        self.config: dict[str, Any] = json.loads(props["brainseg_config"])
        self.meta: dict[str, Any] = json.loads(props.get("brainseg_meta", "{}"))
        self.quantized = "brainseg_quantization" in props
        self.source_sha1 = props.get("brainseg_source_sha1")  # the bundle it was made from
        self.input_name = self.session.get_inputs()[0].name

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
