"""The handlers behind each ``brainseg`` subcommand: thin functions that import what they
need only when they run, so that ``brainseg --help`` and ``predict`` start fast. The parser
and the error handling live in ``brainseg.cli``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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
        print(p, file=sys.stderr)
    return 2 if problems else 0


def cmd_split(args: argparse.Namespace) -> int:
    from brainseg.data.discovery import discover
    from brainseg.data.splits import SLICE_SPLIT_WARNING, final_fit_split, make_split, save_split

    patients, problems = discover(args.data)
    if problems:
        raise DataProblemsError(problems)
    stems = {p.name: [s.stem for s in p.slices if s.image and s.mask] for p in patients}
    split = make_split(stems, args.seed, args.test, args.val, args.by, args.folds)
    if args.final_fit:
        split = final_fit_split(split)
    if args.by == "slice":
        print(SLICE_SPLIT_WARNING, file=sys.stderr)
    save_split(split, args.out)
    print(
        f"{args.out}: train {len(split['train'])}, val {len(split['val'])}, "
        f"test {len(split['test'])} {args.by}s"
        + (f", {len(split['folds'])} folds" if "folds" in split else "")
        + (" (final fit: val is trained on)" if split.get("final_fit") else "")
    )
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from brainseg.data.synthetic import write_synthetic_dataset

    names = write_synthetic_dataset(args.out, args.patients, args.slices, args.seed, args.size)
    print(f"{args.out}: {len(names)} synthetic patients x {args.slices} slices")
    return 0


def _given(**values: object) -> dict:
    """The options the user set (argparse leaves the others None)."""
    return {k: v for k, v in values.items() if v is not None}


def _train_overrides(args: argparse.Namespace) -> dict:
    """The config overrides of ``train``'s flags, then of its ``--set KEY=VALUE``."""
    from brainseg.config import deep_merge

    train = _given(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        accelerator=args.accelerator,
        devices=args.devices,
        strategy=args.strategy,
        precision=args.precision,
        init_weights=args.init_weights,
    )
    return deep_merge({"train": train} if train else {}, parse_overrides(args.set or []))


