"""The ``brainseg`` console script: the argument parser and the one place where errors
become one line per problem on stderr and a non-zero exit code, never a traceback. The
subcommands' handlers are in ``brainseg.commands`` and import heavy modules only when run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

# numpy's BLAS only does small resizes here, and its idle threads spin after each call,
# slowing the ONNX Runtime threads that run next (docs/performance.md). Set before numpy
# loads; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from brainseg import __version__, commands
from brainseg.errors import INTERNAL_ERROR, BrainsegError, DataProblemsError
from brainseg.logs import setup_logging


def _inference_options(p: argparse.ArgumentParser) -> None:
    """The options predict, evaluate and serve share, with the same defaults: the engine,
    and the model file's own threshold, post-processing and TTA unless overridden."""
    from brainseg.inference.predictor import DEFAULT_ENGINE, ENGINE_HELP, ENGINES

    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help=ENGINE_HELP)
    p.add_argument(
        "--postprocess",
        help="none, close, lcc, lcc2d, small[:N], rel[:P] or a+b (default: the model's)",
    )
    p.add_argument("--tta", action="store_true", default=None, help="horizontal-flip TTA")
    p.add_argument("--threshold", type=float, help="probability threshold (default: the model's)")
    p.add_argument(
        "--all-members",
        action="store_true",
        help="run every member of a gated ensemble (the shipped model) on every slice: finds "
        "more very small lesions out of fold, about 1.7x slower (MODEL_CARD.md)",
    )


def _data(p: argparse.ArgumentParser, text: str = "dataset folder (Kaggle LGG layout)") -> None:
    """The dataset, given the same way on every command that reads one."""
    p.add_argument("--data", required=True, metavar="DATA", help=text)


def _set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key (in every stage), e.g. augment.skull_strip=0.5",
    )


