"""The one inference contract: load a model once, segment ``Volume`` objects with it.

``predict``, ``evaluate`` and ``serve`` all build a ``Predictor`` with the same defaults:
the engine is ``auto`` (the shipped model's INT8 ONNX file where it applies, else ONNX
Runtime in fp32), and the threshold, post-processing and TTA come from the model file's
``inference`` section unless a flag overrides them. The preprocessing is the model's own
(``brainseg.preprocessing``), the same code that training uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainseg.io.volume import Volume
from brainseg.models.files import file_sha256, load_network, resolve_model_path
from brainseg.preprocessing import Preprocessor
from brainseg.preprocessing.pipeline import Prepared

logger = logging.getLogger(__name__)

ENGINES = ("auto", "onnx", "torch")
DEFAULT_ENGINE = "auto"
ENGINE_HELP = (
    "auto (default: the shipped model's INT8 ONNX file, else ONNX Runtime in fp32), onnx "
    "(fp32; a .pt/.ckpt model is exported once to ~/.cache/brainseg) or torch (e.g. --device "
    "cuda)"
)


@dataclass
class Segmentation:
    """What ``Predictor.analyse`` returns for one volume."""

    masks: np.ndarray  # (S, H, W) bool on the volume's own grid
    probabilities: np.ndarray | None  # (S, H, W) float32, when asked for
    qc: dict[str, Any]  # brainseg.preprocessing.quality.quality_record


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(logits, -60, 60)))


class Predictor:
    """Segments volumes; ``predict`` gives tumour probabilities (S, H, W) on the input's
    slices, ``segment`` the binary masks after threshold and post-processing."""

    def __init__(
        self,
        model: str | Path | None = None,
        engine: str = DEFAULT_ENGINE,
        tta: bool | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        threshold: float | None = None,
        postprocess: str | None = None,
        all_members: bool = False,
    ):
        from brainseg.models.onnx import OnnxRunner, cached_onnx, shipped_int8, ungated_onnx

        path = Path(model) if model is not None else None
        self.engine = engine
        runner = shipped_int8() if engine == "auto" and path is None else None
        if engine == "auto" or (path is not None and path.suffix == ".onnx"):
            self.engine = "onnx"
        if self.engine == "onnx":
            if runner is None and (path is None or path.suffix != ".onnx"):
                path = cached_onnx(path)
            self.runner = runner or OnnxRunner(path)
            gate = self.runner.config["model"].get("member_gate")
            if all_members and gate is not None:
                self.runner = OnnxRunner(ungated_onnx(self.runner.path, gate))
            self.model_file = self.runner.path
            self.config, self.meta = self.runner.config, self.runner.meta
            if self.runner.quantized:
                self.engine = "onnx-int8"
        else:
            import torch

            self.net, self.config, self.meta = load_network(path, ungated=all_members)
            self.model_file = resolve_model_path(path)
            self.device = torch.device(device)
            self.net.to(self.device)
        inference = self.config.get("inference", {})
        self.tta = inference.get("tta", False) if tta is None else tta
        self.threshold = float(inference.get("threshold", 0.5) if threshold is None else threshold)
        self.postprocess = postprocess or inference.get("postprocess", "none")
        self.batch_size = batch_size
        self.preprocessor = Preprocessor(self.config["data"])
        if all_members and int(self.config["model"].get("members", 1)) < 2:
            logger.warning("--all-members: %s is not an ensemble; nothing changes", self.model_file)

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        if self.engine.startswith("onnx"):
            return self.runner(batch)
        import torch

        with torch.inference_mode():
            return self.net(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()

    def _frame_probabilities(self, prepared: Prepared) -> np.ndarray:
        """Probabilities (S, H, W) float32 on the prepared (frame) slices."""
        pre, slices = self.preprocessor, prepared.slices
        size = tuple(slices.shape[1:3])
        probs = np.empty(slices.shape[:3], np.float32)
        for start in range(0, len(slices), self.batch_size):
            x = pre.network_input(slices[start : start + self.batch_size], prepared.scales)
            prob = _sigmoid(self._logits(x))
            if self.tta:
                flipped = self._logits(np.ascontiguousarray(x[..., ::-1]))
                prob = (prob + _sigmoid(flipped[..., ::-1])) / 2
            probs[start : start + len(x)] = pre.to_input_size(prob, size)
        return probs

    def predict(self, volume: Volume) -> np.ndarray:
        """Probabilities (S, H, W) float32 on the volume's own grid."""
        prepared = self.preprocessor.prepare(volume)
        return self.preprocessor.restore(self._frame_probabilities(prepared), prepared)

    def analyse(
        self, volume: Volume, postprocess: str | None = None, probabilities: bool = False
    ) -> Segmentation:
        """Masks on the volume's own grid, optionally its probabilities, and its QC record.
        Threshold and post-processing act in the training frame, where they were tuned."""
        from brainseg.postprocess import apply_postprocess
        from brainseg.preprocessing.quality import quality_record

        pre = self.preprocessor
        prepared = pre.prepare(volume)
        probs = self._frame_probabilities(prepared)
        spec = self.postprocess if postprocess is None else postprocess
        masks = apply_postprocess(probs >= self.threshold, spec)
        if prepared.mapping is not None:
            masks = pre.restore(masks.astype(np.float32), prepared) >= 0.5
        native_probs = pre.restore(probs, prepared) if probabilities else None
        return Segmentation(masks, native_probs, quality_record(volume, prepared, masks))

    def segment(self, volume: Volume, postprocess: str | None = None) -> np.ndarray:
        """Binary masks (S, H, W) after threshold and post-processing."""
        return self.analyse(volume, postprocess).masks

    def predict_volume(self, images: np.ndarray) -> np.ndarray:
        """``predict`` for stacked slices (S, H, W, 3) in the Kaggle channel order."""
        return self.predict(Volume.from_slices(images))

    def segment_volume(self, images: np.ndarray, postprocess: str | None = None) -> np.ndarray:
        """``segment`` for stacked slices (S, H, W, 3) in the Kaggle channel order."""
        return self.segment(Volume.from_slices(images), postprocess)

    def model_identity(self) -> dict[str, str]:
        """Name, version and sha256 of the weight file actually run (predictions.csv)."""
        return {
            "model": str(self.meta.get("name", "model")),
            "model_version": str(self.meta.get("version", "?")),
            "model_sha256": file_sha256(Path(self.model_file)),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.meta.get("name", "model"),
            "version": self.meta.get("version", "?"),
            "engine": self.engine,
            "resolution": self.preprocessor.resolution,
            "normalization": self.preprocessor.normalization,
            "threshold": self.threshold,
            "postprocess": self.postprocess,
            "tta": self.tta,
            "member_gate": self.config["model"].get("member_gate"),
        }
