"""Model files: training checkpoints (``.ckpt``), bundles (``.pt``) and the shipped model.

Every place that reads or writes weights calls this module: ``load_model_file`` gives
(config, state_dict, meta) for a checkpoint or bundle, ``load_network`` builds the network
with its weights, ``save_bundle`` writes a bundle. A bundle is config + fp16 weights +
metadata in one small file; the shipped one lives in ``brainseg/weights`` with its card.
ONNX files are handled in ``brainseg.models.onnx``.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from brainseg.errors import BrainsegError
from brainseg.fileio import write_bytes

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
SHIPPED_MODEL = WEIGHTS_DIR / "brainseg_lgg.pt"
# Its INT8 ONNX export: what ``--engine auto`` runs for the shipped model (MODEL_CARD.md).
SHIPPED_INT8 = SHIPPED_MODEL.with_name("brainseg_lgg.int8.onnx")
SHIPPED_CARD = WEIGHTS_DIR / "MODEL_CARD.md"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise BrainsegError(f"{path}: model file not found") from None


def file_digest(path: Path) -> str:
    """Short sha1 of a file's bytes: the key an INT8 export records for its source bundle."""
    return hashlib.sha1(_read(path)).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """sha256 of a model file, as model cards and predictions.csv report it."""
    return hashlib.sha256(_read(path)).hexdigest()


def _load_torch_file(path: Path, weights_only: bool) -> dict[str, Any]:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except FileNotFoundError:
        raise BrainsegError(f"{path}: model file not found") from None
    except Exception as exc:
        raise BrainsegError(f"{path}: not a readable model file ({type(exc).__name__})") from None


def model_config(saved: dict[str, Any]) -> dict[str, Any]:
    """A model file's config with every key: one written by an older brainseg lacks the
    keys added since, which take their defaults here, once, as the file is loaded."""
    from brainseg.config import DEFAULT_CONFIG, deep_merge

    return deep_merge(DEFAULT_CONFIG, saved)


def resolve_model_path(path: str | Path | None) -> Path:
    """``None`` means the shipped model."""
    if path is None:
        if not SHIPPED_MODEL.exists():
            raise BrainsegError("no shipped model in this install; pass --model CHECKPOINT")
        return SHIPPED_MODEL
    return Path(path)


def load_model_file(path: str | Path | None) -> tuple[dict[str, Any], dict[str, Any], dict]:
    """Return (config, state_dict, meta) from a .ckpt or .pt file (``None``: shipped model)."""
    path = resolve_model_path(path)
    if path.suffix == ".onnx":
        raise BrainsegError(f"{path}: an ONNX file holds no trainable weights; use .pt or .ckpt")
    if path.suffix == ".ckpt":
        ckpt = _load_torch_file(path, weights_only=False)
        try:
            config = ckpt["hyper_parameters"]["config"]
            state = {
                k[len("model.") :]: v
                for k, v in ckpt["state_dict"].items()
                if k.startswith("model.")
            }
        except (KeyError, TypeError):
            raise BrainsegError(f"{path}: not a brainseg training checkpoint") from None
        meta = {
            "name": path.parent.name,
            "version": f"epoch {ckpt.get('epoch', '?')}",
            "source": str(path),
        }
        return model_config(config), state, meta
    bundle = _load_torch_file(path, weights_only=True)
    if not isinstance(bundle, dict) or "config" not in bundle or "state_dict" not in bundle:
        raise BrainsegError(f"{path}: not a brainseg model bundle")
    meta = dict(bundle.get("meta", {}), source=str(path))
    return model_config(bundle["config"]), bundle["state_dict"], meta


def load_network(path: str | Path | None, ungated: bool = False):
    """(network in eval mode with fp32 weights, config, meta) for a .ckpt or .pt file.
    ``ungated``: a gated ensemble (``model.member_gate``) runs every member on every slice."""
    from brainseg.models.registry import create_model

    config, state, meta = load_model_file(path)
    if ungated and config["model"]["member_gate"] is not None:
        config = {**config, "model": {**config["model"], "member_gate": None}}
    net = create_model(config["model"])
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError:
        raise BrainsegError(f"{path}: weights do not match the model config") from None
    return net.eval(), config, meta


def save_bundle(
    config: dict[str, Any], state_dict: dict[str, Any], meta: dict[str, Any], out: str | Path
) -> Path:
    """Write a bundle with fp16 floating-point weights (integer buffers kept as they are).

    Batch-norm statistics and any tensor outside fp16's range stay fp32: a running variance
    above 65504 would become inf and silently wreck the model.
    """
    import torch

    weights = {k: _stored(k, v) for k, v in state_dict.items()}
    buffer = io.BytesIO()
    torch.save({"config": config, "state_dict": weights, "meta": meta}, buffer)
    write_bytes(out, buffer.getvalue())
    return Path(out)


def _stored(name: str, tensor: Any) -> Any:
    """The tensor as the bundle stores it: fp16 where that is finite, else fp32."""
    import torch

    if not tensor.is_floating_point() or name.endswith(("running_mean", "running_var")):
        return tensor
    half = tensor.half()
    return half if bool(torch.isfinite(half).all()) else tensor.float()
