"""What expected quality costs at predict time: ``Predictor.analyse`` with a calibration
(the signals of brainseg.confidence computed and mapped) against the same predictor
without one, in one process, on the same real patients; issue 34 allows 10%.

The model is the shipped one (its INT8 file, the default path); the calibration is the one
fitted on v3a's fold records (cv_records/lgg_v3a/calibration). Without a calibration the
predictor computes no signal, so the ratio is the whole cost of the expected quality: the
signals (probabilities, extent on the FLAIR) and their mapping.
"""

from __future__ import annotations

import argparse
import json
import time

from common import ROOT, median_of, need_real_data, save


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from brainseg.confidence import Calibration
    from brainseg.data.volumes import load_clean_volumes
    from brainseg.inference.predictor import Predictor

    data = need_real_data()
    names = sorted(p.name for p in data.iterdir() if p.is_dir())[: args.patients]
    patients = load_clean_volumes(data, patients=names)
    volumes = [v.image_volume() for v in patients]
    saved = ROOT / "cv_records" / "lgg_v3a" / "calibration" / "calibration.json"
    calibration = Calibration.from_dict(json.loads(saved.read_text()))
    predictor = Predictor()
    for attached in (None, calibration):  # warm: sessions, imports, caches
        predictor.calibration = attached
        predictor.analyse(volumes[0])
    seconds: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(args.repeat):
        for name, attached in (("without", None), ("with", calibration)):
            predictor.calibration = attached
            start = time.perf_counter()
            for volume in volumes:
                predictor.analyse(volume)
            seconds[name].append(time.perf_counter() - start)
    slices = sum(len(v.images) for v in patients)
    without, with_quality = median_of(seconds["without"]), median_of(seconds["with"])
    save(
        "quality",
        {
            "patients": names,
            "slices": slices,
            "analyse_without_calibration_s": round(without, 3),
            "analyse_with_calibration_s": round(with_quality, 3),
            "ratio": round(with_quality / without, 3),
            "repeat": args.repeat,
        },
    )


if __name__ == "__main__":
    main()
