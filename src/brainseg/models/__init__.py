"""Models: the registry (``create_model``), the networks, and model files
(``brainseg.models.files``: checkpoints, bundles, the shipped model; ``brainseg.models.onnx``:
ONNX export and runtime)."""

from brainseg.models.registry import ARCHITECTURES, create_model
from brainseg.models.unet import UNet

__all__ = ["ARCHITECTURES", "UNet", "create_model"]
