import numpy as np
import pytest

from brainseg.errors import BrainsegError
from brainseg.postprocess import ELLIPSE_5X5, apply_postprocess, close_slices


def test_ellipse_matches_opencv_element():
    # cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    assert ELLIPSE_5X5.sum() == 17 and ELLIPSE_5X5[2].all() and ELLIPSE_5X5[:, 2].all()


def test_closing_fills_small_holes_and_keeps_borders():
    mask = np.zeros((1, 20, 20), bool)
    mask[0, :10, :10] = True
    mask[0, 4, 4] = False  # a 1-px hole
    closed = close_slices(mask)
    assert closed[0, 4, 4] and closed[0, 0, 0]  # hole filled, no border erosion
    assert closed.sum() == 100


def test_lcc_keeps_largest_3d_component():
    mask = np.zeros((3, 10, 10), bool)
    mask[0:3, 1:4, 1:4] = True  # 27 voxels over three slices
    mask[1, 8, 8] = True  # a speck
    out = apply_postprocess(mask, "lcc")
    assert out.sum() == 27 and not out[1, 8, 8]


def test_lcc2d_and_small():
    mask = np.zeros((2, 10, 10), bool)
    mask[0, 0:2, 0:2] = True
    mask[0, 5:9, 5:9] = True
    mask[1, 9, 0] = True
    assert apply_postprocess(mask, "lcc2d").sum() == 16 + 1
    assert apply_postprocess(mask, "small:5").sum() == 16


def test_rel_drops_components_under_a_share_of_the_largest():
    mask = np.zeros((1, 20, 20), bool)
    mask[0, 0:10, 0:10] = True  # 100 voxels: the largest
    mask[0, 12:17, 12:17] = True  # 25 voxels: 25% of the largest
    mask[0, 0:3, 15:18] = True  # 9 voxels: 9%
    assert apply_postprocess(mask, "rel").sum() == 125  # default 10%
    assert apply_postprocess(mask, "rel:25").sum() == 125  # the bound is kept
    assert apply_postprocess(mask, "rel:26").sum() == 100
    assert apply_postprocess(mask, "small:10+rel:25").sum() == 125
    lone = np.zeros((1, 5, 5), bool)
    lone[0, 2, 2] = True  # one component, however small, is its own largest
    assert (
        apply_postprocess(lone, "rel:25").sum() == 1 and apply_postprocess(lone, "small").sum() == 0
    )


def test_unknown_step_is_an_error():
    with pytest.raises(BrainsegError):
        apply_postprocess(np.zeros((1, 2, 2), bool), "erode")