def cmd_train(args: argparse.Namespace) -> int:
    from brainseg.training.run import train

    if args.recipe:
        from brainseg.training.stages import train_recipe

        runs = train_recipe(args.data, args.out, args.recipe, args.split, _train_overrides(args))
        print(f"{args.out}: done; the recipe's members are in {', '.join(map(str, runs))}")
        return 0
    configs = args.config or [None]
    if len(configs) > 1:
        from brainseg.training.stages import train_stages

        last = train_stages(
            args.data, args.out, configs, args.split, _train_overrides(args), resume=args.resume
        )
        print(f"{args.out}: done; {len(configs)} stages, final weights {last}")
        return 0
    metrics = train(
        args.data, args.out, configs[0], _train_overrides(args), args.split, args.resume
    )
    if metrics:
        print(
            f"{args.out}: done; last epoch val per-patient Dice {metrics['val_dice_patient']:.4f}"
        )
    return 0


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["train.lr=5e-4", ...]`` -> ``{"train": {"lr": 0.0005}}``; values are YAML."""
    import yaml

    from brainseg.config import deep_merge

    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or "" in key.split("."):
            raise BrainsegError(f"--set {pair}: expected KEY=VALUE, e.g. augment.skull_strip=0.5")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise BrainsegError(f"--set {pair}: the value is not valid YAML") from None
        for part in reversed(key.strip().split(".")):
            parsed = {part: parsed}
        overrides = deep_merge(overrides, parsed)
    return overrides


def cmd_cv_run(args: argparse.Namespace) -> int:
    from brainseg.training.cv import cross_validate

    stages = args.config or []
    if args.recipe:
        from brainseg.recipe import load_recipe

        stages = [str(path) for path in load_recipe(args.recipe).stage_configs]
    metrics = cross_validate(
        args.data,
        args.out,
        stages,
        args.folds,
        args.fold,
        args.resume,
        args.seed,
        parse_overrides(args.set) if args.set else None,
        reuse=args.reuse,
        jobs=args.jobs,
    )
    print_cv_summary(args.out, metrics)
    return 0


def cmd_cv_report(args: argparse.Namespace) -> int:
    if args.records:
        from brainseg.evaluation.crossval import report_from_records

        if args.out or args.stage:
            raise BrainsegError("--records rebuilds from the records alone: no OUT or --stage")
        out = Path(args.records) / "report"
        metrics = report_from_records(args.records, out)
        if "plan_unknown" in metrics:
            print(
                f"warning: {args.records}: {metrics['plan_unknown']}: reported as complete "
                f"over the {metrics['patients']} patients there",
                file=sys.stderr,
            )
        print_cv_summary(str(Path(args.records)), metrics)
        return 0
    if not args.out:
        raise BrainsegError("give the cross-validation folder OUT, or --records DIR")
    from brainseg.training.cv import report_cv

    print_cv_summary(args.out, report_cv(args.out, args.stage))
    return 0


def cmd_cv_calibrate(args: argparse.Namespace) -> int:
    from brainseg.evaluation.calibration import write_calibration

    result = write_calibration(args.records, args.out, args.postprocess)
    both = result["out_of_fold"]["both"]
    print(
        f"{args.out}: calibration of {both['cases']} cases; out of fold Spearman "
        f"{both['spearman']:.3f}, mean absolute error {both['mae']:.3f}; review below "
        f"{result['calibration']['review_below']:.3f} flags {both['bad_flagged']} of "
        f"{both['bad_cases']} cases under 0.6 and {both['good_flagged_share']:.0%} of those "
        "at 0.8 or more"
    )
    held_out = result["out_of_fold"].get("threshold_held_out", {}).get("both")
    if held_out:
        print(
            f"with each fold's threshold chosen on the other folds: {held_out['bad_flagged']} of "
            f"{held_out['bad_cases']} under 0.6 flagged, {held_out['good_flagged_share']:.0%} "
            "of those at 0.8 or more"
        )
    return 0


def print_cv_summary(out: str, metrics: dict[str, Any]) -> None:
    """One line: the pooled out-of-fold Dice per patient and where the report is."""
    head = metrics["all_sequences"]
    low, high = head["dice_per_patient_ci95"]
    flair = metrics["flair_only"]["dice_per_patient_mean"]
    scope = "" if metrics["complete"] else " (partial: folds " + str(metrics["folds_done"]) + ")"
    print(
        f"{out}: {metrics['patients']} out-of-fold patients{scope}, Dice per patient mean "
        f"{head['dice_per_patient_mean']:.4f} (95% CI {low:.4f}-{high:.4f}, median "
        f"{head['dice_per_patient_median']:.4f}, min {head['dice_per_patient_min']:.4f}); "
        f"FLAIR only {flair:.4f}; report: {out}/{metrics['report_dir']}/report.md"
    )


def cmd_cv_ensemble(args: argparse.Namespace) -> int:
    from brainseg.evaluation.cv_ensemble import ensemble_cv

    print_cv_summary(args.out, ensemble_cv(args.members, args.out, args.data, args.gate))
    return 0


def cmd_cv_compare(args: argparse.Namespace) -> int:
    from brainseg.evaluation.compare import compare_reports, format_comparison
    from brainseg.fileio import write_text

    text = format_comparison(compare_reports(args.base, args.other))
    if args.out:
        write_text(args.out, text)
    print(text, end="")
    return 0


def inference_options(args: argparse.Namespace):
    """The ``InferenceOptions`` of predict, evaluate and serve, from their shared flags."""
    from brainseg.inference.predictor import InferenceOptions

    extra = _given(
        batch_size=getattr(args, "batch_size", None), device=getattr(args, "device", None)
    )
    return InferenceOptions(
        engine=args.engine,
        tta=args.tta,
        threshold=args.threshold,
        postprocess=args.postprocess,
        all_members=args.all_members,
        **extra,
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    from brainseg.evaluation.evaluate import evaluate

    metrics = evaluate(
        args.data,
        args.out,
        args.model,
        args.predictions,
        args.split,
        args.subset,
        inference_options(args),
        not args.no_ablation,
        seed=args.seed,
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
    from brainseg.inference.batch import Batch
    from brainseg.inference.predict import predict

    if not args.inputs and not args.flair:
        raise BrainsegError("nothing to segment: give INPUT paths or --flair FILE")
    if (args.t1 or args.t1c) and not args.flair:
        raise BrainsegError("--t1 and --t1c name a case's other sequences; add --flair FILE")
    return predict(
        args.inputs,
        args.out,
        args.model,
        inference_options(args),
        args.overlay,
        case={"flair": args.flair, "t1": args.t1, "t1c": args.t1c},
        batch=Batch(args.num_parts, args.part_id, args.skip_existing),
        save_probabilities=args.save_probabilities,
        flair_series=args.flair_series,
    )


def cmd_export(args: argparse.Namespace) -> int:
    from brainseg.models.onnx import export_onnx

    if not args.int8:
        path = export_onnx(args.model, args.onnx)
        print(f"{path}: ONNX model written (input 'image' N x 3 x R x R, output 'logits')")
        return 0
    from brainseg.data.splits import load_split
    from brainseg.data.volumes import calibration_volumes
    from brainseg.inference.quantize import export_int8

    if not args.data:
        raise BrainsegError("--int8 needs --data DATA (a labelled dataset to calibrate on)")
    split = args.split
    if args.recipe:
        from brainseg.recipe import load_recipe

        split = load_recipe(args.recipe).split_path
    train = load_split(split)["train"] if split else None
    volumes = calibration_volumes(args.data, train)
    path, patients = export_int8(args.model, args.onnx, volumes)
    print(f"{path}: INT8 ONNX model written, calibrated on slices of {patients} patients")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from brainseg.demo import run_demo

    run_demo(args.out, args.data, args.epochs)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from brainseg.models.bundle import describe_shipped

    print(describe_shipped())
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from brainseg.models.bundle import bundle_from_checkpoint

    inference = _given(postprocess=args.postprocess, tta=args.tta or None, threshold=args.threshold)
    meta = {k: v for k, v in {"name": args.name, "version": args.model_version}.items() if v}
    checkpoints, gate = args.checkpoint, args.gate
    if args.recipe:
        from brainseg.recipe import load_recipe

        if checkpoints or not args.runs:
            raise BrainsegError("--recipe bundles a run of it: give --runs RUN, no checkpoints")
        recipe = load_recipe(args.recipe)
        checkpoints = [run / "last.ckpt" for run in recipe.member_runs(Path(args.runs))]
        gate = recipe.gate if gate is None else gate
        inference = {"postprocess": recipe.postprocess, **inference}
        if recipe.calibration and not args.calibration:
            inference["calibration"] = read_calibration(recipe.path(recipe.calibration))
        meta = {"name": recipe.name, "version": recipe.version, **meta}
    elif not checkpoints:
        raise BrainsegError("nothing to bundle: give checkpoints, or --recipe R --runs RUN")
    if args.calibration:
        inference["calibration"] = read_calibration(args.calibration)
    if fitted_for := inference.get("calibration", {}).get("postprocess"):
        chosen = inference.setdefault("postprocess", fitted_for)
        if chosen != fitted_for:
            raise BrainsegError(
                f"{args.calibration or args.recipe}: the calibration describes masks "
                f"post-processed with {fitted_for}, the bundle's are post-processed with {chosen}"
            )
    path = bundle_from_checkpoint(
        checkpoints, args.out, inference=inference, combine=args.combine, gate=gate, **meta
    )
    print(f"{path}: bundle written ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def read_calibration(path: str | Path) -> dict[str, Any]:
    """A calibration.json, checked: one line naming the file if it is not one."""
    from brainseg.confidence import Calibration

    try:
        return Calibration.from_dict(json.loads(Path(path).read_text())).to_dict()
    except OSError as exc:
        raise BrainsegError(f"{path}: cannot read ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BrainsegError(
            f"{path}: not a calibration from 'brainseg cv calibrate' ({exc})"
        ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from brainseg.service.server import serve

    serve(
        args.host, args.port, args.model, args.workers, args.max_upload_mb, inference_options(args)
    )
    return 0
