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
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/lint-imports
	@complex="$$($(BIN)/radon cc --min D --show-complexity src)"; \
	  if [ -n "$$complex" ]; then echo "radon: functions of rank D or worse:"; \
	  echo "$$complex"; exit 1; fi
	$(BIN)/vulture src --min-confidence 80

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks tools
	$(BIN)/ruff check --fix src tests benchmarks tools

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Retrain the shipped model (MODEL_CARD.md) from its recipe (recipes/lgg_v2.1.yaml: the stages,
# the members, the gate, the post-processing, name, version and final-fit split), then bundle
# it and export its INT8 file as package data. Rerun the same command after an interruption:
# every run continues where it stopped. Time: see MODEL_CARD.md.
DATA ?= ../shared/data/lgg/kaggle_3m
RUNS ?= runs
RECIPE ?= recipes/lgg_v2.1.yaml
RECIPE_RUN = $(RUNS)/$(basename $(notdir $(RECIPE)))
SHIPPED = src/brainseg/weights/brainseg_lgg
TRAIN_ARGS ?=
retrain-lgg: $(STAMP)
	$(BIN)/brainseg train --recipe $(RECIPE) --data $(DATA) --out $(RECIPE_RUN) $(TRAIN_ARGS)
	$(BIN)/brainseg bundle --recipe $(RECIPE) --runs $(RECIPE_RUN) --out $(SHIPPED).pt
	$(BIN)/brainseg export --onnx $(SHIPPED).int8.onnx --int8 --data $(DATA) --recipe $(RECIPE)
	@echo "Now put the recipe's version and these sha256 in MODEL_CARD.md (and its copy in src/brainseg/weights):"
	@sha256sum $(SHIPPED)*

# 5-fold cross-validation of the recipe's stages over every patient of DATA
# (docs/cross-validation.md); the same command continues after an interruption.
CV_OUT ?= $(RUNS)/cv_$(basename $(notdir $(RECIPE)))
CV_ARGS ?=
cv-lgg: $(STAMP)
	$(BIN)/brainseg cv run --recipe $(RECIPE) --data $(DATA) --out $(CV_OUT) --folds 5 --resume $(CV_ARGS)

clean:
	rm -rf demo_out bench_out .pytest_cache .ruff_cache
