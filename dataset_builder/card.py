"""Render the dataset card (README.md) from what is actually in the folder.

Every number on the card (row counts, token statistics, file hashes) is read from the files it
describes; the parameters are the ``configs/<name>.yaml`` snapshots that generated them.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from datasets import DatasetInfo
from huggingface_hub import DatasetCard, DatasetCardData

from dataset_builder.builder import CITATION
from dataset_builder.config import DEFAULT_CONFIG, KVConfig, config_from_dict
from dataset_builder.schema import FEATURES, FIELD_DOCS, OPENAI_SYSTEM
from infra.outputs import sha256_file

DEFAULT_REPO_ID = "artificial-needles/synthetic-kv-retrieval"
PROMPT_PREVIEW_LINES = 3  # dictionary lines shown at each end of an example prompt


def read_configs(folder: Path) -> list[KVConfig]:
    paths = sorted((folder / "configs").glob("*.yaml"))
    return [config_from_dict(yaml.safe_load(p.read_text()), source=str(p)) for p in paths]


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
    return DatasetCardData(
        license="apache-2.0",
        language="en",
        pretty_name="Synthetic key-value retrieval (Artificial Needles to Real Haystacks)",
        task_categories=["text-generation", "question-answering"],
        tags=["synthetic", "long-context", "retrieval", "key-value-retrieval", "sft"],
        size_categories="1K<n<10K" if total < 10_000 else "10K<n<100K",
        configs=config_entries,
        dataset_info=info_entries,
    )


def token_stats(path: Path) -> tuple[int, float, int, float]:
    table = pq.read_table(path, columns=["num_tokens", "num_dicts"])
    tokens = table.column("num_tokens").to_pylist()
    dicts = table.column("num_dicts").to_pylist()
    return len(tokens), statistics.mean(tokens), max(tokens), statistics.mean(dicts)


def config_table(folder: Path, configs: list[KVConfig]) -> str:
    rows = [
        "| config | task | dictionaries | pairs/dict | key, value digits | budget (tokenizer) | template "
        "| gold position | rows (train/test) | tokens mean / max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cfg in configs:
        files = split_files(folder, cfg.name)
        stats = {split: token_stats(path) for split, path in files.items()}
        sizes = "/".join(str(stats[s][0]) if s in stats else "0" for s in ("train", "test"))
        mean = statistics.mean(s[1] for s in stats.values())
        peak = max(s[2] for s in stats.values())
        dicts = (
            cfg.num_dicts
            if cfg.num_dicts is not None
            else f"fill (mean {statistics.mean(s[3] for s in stats.values()):.0f})"
        )
        position = (
            f"uniform, {cfg.frac_first:.0%} first, {cfg.frac_top:.0%} in first {cfg.top_k}"
            if cfg.position_policy == "uniform"
            else f"grid at depths {', '.join(f'{d:g}' for d in cfg.depths)}"
        )
        digits = f"{cfg.key_digits[0]}-{cfg.key_digits[1]}, {cfg.value_digits[0]}-{cfg.value_digits[1]}"
        if cfg.task == "multi_subkey_kv":
            digits += f" ({cfg.subkeys_per_key[0]}-{cfg.subkeys_per_key[1]} integers/key)"
        rows.append(
            f"| `{cfg.name}` | {cfg.task} | {dicts} | {cfg.pairs_per_dict[0]}-{cfg.pairs_per_dict[1]} "
            f"(gold {cfg.gold_dict_size}) | {digits} | {cfg.max_tokens:,} ({cfg.tokenizer}) "
            f"| {'yes' if cfg.answer_template else 'no'} | {position} | {sizes} | {mean:,.0f} / {peak:,} |"
        )
    return "\n".join(rows)


def preview(folder: Path, cfg: KVConfig) -> str:
    split, path = next(iter(split_files(folder, cfg.name).items()))
    row = pq.read_table(path).slice(0, 1).to_pylist()[0]
    lines = row["messages"][0]["content"].split("\n")
    dict_lines = [i for i, line in enumerate(lines) if line.startswith("Dictionary [")]
    keep = set(dict_lines[:PROMPT_PREVIEW_LINES] + dict_lines[-PROMPT_PREVIEW_LINES:])
    shown, skipped = [], False
    for i, line in enumerate(lines):
        if i in dict_lines and i not in keep:
            if not skipped:
                shown.append(f"... ({len(dict_lines) - len(keep)} more dictionaries) ...")
            skipped = True
            continue
        shown.append(line)
    body = "\n".join(shown)
    return (
        f"`{cfg.name}` ({split} row `{row['id']}`, {row['num_tokens']} tokens, gold depth "
        f"{row['gold_depth']:.2f}):\n\n```text\n{body}\n```\n\nAnswer: `{row['messages'][1]['content']}`"
    )


def files_table(folder: Path) -> str:
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.md")
    rows = ["| file | bytes | sha256 |", "|---|---|---|"]
    rows += [f"| `{p.relative_to(folder).as_posix()}` | {p.stat().st_size:,} | `{sha256_file(p)}` |" for p in paths]
    return "\n".join(rows)


def render_card(folder: Path, repo_id: str = DEFAULT_REPO_ID) -> str:
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
are below and in `configs/`).

```python
from datasets import load_dataset
ds = load_dataset("{repo_id}", "simple_kv")   # DatasetDict: train / test; simple_kv is the default config
```

Rows are in TRL's conversational formats: `messages` for language modeling, `prompt` + `completion`
for prompt-completion training with the loss on the answer only (the paper's setup).

## Examples

{chr(10).join(preview(folder, cfg) + chr(10) for cfg in tasks.values())}
The multi-subkey wording is this project's: the authors released no template for it.

## Fields

| field | meaning |
|---|---|
{fields}

## Configs

{config_table(folder, configs)}

Token counts are measured on the full chat-formatted example, answer included, with the config's tokenizer:
`mistral-v1` is the genuine Mistral-7B v0.1/v0.2 SentencePiece model from PyPI `mistral-common`, counted as its
v1 instruct format encodes `<s>[INST] prompt [/INST] answer</s>`; `smollm2` is SmolLM2-135M-Instruct's tokenizer
with its chat template (which adds its default system prompt). In every prompt the gold key and the gold value each
occur exactly once; in multi-subkey prompts exactly one key contains all the queried integers (distractor keys
share some of them: `num_common_subkeys` of the gold key's integers are offered to each distractor key with
probability `prob_has_common`, each kept with probability `prob_per_common`). Test prompts never repeat a train
prompt; train and test come from independent random streams.

### Parameters of every config

{parameters}

## Regenerate or make a variant

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
- The gold position follows the authors' policy (uniform; 5% first; 3% among the first 5) or a fixed depth grid.

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
