"""Inference without Lightning: the predictor, input discovery, NIfTI and ONNX."""
