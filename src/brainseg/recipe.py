"""A recipe: how a shipped model is made, as data (``recipes/<name>.yaml``).

It lists the stage configs in order (stage n starts from stage n-1's last weights), the
members of the bundle with their resolutions (a stage's last weights, or a further run from
one stage's weights with its own config), the gate of a gated ensemble, the
post-processing, the expected-Dice calibration fitted on the recipe's out-of-fold records
(``brainseg cv calibrate``), and the model's name, version and final-fit split. ``brainseg train
--recipe``, ``brainseg cv run --recipe``, ``brainseg bundle --recipe`` and ``make
retrain-lgg`` read it. Paths in it are relative to the recipe file.

A run of a recipe keeps its stages in ``RUN/stage<n>/`` and its further members in
``RUN/member<k>/`` (k counts the recipe's members from 1).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from brainseg.errors import BrainsegError


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(_Frozen):
    """One member of the bundle: stage ``stage``'s last weights, or a run of ``config``
    started from stage ``from_stage``'s last weights. ``resolution`` is the side its
    config trains at, stated so that the recipe reads on its own (checked on loading)."""

    stage: int | None = Field(None, ge=1)
    config: str | None = None
    from_stage: int | None = Field(None, ge=1)
    resolution: int = Field(ge=16)

    @model_validator(mode="after")
    def _one_source(self) -> Member:
        if (self.stage is None) == (self.config is None):
            raise ValueError("a member is either a stage or a config (with from_stage)")
        if self.config is not None and self.from_stage is None:
            raise ValueError("a member with its own config needs from_stage")
        return self


class Recipe(_Frozen):
    name: str
    version: str
    split: str | None = None  # the final-fit split a shipped model trains on
    stages: list[str] = Field(min_length=1)
    members: list[Member] = Field(min_length=1)
    gate: float | None = Field(None, gt=0.0, lt=0.5)
    postprocess: str = "none"
    calibration: str | None = None  # calibration.json of `brainseg cv calibrate`
    folder: Path = Path(".")  # where the recipe file lies; its paths are relative to it

    @model_validator(mode="after")
    def _members_exist(self) -> Recipe:
        for member in self.members:
            for stage in (member.stage, member.from_stage):
                if stage is not None and stage > len(self.stages):
                    raise ValueError(f"a member names stage {stage} of {len(self.stages)}")
        if self.gate is not None and len(self.members) < 2:
            raise ValueError("gate needs two or more members")
        return self

    def path(self, relative: str) -> Path:
        return self.folder / relative

    @property
    def stage_configs(self) -> list[Path]:
        return [self.path(stage) for stage in self.stages]

    @property
    def split_path(self) -> Path | None:
        return self.path(self.split) if self.split else None

    def member_runs(self, run: Path) -> list[Path]:
        """Each member's run folder under a run of this recipe, in the bundle's order."""
        return [
            run / f"stage{m.stage}" if m.stage else run / f"member{k}"
            for k, m in enumerate(self.members, start=1)
        ]

    def further_members(self) -> list[tuple[int, Member]]:
        """(k, member) of the members that train on their own, from a stage's weights."""
        return [(k, m) for k, m in enumerate(self.members, start=1) if m.config is not None]


def load_recipe(path: str | Path) -> Recipe:
    """A recipe file, validated: its fields, that its stage and member configs exist and
    load, and that each member's config trains at the resolution the recipe states."""
    from brainseg.config import load_config, read_yaml_mapping, validation_problems
    from brainseg.postprocess import parse_spec

    path = Path(path)
    raw = read_yaml_mapping(path, "recipe")
    try:
        recipe = Recipe.model_validate({**raw, "folder": path.parent})
    except ValidationError as exc:
        raise validation_problems(exc, str(path)) from None
    parse_spec(recipe.postprocess)
    if recipe.calibration and not recipe.path(recipe.calibration).is_file():
        raise BrainsegError(f"{path}: its calibration {recipe.calibration} is not a file")
    for member in recipe.members:
        source = (
            recipe.path(member.config) if member.config else recipe.stage_configs[member.stage - 1]
        )
        side = load_config(source).data.resolution
        if side != member.resolution:
            raise BrainsegError(
                f"{path}: a member is said to train at {member.resolution} px, but {source} "
                f"trains at {side}"
            )
    return recipe
