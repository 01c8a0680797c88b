"""Models: the registry (``create_model``), the networks, and model files
(``brainseg.models.files``: checkpoints, bundles, the shipped model; ``brainseg.models.onnx``:
ONNX export and runtime).

The registry and the networks are imported on first use, not with this package: prediction
with ONNX Runtime reads model files through ``brainseg.models.files`` and must not pay for
importing torch (about 1-2 s a process, docs/performance.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brainseg.models.registry import ARCHITECTURES, create_model
    from brainseg.models.unet import UNet

__all__ = ["ARCHITECTURES", "UNet", "create_model"]


def __getattr__(name: str) -> Any:
    if name in ("ARCHITECTURES", "create_model"):
        from brainseg.models import registry

        return getattr(registry, name)
    if name == "UNet":
        from brainseg.models.unet import UNet

        return UNet
    raise AttributeError(f"module 'brainseg.models' has no attribute {name!r}")