def _cv_parsers(add: Callable) -> None:
    """``brainseg cv run | report | compare | ensemble``."""
    cv = add(
        "cv", None, "Cross-validate a recipe by patient-disjoint folds (docs/cross-validation.md)."
    )
    sub = cv.add_subparsers(dest="cv_command", metavar="ACTION", required=True)

    def action(name: str, handler: Callable, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(handler=handler)
        return p

    p = action(
        "run", commands.cmd_cv_run, "Train every fold, then write the pooled out-of-fold report."
    )
    p.add_argument("--data", metavar="DATA", help="dataset folder (default on --resume: cv.yaml's)")
    p.add_argument("--out", required=True, help="cross-validation folder")
    stages = p.add_mutually_exclusive_group()
    stages.add_argument("--recipe", help="recipe YAML whose stages each fold trains")
    stages.add_argument(
        "--config", action="append", help="YAML config of a stage; repeat for chained stages"
    )
    p.add_argument("--folds", type=int, help="number of folds (default 5)")
    p.add_argument("--fold", type=int, action="append", help="run only this fold (repeatable)")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="train this many folds at once, each in its own process on its share of the "
        "cores (and its own GPU where there are several); logs in OUT/fold<k>/cv.log",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an existing --out (with nothing to resume yet, start from the beginning)",
    )
    p.add_argument("--seed", type=int, help="seed of the fold assignment (default 42)")
    _set_option(p)
    p.add_argument(
        "--reuse",
        metavar="OLD",
        help="take the leading stages that the cross-validation OLD trained with the same "
        "configuration and folds from there (hard links); train only the rest",
    )

    p = action("report", commands.cmd_cv_report, "Rewrite a cross-validation's report.")
    p.add_argument("out", metavar="OUT", nargs="?", help="cross-validation folder")
    p.add_argument(
        "--records",
        metavar="DIR",
        help="rebuild the report from the fold records in DIR alone (fold<k>.json, as "
        "OUT/report/records holds them) into DIR/report",
    )
    p.add_argument(
        "--stage",
        type=int,
        help="score the weights after stage N instead of the last (OUT/report_stage<N>)",
    )

    p = action(
        "calibrate",
        commands.cmd_cv_calibrate,
        "Fit the expected-Dice calibration on fold records and measure it out of fold.",
    )
    p.add_argument("records", metavar="DIR", help="fold records (fold<k>.json)")
    p.add_argument("--out", required=True, help="folder for calibration.json and its report")
    p.add_argument(
        "--postprocess",
        default="small+rel:25",
        help="the post-processing of the model the calibration is for (default small+rel:25)",
    )

    p = action(
        "compare",
        commands.cmd_cv_compare,
        "Compare two cross-validations patient by patient (paired difference, bootstrap CI).",
    )
    p.add_argument("base", help="cross-validation folder (or its report/) to compare against")
    p.add_argument("other", help="cross-validation folder with the change")
    p.add_argument("--out", help="also write the Markdown comparison to this file")

    p = action(
        "ensemble",
        commands.cmd_cv_ensemble,
        "Score the mean of several cross-validations' out-of-fold probabilities (same folds).",
    )
    p.add_argument("members", nargs="+", help="cross-validation folders (two or more)")
    p.add_argument("--out", required=True, help="folder for the ensemble's OOF data and report")
    p.add_argument("--data", metavar="DATA", help="dataset folder (default: the first member's)")
    p.add_argument(
        "--gate",
        type=float,
        help="score 'brainseg bundle --gate': the others count only on slices where the "
        "first member's probability reaches this",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brainseg",
        description="Segment lower-grade glioma FLAIR abnormalities in brain MRI with a U-Net.",
    )
    parser.add_argument("--version", action="version", version=f"brainseg {__version__}")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="log details, and the traceback of any internal error (or BRAINSEG_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable | None, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if handler is not None:
            p.set_defaults(handler=handler)
        return p

    p = add(
        "inspect",
        commands.cmd_inspect,
        "Summarise and validate a dataset in the Kaggle LGG layout.",
    )
    _data(p, "dataset folder: DIR/<patient>/<patient>_<n>.tif + _mask.tif")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--figures", metavar="OUT", help="write data-exploration PNGs into OUT")

    p = add("split", commands.cmd_split, "Write a train/val/test split (by patient unless told).")
    _data(p)
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
    p.add_argument(
        "--final-fit",
        action="store_true",
        help="train on train+val (val kept for monitoring only), to refit a chosen recipe",
    )

    p = add(
        "synth", commands.cmd_synth, "Write a deterministic synthetic dataset in the LGG layout."
    )
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--patients", type=int, default=12, help="patients (default 12)")
    p.add_argument("--slices", type=int, default=16, help="slices per patient (default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=int, default=256, help="slice side in pixels (default 256)")

    p = add(
        "train", commands.cmd_train, "Train a U-Net; checkpoints, history and config go to --out."
    )
    _data(p)
    p.add_argument("--out", required=True, help="run folder")
    recipe = p.add_mutually_exclusive_group()
    recipe.add_argument(
        "--recipe",
        help="recipe YAML (recipes/): its stages into OUT/stage<n>, each from the last one's "
        "weights, and its further members into OUT/member<k>",
    )
    recipe.add_argument(
        "--config",
        action="append",
        help="YAML config (default: brainseg.config's defaults); repeat it for chained stages",
    )
    p.add_argument(
        "--split", help="split JSON (default: the recipe's, or one made with the config's seed)"
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from RUN/last.ckpt (with nothing to resume yet, start from the beginning)",
    )
    p.add_argument("--init-weights", help="start from these weights (.pt bundle or .ckpt)")
    p.add_argument("--accelerator", choices=["auto", "cpu", "gpu"])
    p.add_argument("--devices", type=int, help="processes/GPUs per node")
    p.add_argument("--strategy", choices=["auto", "ddp"])
    p.add_argument("--precision", help="auto, 32-true, bf16-mixed or 16-mixed")
    _set_option(p)

    _cv_parsers(add)

    p = add(
        "evaluate", commands.cmd_evaluate, "Score a model or existing masks per slice and patient."
    )
    _data(p, "dataset folder with ground-truth masks")
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
    _inference_options(p)
    p.add_argument("--no-ablation", action="store_true", help="skip the post-processing study")
    p.add_argument("--seed", type=int, default=0, help="seed for the report's random slices")
    p.add_argument("--out", required=True, help="folder for metrics.json, CSVs and report.html")

    p = add(
        "predict",
        commands.cmd_predict,
        "Segment new scans: images, folders, NIfTI volumes and case folders (one NIfTI per "
        "sequence, named *_flair, *_t1, *_t1ce...; see docs/own-scans.md).",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="image, folder, case folder or .nii/.nii.gz",
    )
    p.add_argument("--flair", metavar="FILE", help="one case named file by file: its FLAIR")
    p.add_argument("--t1", metavar="FILE", help="with --flair: its pre-contrast T1")
    p.add_argument("--t1c", metavar="FILE", help="with --flair: its post-contrast T1")
    p.add_argument(
        "--flair-series", metavar="UID", help="DICOM: the SeriesInstanceUID of the FLAIR"
    )
    p.add_argument(
        "--save-probabilities",
        action="store_true",
        help="also write <name>_prob.nii.gz (float tumour probability on the input grid)",
    )
    p.add_argument(
        "--num-parts", type=int, default=1, help="split the cases into N parts (cluster jobs)"
    )
    p.add_argument("--part-id", type=int, default=0, help="which part this job runs (0..N-1)")
    p.add_argument(
        "--skip-existing", action="store_true", help="skip cases whose outputs all exist"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", help="checkpoint/bundle/ONNX (default: the shipped model)")
    _inference_options(p)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--overlay", action="store_true", help="also write <stem>_overlay.png")

    p = add("export", commands.cmd_export, "Export a model to ONNX with a dynamic batch size.")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="file to write")
    p.add_argument("--model", help="checkpoint or bundle (default: the shipped model)")
    p.add_argument("--int8", action="store_true", help="static INT8 quantization (needs --data)")
    p.add_argument("--data", metavar="DATA", help="with --int8: the dataset to calibrate on")
    split = p.add_mutually_exclusive_group()
    split.add_argument("--split", help="split JSON: calibrate on its training patients only")
    split.add_argument("--recipe", help="calibrate on the training patients of its split")

    p = add(
        "demo",
        commands.cmd_demo,
        "The whole pipeline on synthetic data (or --data): synth, split, train, evaluate, report.",
    )
    p.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--data", help="run on this real dataset instead of synthetic data")
    p.add_argument("--epochs", type=int, help="training epochs (default from the demo config)")

    p = add("models", commands.cmd_models, "List the bundled model and show its card.")

    p = add(
        "bundle",
        commands.cmd_bundle,
        "Pack a training checkpoint (or several, combined) into a small fp16 model bundle "
        "with its inference settings (what brainseg ships).",
    )
    p.add_argument(
        "checkpoint", nargs="*", help="RUN/best.ckpt, RUN/last.ckpt or a bundle; several combine"
    )
    p.add_argument(
        "--recipe",
        help="bundle a run of this recipe (--runs): its members, gate, post-processing, name "
        "and version",
    )
    p.add_argument("--runs", help="with --recipe: the run folder 'brainseg train --recipe' made")
    p.add_argument("--out", required=True, help="bundle file to write (.pt)")
    p.add_argument(
        "--combine",
        choices=["ensemble", "average"],
        default="ensemble",
        help="with several models: average their logits (ensemble) or their weights",
    )
    p.add_argument(
        "--gate",
        type=float,
        help="ensemble: run the other members only on slices where the first one's "
        "probability reaches this (e.g. 0.01)",
    )
    p.add_argument("--postprocess", help="default post-processing for this model")
    p.add_argument("--tta", action="store_true", help="use flip TTA by default")
    p.add_argument("--threshold", type=float, help="default probability threshold")
    p.add_argument(
        "--calibration",
        metavar="JSON",
        help="the expected-Dice calibration 'brainseg cv calibrate' fitted out of fold for "
        "this recipe (calibration.json): every prediction then carries expected_dice and review",
    )
    p.add_argument("--name", help="model name shown by 'brainseg models' and /health")
    p.add_argument("--version", dest="model_version", help="model version string")

    p = add("serve", commands.cmd_serve, "Run the HTTP service and viewer page.")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", help="checkpoint/bundle/ONNX (default: the shipped model)")
    _inference_options(p)
    p.add_argument("--workers", type=int, default=1, help="inference threads (default 1)")
    p.add_argument("--max-upload-mb", type=float, default=64.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = args.verbose or bool(os.environ.get("BRAINSEG_DEBUG"))
    setup_logging(verbose)
    try:
        return int(args.handler(args) or 0)
    except DataProblemsError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"brainseg {args.command}: {exc}; fix them first", file=sys.stderr)
        return exc.exit_code
    except BrainsegError as exc:
        print(f"brainseg {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"brainseg {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a defect in brainseg, not bad input: say so, log the traceback
        print(f"brainseg {args.command}: {INTERNAL_ERROR}", file=sys.stderr)
        logging.getLogger("brainseg").error("%s: %s", type(exc).__name__, exc, exc_info=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
