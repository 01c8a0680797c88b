# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench retrain-lgg clean

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

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Retrain the shipped model (MODEL_CARD.md): two cosine cycles, about 2 h 15 min on 2 CPU
# cores, then bundle the validation-best checkpoint and its INT8 export as package data.
DATA ?= ../shared/data/lgg/kaggle_3m
SPLIT ?= splits/lgg_seed42.json
RUNS ?= runs
VERSION ?= dev
retrain-lgg: $(STAMP)
	$(BIN)/brainseg train --data $(DATA) --out $(RUNS)/lgg_stage1 --config configs/lgg.yaml --split $(SPLIT)
	$(BIN)/brainseg train --data $(DATA) --out $(RUNS)/lgg_stage2 --config configs/lgg_stage2.yaml \
		--split $(SPLIT) --init-weights $(RUNS)/lgg_stage1/best.ckpt
	$(BIN)/brainseg bundle $(RUNS)/lgg_stage2/best.ckpt --out src/brainseg/weights/brainseg_lgg.pt \
		--postprocess small --name brainseg-lgg-unet16 --version $(VERSION)
	$(BIN)/brainseg export --onnx src/brainseg/weights/brainseg_lgg.int8.onnx --int8 \
		--calibration $(DATA) --split $(SPLIT)

clean:
	rm -rf demo_out bench_out .pytest_cache .ruff_cache
