"""Load a model once and segment volumes or slices with it.

A model file is a Lightning checkpoint (``.ckpt``), a bundle (``.pt``: config, fp16 weights
and metadata, as shipped in ``brainseg/weights``), or an ONNX export (``.onnx``) that carries
its config in its metadata. The config says how to normalise, at what resolution the model
runs, the threshold and the post-processing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from brainseg.data.normalization import channel_scales
from brainseg.errors import BrainsegError
from brainseg.inference.resize import resize

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "weights" / "brainseg_lgg.pt"
# Its INT8 ONNX export (calibrated on training patients; validation Dice within 0.005 of
# fp32, MODEL_CARD.md): what ``--engine auto`` runs for the shipped model.
SHIPPED_INT8 = SHIPPED_MODEL.with_name("brainseg_lgg.int8.onnx")


def file_digest(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    except OSError:
        raise BrainsegError(f"{path}: model file not found") from None


def shipped_int8():
    """A runner for the shipped INT8 model, if present and made from the shipped bundle's
    exact bytes (its metadata records their hash); otherwise None."""
    if not (SHIPPED_INT8.exists() and SHIPPED_MODEL.exists()):
        return None
    from brainseg.inference.onnx_export import OnnxRunner

    runner = OnnxRunner(SHIPPED_INT8)
    return runner if runner.source_sha1 == file_digest(SHIPPED_MODEL) else None


def _load_torch_file(path: Path, weights_only: bool) -> dict[str, Any]:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except FileNotFoundError:
        raise BrainsegError(f"{path}: model file not found") from None
    except Exception as exc:
        raise BrainsegError(f"{path}: not a readable model file ({type(exc).__name__})") from None


def load_model_file(path: str | Path | None) -> tuple[dict[str, Any], dict[str, Any], dict]:
    """Return (config, state_dict, meta) from a .ckpt or .pt file (``None``: shipped model)."""
    if path is None:
        if not SHIPPED_MODEL.exists():
            raise BrainsegError("no shipped model in this install; pass --model CHECKPOINT")
        path = SHIPPED_MODEL
    path = Path(path)
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
        return config, state, meta
    bundle = _load_torch_file(path, weights_only=True)
    if not isinstance(bundle, dict) or "config" not in bundle or "state_dict" not in bundle:
        raise BrainsegError(f"{path}: not a brainseg model bundle")
    return bundle["config"], bundle["state_dict"], dict(bundle.get("meta", {}), source=str(path))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "brainseg"


def cached_onnx(model: Path | None) -> Path:
    """The ONNX export of a .pt/.ckpt model, made once (locally, nothing is downloaded) and
    kept in the user cache, keyed by the model file's content."""
    from brainseg.inference.onnx_export import export_onnx

    source = model or SHIPPED_MODEL
    digest = file_digest(source)
    target = cache_dir() / "onnx" / f"{source.stem}-{digest}.onnx"
    if not target.exists():
        export_onnx(model, target)
    return target


def model_input(slices: np.ndarray, scales: np.ndarray, resolution: int | None) -> np.ndarray:
    """uint8 RGB slices (N, H, W, 3) -> the model's float32 input (N, 3, R, R): area-resized
    to ``resolution`` (if set) and scaled per channel by the volume's ``scales`` (3,)."""
    x = slices.transpose(0, 3, 1, 2).astype(np.float32)
    if resolution:
        x = resize(x, (resolution, resolution), "area")
    return np.ascontiguousarray(x * scales[None, :, None, None], np.float32)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(logits, -60, 60)))


class Predictor:
    """Segments uint8 RGB volumes (S, H, W, 3); returns tumour probabilities (S, H, W)."""

    def __init__(
        self,
        model: str | Path | None = None,
        engine: str = "torch",  # torch | onnx | auto (the shipped INT8 model where it applies)
        tta: bool | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        threshold: float | None = None,
        postprocess: str | None = None,
    ):
        path = Path(model) if model is not None else None
        self.engine = engine
        runner = shipped_int8() if engine == "auto" and path is None else None
        if engine == "auto" or (path is not None and path.suffix == ".onnx"):
            self.engine = "onnx"
        if self.engine == "onnx":
            from brainseg.inference.onnx_export import OnnxRunner

            if runner is None and (path is None or path.suffix != ".onnx"):
                path = cached_onnx(path)
            self.runner = runner or OnnxRunner(path)
            self.config, self.meta = self.runner.config, self.runner.meta
            if self.runner.quantized:
                self.engine = "onnx-int8"
        else:
            import torch

            from brainseg.models import create_model

            self.config, state, self.meta = load_model_file(path)
            self.net = create_model(self.config["model"])
            try:
                self.net.load_state_dict({k: v.float() for k, v in state.items()})
            except RuntimeError:
                raise BrainsegError(f"{path}: weights do not match the model config") from None
            self.net.eval()
            self.device = torch.device(device)
            self.net.to(self.device)
        inference = self.config.get("inference", {})
        self.tta = inference.get("tta", False) if tta is None else tta
        self.threshold = float(inference.get("threshold", 0.5) if threshold is None else threshold)
        self.postprocess = postprocess or inference.get("postprocess", "none")
        self.batch_size = batch_size
        self.resolution = self.config["data"].get("resolution")
        self.normalization = self.config["data"]["normalization"]

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        if self.engine.startswith("onnx"):
            return self.runner(batch)
        import torch

        with torch.inference_mode():
            return self.net(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()

    def predict_volume(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (S, H, W) float32 for a volume of uint8 RGB slices (S, H, W, 3)."""
        if images.ndim != 4 or images.shape[-1] != 3:
            raise BrainsegError(f"expected slices (S, H, W, 3), got {images.shape}")
        scales = channel_scales(images, self.normalization)
        size = tuple(images.shape[1:3])
        probs = np.empty(images.shape[:3], np.float32)
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            x = model_input(chunk, scales, self.resolution)
            prob = _sigmoid(self._logits(x))
            if self.tta:
                flipped = self._logits(np.ascontiguousarray(x[..., ::-1]))
                prob = (prob + _sigmoid(flipped[..., ::-1])) / 2
            probs[start : start + len(chunk)] = resize(prob, size, "bilinear")[:, 0]
        return probs

    def segment_volume(self, images: np.ndarray, postprocess: str | None = None) -> np.ndarray:
        """Binary masks (S, H, W) after threshold and post-processing."""
        from brainseg.postprocess import apply_postprocess

        masks = self.predict_volume(images) >= self.threshold
        return apply_postprocess(masks, self.postprocess if postprocess is None else postprocess)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.meta.get("name", "model"),
            "version": self.meta.get("version", "?"),
            "engine": self.engine,
            "resolution": self.resolution,
            "normalization": self.normalization,
            "threshold": self.threshold,
            "postprocess": self.postprocess,
            "tta": self.tta,
        }
