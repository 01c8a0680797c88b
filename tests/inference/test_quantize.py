"""INT8 export: calibrated on real-format slices, loadable by the predictor, close to fp32."""

import numpy as np

from brainseg.cli import main
from brainseg.data.volumes import load_clean_volumes
from brainseg.inference.predictor import Predictor


def test_int8_export_predicts_like_fp32(synth_root, tiny_bundle, tmp_path):
    int8 = tmp_path / "tiny.int8.onnx"
    args = ["export", "--onnx", str(int8), "--model", str(tiny_bundle), "--int8"]
    assert main([*args, "--data", str(synth_root)]) == 0
    quantized = Predictor(int8)
    assert quantized.engine == "onnx-int8" and quantized.describe()["resolution"] == 64
    volume = load_clean_volumes(synth_root)[0]
    fp32 = Predictor(tiny_bundle, engine="onnx").predict_volume(volume.images)
    q = quantized.predict_volume(volume.images)
    assert np.abs(fp32 - q).mean() < 0.02
    assert ((fp32 >= 0.5) == (q >= 0.5)).mean() > 0.97


def test_int8_without_calibration_data_is_one_line(tiny_bundle, tmp_path, capsys):
    code = main(["export", "--onnx", str(tmp_path / "x.onnx"), "--int8"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "--data" in err[0]
