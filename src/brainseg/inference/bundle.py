"""Model bundles: config + fp16 weights + metadata in one small ``.pt`` file.

The shipped model lives in ``brainseg/weights/`` as package data, with its card
(``MODEL_CARD.md``) beside it; ``predict``, ``evaluate`` and ``serve`` load it by default.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from brainseg.fileio import write_bytes
from brainseg.inference.predictor import SHIPPED_MODEL, load_model_file


def save_bundle(
    config: dict[str, Any], state_dict: dict[str, Any], meta: dict[str, Any], out: str | Path
) -> Path:
    """Write a bundle with fp16 floating-point weights (integer buffers kept as they are)."""
    import torch

    weights = {k: (v.half() if v.is_floating_point() else v) for k, v in state_dict.items()}
    buffer = io.BytesIO()
    torch.save({"config": config, "state_dict": weights, "meta": meta}, buffer)
    write_bytes(out, buffer.getvalue())
    return Path(out)


def bundle_from_checkpoint(
    checkpoint: str | Path, out: str | Path, inference: dict[str, Any] | None = None, **meta: Any
) -> Path:
    """Bundle a checkpoint; ``inference`` overrides its threshold, TTA and post-processing."""
    config, state, ckpt_meta = load_model_file(checkpoint)
    ckpt_meta.pop("source", None)
    config = {**config, "inference": {**config.get("inference", {}), **(inference or {})}}
    return save_bundle(config, state, {**ckpt_meta, **meta}, out)


def describe_shipped() -> str:
    if not SHIPPED_MODEL.exists():
        return "no bundled model in this install; train one with 'brainseg train'"
    config, state, meta = load_model_file(SHIPPED_MODEL)
    params = sum(v.numel() for v in state.values())
    lines = [
        f"{meta.get('name', SHIPPED_MODEL.stem)} (default)",
        f"  file:       {SHIPPED_MODEL} ({SHIPPED_MODEL.stat().st_size / 1e6:.1f} MB)",
        f"  version:    {meta.get('version', '?')}",
        f"  parameters: {params:,}",
        f"  model:      U-Net features {config['model']['features']}, depth "
        f"{config['model']['depth']}, input {config['data']['resolution']} px, "
        f"normalization {config['data']['normalization']}",
        f"  inference:  {config.get('inference', {})}",
    ]
    card = SHIPPED_MODEL.parent / "MODEL_CARD.md"
    if card.exists():
        lines += ["", card.read_text()]
    return "\n".join(lines)
