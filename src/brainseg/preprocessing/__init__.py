"""Preprocessing shared by training and every way of predicting: one definition of how a
``Volume`` becomes network input and how the output goes back (see ``pipeline``)."""

from brainseg.preprocessing.intensity import channel_scales, normalize, to_uint8
from brainseg.preprocessing.pipeline import (
    MODEL_SEQUENCES,
    Preprocessor,
    assemble_channels,
    resize_masks,
    resize_slices,
)

__all__ = [
    "MODEL_SEQUENCES",
    "Preprocessor",
    "assemble_channels",
    "channel_scales",
    "normalize",
    "resize_masks",
    "resize_slices",
    "to_uint8",
]
