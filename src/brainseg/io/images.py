"""Decoding 2D slices (TIFF, PNG, JPEG) safely: sizes are checked before decoding, and every
failure becomes a short reason string instead of an exception from deep inside a codec."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from brainseg.io.naming import IMAGE_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "MAX_PIXELS", "ImageReadError", "read_image", "slice_channels"]

MAX_PIXELS = 4096 * 4096  # refuse anything larger before decoding it

# tifffile logs its own complaints about corrupt files; we report one line per file instead.
logging.getLogger("tifffile").setLevel(logging.CRITICAL)


class ImageReadError(ValueError):
    """The file is not a usable image; the message says why, in a few words."""


def _read_tiff(path: Path) -> np.ndarray:
    """The first page of a TIFF, its size checked before its pixels are decoded (one open)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.pages:
            raise ImageReadError("TIFF has no pages")
        page = tif.pages[0]
        shape = tuple(page.shape)
        if len(shape) == 3 and shape[0] <= 4 and shape[2] > 4:  # planar (C, H, W)
            shape = shape[1:] + shape[:1]
        _check_pixels(shape)
        array = page.asarray()
    if array.ndim == 3 and array.shape[0] <= 4 and array.shape[2] > 4:
        array = np.moveaxis(array, 0, -1)
    return array


def _check_pixels(shape: tuple[int, ...]) -> None:
    if len(shape) < 2 or min(shape[:2]) < 1:
        raise ImageReadError(f"image has no pixels (shape {shape})")
    if shape[0] * shape[1] > MAX_PIXELS:
        raise ImageReadError(f"image too large ({shape[1]}x{shape[0]} pixels, max {MAX_PIXELS})")


def read_image(path: str | Path) -> np.ndarray:
    """Decode one image file into an array (H, W) or (H, W, C), dtype as stored."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageReadError("empty file")
        if path.suffix.lower() in (".tif", ".tiff"):
            array = _read_tiff(path)
        else:
            from PIL import Image

            with Image.open(path) as img:
                _check_pixels((img.height, img.width))
                if img.mode == "P":
                    img = img.convert("RGBA" if "transparency" in img.info else "RGB")
                array = np.asarray(img)
    except ImageReadError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc) or exc.__class__.__name__
        raise ImageReadError(f"unreadable ({_short(reason)})") from None
    except Exception as exc:  # codecs raise many types on corrupt data
        reason = _short(str(exc) or type(exc).__name__)
        raise ImageReadError(f"not a readable image ({reason})") from None
    if array.ndim not in (2, 3) or array.size == 0:
        raise ImageReadError(f"unexpected array shape {array.shape}")
    return array


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# The Kaggle LGG channel order; a single-channel image is a FLAIR.
RGB_SEQUENCES = ("t1", "flair", "t1c")


def slice_channels(array: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """(H, W, C) pixels and their sequence names for a decoded image: grey is FLAIR only,
    RGB is pre-contrast, FLAIR, post-contrast (the Kaggle layout); RGBA drops its alpha."""
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageReadError(f"pixel type {array.dtype} is not numeric")
    if array.ndim == 2:
        array = array[..., None]
    channels = array.shape[2]
    if channels == 1:
        return array, ("flair",)
    if channels in (3, 4):
        return np.ascontiguousarray(array[..., :3]), RGB_SEQUENCES
    raise ImageReadError(f"unexpected channel count {channels} (expected 1 or 3)")
