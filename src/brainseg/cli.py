"""The ``brainseg`` console script: thin entry functions, heavy imports only when needed.

Errors become one line per problem on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

# numpy's BLAS only does small resizes here, and its idle threads spin after each call,
# slowing the ONNX Runtime threads that run next: 360 -> 257 ms per 20-slice volume with one
# thread (docs/performance.md). Set before numpy loads; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from brainseg import __version__
from brainseg.errors import BrainsegError, DataProblemsError


def cmd_inspect(args: argparse.Namespace) -> int:
    from brainseg.data.inspect import format_summary, summarize
    from brainseg.data.volumes import load_volumes

    volumes, problems = load_volumes(args.data)
    summary = summarize(volumes, problems)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
    if args.figures and volumes:
        from brainseg.report.explore import write_exploration_figures

        paths = write_exploration_figures(volumes, args.figures)
        print(f"figures: {', '.join(str(p) for p in paths)}", file=sys.stderr)
    for p in problems:
        print(f"{p['file']}: {p['problem']}", file=sys.stderr)
    return 2 if problems else 0


def cmd_split(args: argparse.Namespace) -> int:
    from brainseg.data.discovery import discover
    from brainseg.data.splits import SLICE_SPLIT_WARNING, make_split, save_split

    patients, problems = discover(args.data)
    if problems:
        raise DataProblemsError(problems)
    stems = {p.name: [s.stem for s in p.slices if s.image and s.mask] for p in patients}
    split = make_split(stems, args.seed, args.test, args.val, args.by, args.folds)
    if args.by == "slice":
        print(SLICE_SPLIT_WARNING, file=sys.stderr)
    save_split(split, args.out)
    print(
        f"{args.out}: train {len(split['train'])}, val {len(split['val'])}, "
        f"test {len(split['test'])} {args.by}s" + (f", {args.folds} folds" if args.folds else "")
    )
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from brainseg.data.synthetic import write_synthetic_dataset

    names = write_synthetic_dataset(args.out, args.patients, args.slices, args.seed, args.size)
    print(f"{args.out}: {len(names)} synthetic patients x {args.slices} slices")
    return 0


def _train_overrides(args: argparse.Namespace) -> dict:
    train = {
        k: v
        for k, v in {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "accelerator": args.accelerator,
            "devices": args.devices,
            "strategy": args.strategy,
            "precision": args.precision,
            "init_weights": args.init_weights,
        }.items()
        if v is not None
    }
    return {"train": train} if train else {}


def cmd_train(args: argparse.Namespace) -> int:
    from brainseg.training.run import train

    metrics = train(
        args.data, args.out, args.config, _train_overrides(args), args.split, args.resume
    )
    if metrics:
        print(
            f"{args.out}: done; last epoch val per-patient Dice "
            f"{metrics.get('val_dice_patient', float('nan')):.4f}"
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from brainseg.evaluation.evaluate import evaluate

    metrics = evaluate(
        args.data,
        args.out,
        args.model,
        args.predictions,
        args.split,
        args.subset,
        args.postprocess,
        args.tta,
        not args.no_ablation,
        seed=args.seed,
        threshold=args.threshold,
    )
    print(
        f"{args.out}: {metrics['patients']} patients, Dice per patient mean "
        f"{metrics['dice_per_patient_mean']:.4f} "
        f"(median {metrics['dice_per_patient_median']:.4f})"
        f", pooled Dice {metrics['dice']:.4f}, IoU {metrics['iou']:.4f}; "
        f"report: {args.out}/report.html"
    )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from brainseg.inference.predict import predict

    return predict(
        args.inputs,
        args.out,
        args.model,
        args.engine,
        args.tta,
        args.postprocess,
        args.threshold,
        args.batch_size,
        args.device,
        args.overlay,
    )


def cmd_export(args: argparse.Namespace) -> int:
    from brainseg.inference.onnx_export import export_onnx

    if not args.int8:
        path = export_onnx(args.model, args.onnx)
        print(f"{path}: ONNX model written (input 'image' N x 3 x R x R, output 'logits')")
        return 0
    from brainseg.inference.quantize import export_int8

    if not args.calibration:
        raise BrainsegError("--int8 needs --calibration DATA_DIR (slices to calibrate on)")
    path, patients = export_int8(args.model, args.onnx, args.calibration, args.split)
    print(f"{path}: INT8 ONNX model written, calibrated on slices of {patients} patients")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from brainseg.demo import run_demo

    run_demo(args.out, args.data, args.epochs)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from brainseg.inference.bundle import describe_shipped

    print(describe_shipped())
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from brainseg.inference.bundle import bundle_from_checkpoint

    inference = {
        k: v
        for k, v in {
            "postprocess": args.postprocess,
            "tta": args.tta or None,
            "threshold": args.threshold,
        }.items()
        if v is not None
    }
    meta = {k: v for k, v in {"name": args.name, "version": args.model_version}.items() if v}
    path = bundle_from_checkpoint(
        args.checkpoint, args.out, inference=inference, combine=args.combine, **meta
    )
    print(f"{path}: bundle written ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from brainseg.service.server import serve

    serve(args.host, args.port, args.model, args.workers, args.max_upload_mb)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brainseg",
        description="Segment lower-grade glioma FLAIR abnormalities in brain MRI with a U-Net.",
    )
    parser.add_argument("--version", action="version", version=f"brainseg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add("inspect", cmd_inspect, "Summarise and validate a dataset in the Kaggle LGG layout.")
    p.add_argument("data", help="dataset folder: DIR/<patient>/<patient>_<n>.tif + _mask.tif")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--figures", metavar="OUT", help="write data-exploration PNGs into OUT")

    p = add("split", cmd_split, "Write a train/val/test split (by patient unless told).")
    p.add_argument("data", help="dataset folder")
    p.add_argument("--out", required=True, help="split JSON file to write")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--test", type=float, default=0.1, help="test fraction (default 0.1)")
    p.add_argument(
        "--val", type=float, default=0.2, help="validation fraction of the rest (default 0.2)"
    )
    p.add_argument(
        "--by",
        choices=["patient", "slice"],
        default="patient",
        help="split unit; 'slice' leaks patients and is for comparison only",
    )
    p.add_argument("--folds", type=int, help="also write K patient-disjoint CV folds")

    p = add("synth", cmd_synth, "Write a deterministic synthetic dataset in the LGG layout.")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--patients", type=int, default=12, help="patients (default 12)")
    p.add_argument("--slices", type=int, default=16, help="slices per patient (default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=int, default=256, help="slice side in pixels (default 256)")

    p = add("train", cmd_train, "Train a U-Net; checkpoints, history and config go to --out.")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--config", help="YAML config (defaults: brainseg.config.DEFAULT_CONFIG)")
    p.add_argument("--split", help="split JSON to use (default: make one from the config seed)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.ckpt")
    p.add_argument("--init-weights", help="start from these weights (.pt bundle or .ckpt)")
    p.add_argument("--accelerator", choices=["auto", "cpu", "gpu"])
    p.add_argument("--devices", type=int, help="processes/GPUs per node")
    p.add_argument("--strategy", choices=["auto", "ddp"])
    p.add_argument("--precision", help="auto, 32-true, bf16-mixed or 16-mixed")

    p = add("evaluate", cmd_evaluate, "Score a model or existing masks per slice and patient.")
    p.add_argument("--data", required=True, help="dataset folder with ground-truth masks")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", help="checkpoint/bundle/ONNX (default: the shipped model)")
    source.add_argument(
        "--predictions",
        metavar="PRED_DIR",
        help="score masks in the predict layout PRED_DIR/<patient>/<stem>_pred.png",
    )
    p.add_argument("--split", help="split JSON; with --subset picks the patients")
    p.add_argument(
        "--subset",
        default="test",
        choices=["train", "val", "test", "all"],
        help="subset of --split to score (default test)",
    )
    p.add_argument(
        "--postprocess", help="none, close, lcc, lcc2d, small[:N] or a+b (default: the model's)"
    )
    p.add_argument("--tta", action="store_true", default=None, help="horizontal-flip TTA")
    p.add_argument("--threshold", type=float, help="probability threshold (default: the model's)")
    p.add_argument("--no-ablation", action="store_true", help="skip the post-processing study")
    p.add_argument("--seed", type=int, default=0, help="seed for the report's random slices")
    p.add_argument("--out", required=True, help="folder for metrics.json, CSVs and report.html")

    p = add("predict", cmd_predict, "Segment new scans: images, folders and NIfTI volumes.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image, folder or .nii/.nii.gz")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", help="checkpoint/bundle/ONNX (default: the shipped model)")
    p.add_argument(
        "--engine",
        choices=["torch", "onnx"],
        default="onnx",
        help="onnx (default, fastest on CPU; a .pt/.ckpt model is exported once to "
        "~/.cache/brainseg) or torch (needed for --device cuda)",
    )
    p.add_argument("--tta", action="store_true", default=None, help="horizontal-flip TTA")
    p.add_argument("--postprocess", help="post-processing spec (default: the model's)")
    p.add_argument("--threshold", type=float, help="probability threshold (default: model's)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--overlay", action="store_true", help="also write <stem>_overlay.png")

    p = add("export", cmd_export, "Export a model to ONNX with a dynamic batch size.")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="file to write")
    p.add_argument("--model", help="checkpoint or bundle (default: the shipped model)")
    p.add_argument(
        "--int8", action="store_true", help="static INT8 quantization (needs --calibration)"
    )
    p.add_argument("--calibration", metavar="DATA_DIR", help="dataset to calibrate INT8 on")
    p.add_argument("--split", help="split JSON: calibrate on its training patients only")

    p = add(
        "demo",
        cmd_demo,
        "The whole pipeline on synthetic data (or --data): synth, split, train, evaluate, report.",
    )
    p.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--data", help="run on this real dataset instead of synthetic data")
    p.add_argument("--epochs", type=int, help="training epochs (default from the demo config)")

    p = add("models", cmd_models, "List the bundled model and show its card.")

    p = add(
        "bundle",
        cmd_bundle,
        "Pack a training checkpoint (or several, combined) into a small fp16 model bundle "
        "with its inference settings (what brainseg ships).",
    )
    p.add_argument(
        "checkpoint", nargs="+", help="RUN/best.ckpt, RUN/last.ckpt or a bundle; several combine"
    )
    p.add_argument("--out", required=True, help="bundle file to write (.pt)")
    p.add_argument(
        "--combine",
        choices=["ensemble", "average"],
        default="ensemble",
        help="with several models: average their logits (ensemble) or their weights",
    )
    p.add_argument("--postprocess", help="default post-processing for this model")
    p.add_argument("--tta", action="store_true", help="use flip TTA by default")
    p.add_argument("--threshold", type=float, help="default probability threshold")
    p.add_argument("--name", help="model name shown by 'brainseg models' and /health")
    p.add_argument("--version", dest="model_version", help="model version string")

    p = add("serve", cmd_serve, "Run the HTTP service and viewer page.")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", help="checkpoint/bundle/ONNX (default: the shipped model)")
    p.add_argument("--workers", type=int, default=1, help="inference threads (default 1)")
    p.add_argument("--max-upload-mb", type=float, default=64.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except DataProblemsError as exc:
        for p in exc.problems:
            print(f"{p['file']}: {p['problem']}", file=sys.stderr)
        print(f"brainseg {args.command}: {exc}; fix them first", file=sys.stderr)
        return exc.exit_code
    except BrainsegError as exc:
        print(f"brainseg {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"brainseg {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, traceback only on request
        if os.environ.get("BRAINSEG_DEBUG"):
            raise
        print(
            f"brainseg {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(set BRAINSEG_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
