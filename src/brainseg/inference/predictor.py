"""The one inference contract: load a model once, segment ``Volume`` objects with it.

``predict``, ``evaluate`` and ``serve`` all build a ``Predictor`` with the same defaults:
the engine is ``auto`` (the shipped model's INT8 ONNX file where it applies, else ONNX
Runtime in fp32), and the threshold, post-processing and TTA come from the model file's
``inference`` section unless a flag overrides them. The preprocessing is the model's own
(``brainseg.preprocessing``), the same code that training uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from brainseg.io.volume import Volume
from brainseg.models.files import file_sha256, load_network, resolve_model_path
from brainseg.preprocessing import Preprocessor
from brainseg.preprocessing.pipeline import FLAIR_CHANNEL, Prepared

logger = logging.getLogger(__name__)

ENGINES = ("auto", "onnx", "torch")
DEFAULT_ENGINE = "auto"
ENGINE_HELP = (
    "auto (default: the shipped model's INT8 ONNX file, else ONNX Runtime in fp32), onnx "
    "(fp32; a .pt/.ckpt model is exported once to ~/.cache/brainseg) or torch (e.g. --device "
    "cuda)"
)


@dataclass(frozen=True)
class InferenceOptions:
    """How a model is run: one object from the command line to ``predict``, ``evaluate``
    and the service. ``None`` takes the model file's own value (its ``inference``
    section)."""

    engine: str = DEFAULT_ENGINE
    tta: bool | None = None
    threshold: float | None = None
    postprocess: str | None = None
    all_members: bool = False  # run a gated ensemble's members on every slice
    batch_size: int = 32
    device: str = "cpu"  # the torch engine's device


@dataclass
class Segmentation:
    """What ``Predictor.analyse`` returns for one volume."""

    masks: np.ndarray  # (S, H, W) bool on the volume's own grid
    probabilities: np.ndarray | None  # (S, H, W) float32, when asked for
    qc: dict[str, Any]  # brainseg.preprocessing.quality.quality_record
    # expected_dice and review (empty without a calibration), and the signals behind them
    quality: dict[str, Any] = field(default_factory=dict)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(logits, -60, 60)))


class TorchEngine:
    """A model file run by torch, as ``OnnxRunner`` runs an ONNX file: a callable from a
    batch (N, C, H, W) float32 to logits, with the file's ``config``, ``meta`` and ``path``."""

    name = "torch"

    def __init__(self, path: Path | None, device: str, ungated: bool):
        import torch

        self.net, self.config, self.meta = load_network(path, ungated=ungated)
        self.path = resolve_model_path(path)
        self.device = torch.device(device)
        self.net.to(self.device)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.net(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


def open_engine(model: str | Path | None, options: InferenceOptions):
    """The engine that runs ``model`` (None: the shipped one): ``auto`` is the shipped
    model's INT8 file, else ONNX Runtime in fp32 (a .pt/.ckpt exported once and cached);
    ``torch`` runs the weights themselves. ``all_members`` lifts a gated ensemble's gate."""
    from brainseg.models.onnx import OnnxRunner, cached_onnx, shipped_int8, ungated_onnx

    path = Path(model) if model is not None else None
    is_onnx = path is not None and path.suffix == ".onnx"
    if options.engine == "torch" and not is_onnx:
        return TorchEngine(path, options.device, options.all_members)
    shipped = shipped_int8() if options.engine == "auto" and path is None else None
    runner = shipped or OnnxRunner(path if is_onnx else cached_onnx(path))
    gate = runner.config.model.member_gate
    if options.all_members and gate is not None:
        runner = OnnxRunner(ungated_onnx(runner.path, gate))
    return runner


class Predictor:
    """Segments volumes; ``predict`` gives tumour probabilities (S, H, W) on the input's
    slices, ``segment`` the binary masks after threshold and post-processing. Options come
    as one ``InferenceOptions``, or as its fields by name."""

    def __init__(
        self,
        model: str | Path | None = None,
        options: InferenceOptions | None = None,
        **fields: Any,
    ):
        options = replace(options or InferenceOptions(), **fields)
        self.options = options
        self.run = open_engine(model, options)
        self.engine = self.run.name
        self.model_file, self.config, self.meta = self.run.path, self.run.config, self.run.meta
        inference = self.config.inference
        self.tta = inference.tta if options.tta is None else options.tta
        threshold = inference.threshold if options.threshold is None else options.threshold
        self.threshold = float(threshold)
        self.postprocess = options.postprocess or inference.postprocess
        self.batch_size = options.batch_size
        self.preprocessor = Preprocessor(self.config.data)
        self.calibration = None
        if inference.calibration is not None:
            from brainseg.confidence import Calibration

            self.calibration = Calibration.from_dict(inference.calibration)
            fitted_for = self.calibration.postprocess
            if fitted_for and fitted_for != self.postprocess:
                logger.warning(
                    "%s: no expected Dice: its calibration describes masks post-processed "
                    "with %s, and this run uses %s",
                    self.model_file,
                    fitted_for,
                    self.postprocess,
                )
                self.calibration = None
        if options.all_members and self.config.model.members < 2:
            logger.warning("--all-members: %s is not an ensemble; nothing changes", self.model_file)

    def _frame_probabilities(self, prepared: Prepared) -> np.ndarray:
        """Probabilities (S, H, W) float32 on the prepared (frame) slices."""
        pre, slices = self.preprocessor, prepared.slices
        size = tuple(slices.shape[1:3])
        probs = np.empty(slices.shape[:3], np.float32)
        for start in range(0, len(slices), self.batch_size):
            x = pre.network_input(slices[start : start + self.batch_size], prepared.scales)
            prob = _sigmoid(self.run(x))
            if self.tta:
                flipped = self.run(np.ascontiguousarray(x[..., ::-1]))
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
        frame_masks = apply_postprocess(probs >= self.threshold, spec)
        masks = frame_masks
        if prepared.mapping is not None:
            masks = pre.restore(frame_masks.astype(np.float32), prepared) >= 0.5
        native_probs = pre.restore(probs, prepared) if probabilities else None
        qc = quality_record(volume, prepared, masks)
        flair = prepared.slices[..., FLAIR_CHANNEL]
        quality = {"expected_dice": "", "review": ""}  # the calibration is for self.postprocess
        if spec == self.postprocess:
            quality = self.expected_quality(probs, frame_masks, qc["sequences"] == "flair", flair)
        if quality["review"] is True:
            review = (
                f"review: expected Dice {quality['expected_dice']:.2f}, under the model's "
                f"review threshold {self.calibration.review_below:.2f}"
            )
            qc["warnings"] = "; ".join(w for w in (qc["warnings"], review) if w)
        return Segmentation(masks, native_probs, qc, quality)

    def expected_quality(
        self, probs: np.ndarray, masks: np.ndarray, flair_only: bool, flair: np.ndarray
    ) -> dict:
        """``expected_dice`` and ``review`` of one volume from its frame probabilities, final
        masks and FLAIR (brainseg.confidence), with the ``signals`` they come from; empty
        (and nothing computed) where the model has no calibration."""
        from brainseg.confidence import case_signals

        if self.calibration is None:
            return {"expected_dice": "", "review": ""}
        signals = case_signals(probs, masks, flair_only, flair)
        return self.calibration.assess(signals) | {"signals": signals}

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
            "member_gate": self.config.model.member_gate,
        }
