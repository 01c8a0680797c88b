"""Models. ``create_model`` builds one from the ``model`` section of a config."""

from brainseg.models.unet import UNet, create_model

__all__ = ["UNet", "create_model"]
