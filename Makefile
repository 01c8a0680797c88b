# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench retrain-lgg cv-lgg clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first, so that a range elsewhere does not pull a CUDA build.
	$(BIN)/pip install -q "torch==2.13.0" || $(BIN)/pip install -q torch
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/brainseg demo --out demo_out

# The code's shape: style, the layers of docs/architecture.md (import-linter contracts in
# pyproject.toml), no function of cyclomatic complexity above 20 (radon rank D or worse) and
# no dead code (vulture at 80% confidence).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	@complex="$$($(BIN)/radon cc --min D --show-complexity src)"; \
	  if [ -n "$$complex" ]; then echo "radon: functions of rank D or worse:"; \
	  echo "$$complex"; exit 1; fi
	$(BIN)/vulture src --min-confidence 80

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Retrain the shipped model (MODEL_CARD.md): the v2 recipe's five cosine cycles chained by
# --init-weights (one `brainseg train` with five --config; after an interruption:
# TRAIN_ARGS=--resume) on all 80 patients (splits/lgg_v2_final.json, a final-fit split);
# then SECOND_STAGE, a second stage 5 at 256 px from the same stage 4; then the two last
# checkpoints bundled as one ensemble whose 256-px member runs only on slices where the
# 128-px one reaches GATE (brainseg bundle --gate), and its INT8 export, as package data.
# Time: see MODEL_CARD.md (2 CPU cores with AVX-512 bf16; about 4x longer in fp32 without
# it). SECOND_STAGE= (empty) bundles the recipe's last stage alone, as v2.0 and v1.2 were.
# With more patients, first write a new final-fit split:
#   brainseg split DATA --out splits/NEW.json --seed 42 --final-fit
# v1.2's four-stage recipe on its 54 patients: RECIPE=lgg SPLIT=splits/lgg_seed42_final.json
# SECOND_STAGE=
DATA ?= ../shared/data/lgg/kaggle_3m
SPLIT ?= splits/lgg_v2_final.json
RUNS ?= runs
VERSION ?= dev
# The recipe's stage configs: configs/$(RECIPE).yaml, then configs/$(RECIPE)_stage<n>.yaml
# (one digit: variants screened as a stage, such as lgg_v2_stage5_256.yaml, are not stages)
RECIPE ?= lgg_v2
stages_of = configs/$(1).yaml $(sort $(wildcard configs/$(1)_stage[0-9].yaml))
STAGES = $(call stages_of,$(RECIPE))
LAST_STAGE = $(RUNS)/$(RECIPE)/stage$(words $(STAGES))/last.ckpt
STAGE_BEFORE_LAST = $(RUNS)/$(RECIPE)/stage$(words $(wordlist 2,99,$(STAGES)))/last.ckpt
SECOND_STAGE ?= configs/lgg_v2_stage5_256_long.yaml
SECOND_RUN = $(RUNS)/$(RECIPE)_second
GATE ?= 0.01
# --resume only where the second run has a checkpoint to resume from
SECOND_ARGS = $(if $(wildcard $(SECOND_RUN)/last.ckpt),$(TRAIN_ARGS),$(filter-out --resume,$(TRAIN_ARGS)))
MEMBERS = $(LAST_STAGE) $(if $(SECOND_STAGE),$(SECOND_RUN)/last.ckpt --gate $(GATE))

TRAIN_ARGS ?=
retrain-lgg: $(STAMP)
	$(BIN)/brainseg train --data $(DATA) --out $(RUNS)/$(RECIPE) --split $(SPLIT) $(TRAIN_ARGS) \
		$(addprefix --config ,$(STAGES))
	$(if $(SECOND_STAGE),$(BIN)/brainseg train --data $(DATA) --out $(SECOND_RUN) \
		--split $(SPLIT) $(SECOND_ARGS) --init-weights $(STAGE_BEFORE_LAST) \
		--config $(SECOND_STAGE))
	$(BIN)/brainseg bundle $(MEMBERS) --out src/brainseg/weights/brainseg_lgg.pt \
		--postprocess small+rel:25 --name brainseg-lgg-unet16 --version $(VERSION)
	$(BIN)/brainseg export --onnx src/brainseg/weights/brainseg_lgg.int8.onnx --int8 \
		--calibration $(DATA) --split $(SPLIT)
	@echo "Now put version $(VERSION) and these sha256 in MODEL_CARD.md (and its copy in src/brainseg/weights):"
	@sha256sum src/brainseg/weights/brainseg_lgg*

# 5-fold cross-validation of the v2 recipe over every patient of DATA (docs/cross-validation.md);
# rerun with CV_ARGS=--resume after an interruption.
CV_RECIPE ?= lgg_v2
CV_OUT ?= $(RUNS)/cv_$(CV_RECIPE)
CV_ARGS ?=
cv-lgg: $(STAMP)
	$(BIN)/brainseg cv $(DATA) --out $(CV_OUT) --folds 5 $(CV_ARGS) \
		$(addprefix --config ,$(call stages_of,$(CV_RECIPE)))

clean:
	rm -rf demo_out bench_out .pytest_cache .ruff_cache
