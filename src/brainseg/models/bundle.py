"""Making bundles from training checkpoints: one model, or several combined into a
logit ensemble or a weight average; and the description ``brainseg models`` prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainseg.config import Config, InferenceConfig
from brainseg.errors import BrainsegError
from brainseg.models.files import (
    SHIPPED_CARD,
    SHIPPED_MODEL,
    file_sha256,
    load_model_file,
    save_bundle,
)

COMBINE_MODES = ("ensemble", "average")


def combine_models(
    sources: list[str | Path], combine: str = "ensemble", gate: float | None = None
) -> tuple[Config, dict[str, Any], dict[str, Any]]:
    """(config, state_dict, meta) for one model file or several of one architecture:
    ``ensemble`` keeps every member and averages their logits (inference cost x N);
    ``average`` averages the weights into one model (a "model soup", cost x 1), which only
    makes sense for runs that share a starting point. ``gate`` (ensembles only) runs the
    other members only on slices the first one finds something in."""
    if combine not in COMBINE_MODES:
        raise BrainsegError(f"combine must be one of {COMBINE_MODES}, not '{combine}'")
    if gate is not None and (combine != "ensemble" or len(sources) < 2 or not 0 < gate < 0.5):
        raise BrainsegError("gate: needs an ensemble of two or more models and 0 < gate < 0.5")
    loaded = [load_model_file(source) for source in sources]
    config, state, meta = loaded[0]
    meta = {k: v for k, v in meta.items() if k != "source"}
    if len(loaded) == 1:
        return config, state, meta
    sides = _combinable(sources, [cfg for cfg, _, _ in loaded], combine)
    states = [s for _, s, _ in loaded]
    meta["members"] = ", ".join(str(source) for source in sources)
    if combine == "average":
        return config, _averaged(states), meta
    merged = {f"members.{i}.{k}": v for i, s in enumerate(states) for k, v in s.items()}
    model = {"members": len(states), "member_gate": gate}
    data = config.data
    if len(set(sides)) > 1:
        model["member_resolutions"] = tuple(sides)
        data = data.model_copy(update={"resolution": max(sides)})
    model_cfg = config.model.model_copy(update=model)
    return config.model_copy(update={"model": model_cfg, "data": data}), merged, meta


def _combinable(sources: list[str | Path], configs: list[Config], combine: str) -> list[int]:
    """The members' resolutions, once they are known to share an architecture and a
    preprocessing (the resolution may differ only in an ensemble of fixed resolutions)."""
    first = configs[0]
    if first.model.members != 1:
        raise BrainsegError(f"{sources[0]}: already a combined model; combine single models")
    sides = [cfg.data.resolution for cfg in configs]
    mixed = len(set(sides)) > 1
    if mixed and (combine != "ensemble" or None in sides):
        raise BrainsegError(
            f"{', '.join(map(str, sources))}: trained at resolutions {sides}; only an "
            "ensemble of fixed resolutions can combine them"
        )

    def preprocessing(cfg: Config) -> dict[str, Any]:
        return {k: v for k, v in cfg.data.model_dump().items() if not mixed or k != "resolution"}

    for source, other in zip(sources[1:], configs[1:], strict=True):
        if other.model != first.model:
            raise BrainsegError(f"{source}: a different or combined model; cannot combine")
        if preprocessing(other) != preprocessing(first):
            raise BrainsegError(f"{source}: different preprocessing; cannot combine")
    return sides


def _averaged(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of the members' floating-point weights (integer buffers from the first)."""
    import torch

    return {
        k: torch.stack([s[k].float() for s in states]).mean(0) if v.is_floating_point() else v
        for k, v in states[0].items()
    }


def bundle_from_checkpoint(
    checkpoint: str | Path | list[str | Path],
    out: str | Path,
    inference: dict[str, Any] | None = None,
    combine: str = "ensemble",
    gate: float | None = None,
    **meta: Any,
) -> Path:
    """Bundle one checkpoint or combine several (see ``combine_models``); ``inference``
    overrides the threshold, TTA and post-processing."""
    sources = checkpoint if isinstance(checkpoint, list) else [checkpoint]
    config, state, source_meta = combine_models(sources, combine, gate)
    settings = {**config.inference.model_dump(), **(inference or {})}
    config = config.model_copy(update={"inference": InferenceConfig.model_validate(settings)})
    return save_bundle(config, state, {**source_meta, **meta}, out)


def card_metadata(card: Path = SHIPPED_CARD) -> dict[str, Any]:
    """The model card's hub metadata: the YAML block between its first two ``---`` lines."""
    import yaml

    text = card.read_text() if card.exists() else ""
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        return {}
    return yaml.safe_load(text[4 : text.index("\n---\n", 4)]) or {}


def card_problems(card: Path = SHIPPED_CARD) -> list[str]:
    """Where the card and the shipped files disagree: a listed file missing or with another
    sha256, a shipped file not listed, or a version other than the bundle's."""
    metadata, folder = card_metadata(card), card.parent
    listed = {entry["path"]: entry["sha256"] for entry in metadata.get("files", [])}
    problems = []
    for name, sha in listed.items():
        path = folder / name
        if not path.exists():
            problems.append(f"{path}: listed in {card.name} but missing")
        elif file_sha256(path) != sha:
            problems.append(f"{path}: sha256 {file_sha256(path)}, the card says {sha}")
    for path in sorted(folder.glob("brainseg_lgg*")):
        if path.name not in listed:
            problems.append(f"{path}: shipped but not listed in {card.name}")
    bundle = folder / SHIPPED_MODEL.name
    if bundle.exists():
        version = str(load_model_file(bundle)[2].get("version", "?"))
        if str(metadata.get("version")) != version:
            problems.append(f"{card}: version {metadata.get('version')}, the bundle is {version}")
    return problems


def _member_sides(config: Config) -> str:
    sides, gate = config.model.member_resolutions, config.model.member_gate
    text = f" (members at {', '.join(map(str, sides))} px)" if sides else ""
    return text + (f", others where the first reaches {gate}" if gate else "")


def describe_shipped() -> str:
    if not SHIPPED_MODEL.exists():
        return "no bundled model in this install; train one with 'brainseg train'"
    config, state, meta = load_model_file(SHIPPED_MODEL)
    params = sum(v.numel() for v in state.values())
    model, data = config.model, config.data
    lines = [
        f"{meta.get('name', SHIPPED_MODEL.stem)} (default)",
        f"  file:       {SHIPPED_MODEL} ({SHIPPED_MODEL.stat().st_size / 1e6:.1f} MB)",
        f"  version:    {meta.get('version', '?')}",
        f"  sha256:     {file_sha256(SHIPPED_MODEL)}",
        f"  parameters: {params:,}",
        f"  model:      {model.arch} x{model.members}, features {model.features}, depth "
        f"{model.depth}, input {data.resolution} px"
        + _member_sides(config)
        + f", normalization {data.normalization}",
        f"  inference:  {config.inference.model_dump()}",
    ]
    int8 = SHIPPED_MODEL.with_suffix(".int8.onnx")
    if int8.exists():
        lines.append(f"  int8 onnx:  {int8} (sha256 {file_sha256(int8)})")
    lines += [f"  WARNING: {problem}" for problem in card_problems()]
    if SHIPPED_CARD.exists():
        lines += ["", SHIPPED_CARD.read_text()]
    return "\n".join(lines)
