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

from brainseg.config import Config
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


# Keys that older model files hold and this brainseg no longer has: the value it can honour
# (None: training-only, any value), and what each was.
RETIRED = {
    ("data", "context"): (0, "2.5D context channels"),
    ("data", "tumor_sampling"): (None, ""),
    ("model", "in_channels"): (3, "input channels other than the three sequences"),
    ("loss", "dice_per_slice"): (None, ""),
    ("train", "lr_step_epochs"): (None, ""),
    ("train", "lr_gamma"): (None, ""),
    ("train", "weight_decay"): (None, ""),
    ("train", "compile"): (None, ""),
}
# Training-only values that older files may hold: what they mean now
RENAMED = {("train", "precision"): {"32": "32-true", "64": "32-true", "64-true": "32-true"}}
RENAMED[("train", "precision")]["bf16-true"] = "bf16-mixed"
RENAMED[("train", "lr_decay")] = {"step": "none"}


def model_config(saved: dict[str, Any], path: str | Path = "model") -> Config:
    """A model file's config, typed: keys added since it was written take their defaults,
    and retired keys go where their value is one this brainseg honours (refused where not),
    here, once, as the file is loaded."""
    from brainseg.config import validate_config

    config = {key: dict(v) if isinstance(v, dict) else v for key, v in saved.items()}
    for (section, key), (honoured, what) in RETIRED.items():
        if key in config.get(section, {}):
            value = config[section].pop(key)
            if honoured is not None and value != honoured:
                raise BrainsegError(
                    f"{path}: made with {section}.{key} {value} ({what}), which this brainseg "
                    "no longer supports"
                )
    for (section, key), meanings in RENAMED.items():
        value = config.get(section, {}).get(key)
        if value in meanings:
            config[section][key] = meanings[value]
    return validate_config(config, str(path))


def resolve_model_path(path: str | Path | None) -> Path:
    """``None`` means the shipped model."""
    if path is None:
        if not SHIPPED_MODEL.exists():
            raise BrainsegError("no shipped model in this install; pass --model CHECKPOINT")
        return SHIPPED_MODEL
    return Path(path)


def load_model_file(path: str | Path | None) -> tuple[Config, dict[str, Any], dict]:
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
        return model_config(config, path), state, meta
    bundle = _load_torch_file(path, weights_only=True)
    if not isinstance(bundle, dict) or "config" not in bundle or "state_dict" not in bundle:
        raise BrainsegError(f"{path}: not a brainseg model bundle")
    meta = dict(bundle.get("meta", {}), source=str(path))
    return model_config(bundle["config"], path), bundle["state_dict"], meta


def load_network(path: str | Path | None, ungated: bool = False):
    """(network in eval mode with fp32 weights, config, meta) for a .ckpt or .pt file.
    ``ungated``: a gated ensemble (``model.member_gate``) runs every member on every slice."""
    from brainseg.models.registry import create_model

    config, state, meta = load_model_file(path)
    if ungated and config.model.member_gate is not None:
        model = config.model.model_copy(update={"member_gate": None})
        config = config.model_copy(update={"model": model})
    net = create_model(config.model)
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError:
        raise BrainsegError(f"{path}: weights do not match the model config") from None
    return net.eval(), config, meta


def save_bundle(
    config: Config, state_dict: dict[str, Any], meta: dict[str, Any], out: str | Path
) -> Path:
    """Write a bundle with fp16 floating-point weights (integer buffers kept as they are).

    Batch-norm statistics and any tensor outside fp16's range stay fp32: a running variance
    above 65504 would become inf and silently wreck the model.
    """
    import torch

    weights = {k: _stored(k, v) for k, v in state_dict.items()}
    buffer = io.BytesIO()
    torch.save({"config": config.to_dict(), "state_dict": weights, "meta": meta}, buffer)
    write_bytes(out, buffer.getvalue())
    return Path(out)


def _stored(name: str, tensor: Any) -> Any:
    """The tensor as the bundle stores it: fp16 where that is finite, else fp32."""
    import torch

    if not tensor.is_floating_point() or name.endswith(("running_mean", "running_var")):
        return tensor
    half = tensor.half()
    return half if bool(torch.isfinite(half).all()) else tensor.float()
