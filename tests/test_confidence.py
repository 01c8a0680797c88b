"""Expected quality: the signals' known values and the calibration's map."""

import numpy as np
import pytest

from brainseg.confidence import SIGNALS, Calibration, case_signals, extent_signals


def test_signals_of_a_sure_mask_and_of_an_unsure_one():
    probs = np.zeros((3, 8, 8), np.float32)
    probs[1, 2:4, 2:4] = 1.0  # 4 sure voxels
    mask = probs >= 0.5
    sure = case_signals(probs, mask, False, np.zeros_like(probs))
    assert sure == {
        "soft_dice": 1.0,
        "log_volume": pytest.approx(np.log10(5), abs=1e-5),
        "components": 1.0,
        "uncertain": 0.0,
        "flair_only": 0.0,
        "ring_bright": 0.0,  # no tissue on a black FLAIR
        "contrast": 0.0,
    }
    probs[1, 2:4, 2:4] = 0.6  # the same mask, barely above the threshold
    probs[2, 6, 6] = 0.4  # and one voxel below it
    unsure = case_signals(probs, probs >= 0.5, True, np.zeros_like(probs))
    # 2 * (4 * 0.6) / (4 * 0.6 + 0.4 + 4) = 4.8 / 6.8
    assert unsure["soft_dice"] == pytest.approx(4.8 / 6.8, abs=1e-5)
    assert unsure["uncertain"] == pytest.approx(5 / 9, abs=1e-5)  # 5 unsure, 4 in the mask
    assert unsure["flair_only"] == 1.0


def test_signals_of_an_empty_mask_and_of_two_lesions():
    empty = case_signals(np.zeros((2, 4, 4)), np.zeros((2, 4, 4), bool), False, np.ones((2, 4, 4)))
    assert empty["soft_dice"] == 0.0 and empty["components"] == 0.0
    mask = np.zeros((4, 8, 8), bool)
    mask[0, 0, 0] = mask[3, 7, 7] = True
    assert case_signals(mask * 1.0, mask, False, np.ones((4, 8, 8)))["components"] == 2.0


def test_extent_signals_see_a_lesion_that_goes_on_beyond_its_mask():
    flair = np.full((1, 16, 16), 100.0)
    flair[0, :, 12:] = 40.0  # darker tissue: the tissue's quartiles are 85 and 100
    flair[0, 4:8, 4:8] = 200.0  # the lesion
    whole = np.zeros(flair.shape, bool)
    whole[0, 4:8, 4:8] = True
    # the ring (4 px, reaching column 11) is all normal tissue at 100
    assert extent_signals(flair, whole) == {"ring_bright": 0.0, "contrast": pytest.approx(100 / 15)}
    one = np.zeros(flair.shape, bool)
    one[0, 5, 5] = True  # one pixel of the lesion: its ring, the 80 others of a 9 x 9 square
    assert extent_signals(flair, one)["ring_bright"] == pytest.approx(15 / 80)  # 15 lesion
    assert extent_signals(flair, np.zeros(flair.shape, bool)) == {
        "ring_bright": 0.0,
        "contrast": 0.0,
    }
    assert extent_signals(flair * 7.5, one) == extent_signals(flair, one)  # scale-free


def test_calibration_maps_a_score_through_its_knots_and_flags_below_its_threshold():
    calibration = Calibration(
        weights=(1.0, 0.0, 0.0, 0.0, -0.1),
        bias=0.0,
        knots_x=(0.2, 0.8),
        knots_y=(0.1, 0.9),
        review_below=0.5,
        signals=SIGNALS[:5],
    )
    signals = {"soft_dice": 0.5, "log_volume": 3, "components": 1, "uncertain": 0.1}
    assert calibration.expected_dice(signals | {"flair_only": 0.0}) == pytest.approx(0.5)
    assert calibration.assess(signals | {"flair_only": 1.0}) == {  # score 0.4 -> 0.367
        "expected_dice": pytest.approx(0.367, abs=1e-3),
        "review": True,
    }
    assert calibration.expected_dice(signals | {"soft_dice": 5, "flair_only": 0.0}) == 0.9
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    with pytest.raises(ValueError, match="weights for the signals"):
        Calibration.from_dict(calibration.to_dict() | {"weights": [1.0]})
