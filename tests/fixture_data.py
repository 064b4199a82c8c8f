"""Data the tests build: tiny files in the real formats of this project's inputs and outputs.

Plain functions, imported by the test modules that need them (pytest fixtures that wrap them are in conftest.py);
no test module imports another.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from dataset_builder.schema import make_row
from evaluation.data import EvalExample
from evaluation.results import build_results, write_results
from evaluation.tasks import load_task


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders), hidden ones included."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


# --- NQ-Open oracle and Liu et al.'s KV files (evaluation inputs) ---

TOPICS = [
    (
        "Super Bowl LI",
        "Super Bowl LI was won by the New England Patriots over the Atlanta Falcons.",
        "who won super bowl 51",
        ["New England Patriots"],
    ),
    (
        "Super Bowl LII",
        "Super Bowl LII was won by the Philadelphia Eagles over the New England Patriots.",
        "who won super bowl 52",
        ["Philadelphia Eagles"],
    ),
    (
        "Super Bowl LIII",
        "Super Bowl LIII was won by the New England Patriots against the Los Angeles Rams.",
        "who won super bowl 53",
        ["the Patriots"],
    ),
    (
        "Nobel Prize in Physics",
        "The first Nobel Prize in Physics went to Wilhelm Conrad Röntgen in 1901.",
        "who won the first nobel prize in physics",
        ["Wilhelm Conrad Röntgen"],
    ),
    (
        "Deadpool 2",
        "Deadpool 2 was released in the United States on May 18, 2018.",
        "when is the next deadpool movie released",
        ["May 18, 2018"],
    ),
]


def write_oracle(path, n_extra=40):
    rows = []
    for title, text, question, answers in TOPICS:
        rows.append(
            {
                "question": question,
                "answers": answers,
                "ctxs": [{"title": title, "text": text, "hasanswer": True, "isgold": True}],
            }
        )
    for i in range(n_extra):  # filler questions: every question has enough answer-free distractors in its NQ half
        rows.append(
            {
                "question": f"what is filler fact {i}",
                "answers": [f"filler answer {i}"],
                "ctxs": [
                    {
                        "title": f"Filler {i}",
                        "text": f"Filler fact {i} is filler answer {i} about super bowl",
                        "hasanswer": True,
                        "isgold": True,
                    }
                ],
            }
        )
    with gzip.open(path, "wt") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def liu_kv_rows(n=3, pairs=75):
    rows = []
    for r in range(n):
        records = [[f"key-{r}-{i:02d}", f"value-{r}-{i:02d}"] for i in range(pairs)]
        rows.append({"ordered_kv_records": records, "key": records[40][0], "value": records[40][1]})
    return rows


# --- a synthetic KV dataset folder and results files ---


def write_synthetic_dataset(root, configs=("smollm2_kv_600", "smollm2_kv_600_sweep"), rows_per_config=4):
    """A tiny Hub-layout dataset folder with rows in the dataset builder's schema."""
    import datasets

    for config in configs:
        rows = []
        for i in range(rows_per_config):
            # a sweep cycles through fixed depths 0, 0.5, 1 (as the builder writes it); a test set has random ones
            index, n = (i % 3, 3) if config.endswith("_sweep") else (i, rows_per_config)
            prompt = f"Dictionary [{i + 1}] {{11: {100 + i}}}\nReport the value of key 11 and the dictionary it is in."
            answer = f"The value of key 11 is {100 + i} and it is in Dictionary [{i + 1}]."
            gold = {
                "gold_key": "11",
                "gold_value": 100 + i,
                "gold_dict": str(i + 1),
                "gold_index": index,
                "num_dicts": n,
            }
            rows.append(make_row(config, "simple_kv", "test", i, prompt, answer, num_tokens=40, **gold))
        folder = root / "data" / config
        folder.mkdir(parents=True)
        datasets.Dataset.from_list(rows).to_parquet(str(folder / "test-00000-of-00001.parquet"))
    configs_yaml = "".join(
        f"- config_name: {c}\n  data_files:\n  - split: test\n    path: data/{c}/test-*\n" for c in configs
    )
    (root / "README.md").write_text(f"---\nconfigs:\n{configs_yaml}---\n# tiny\n")
    from dataset_builder.publish import COMMAND
    from infra.outputs import mark

    mark(root, COMMAND, kind="dataset")  # as the dataset builder leaves it: a folder its push may upload
    return root


def write_fixture_results(folder, task_name, hits_by_position, model="base"):
    """A real results file (through build_results) where position p has hits_by_position[p] of 10 right.

    Synthetic KV positions are "<config> depth <d>" labels, as its builder writes them."""
    task = load_task(task_name)
    examples, predictions = [], []
    for pos, hits in hits_by_position.items():
        config = pos.split(" depth ")[0] if " depth " in pos else ""
        for i in range(10):
            if task.suite == "synthetic_kv":
                gold = {"value": 100 + i, "dict": "1"}
                examples.append(EvalExample(f"q{i}@{pos}", pos, "prompt", [str(100 + i)], gold, config))
                right = f"The value of key 5 is {100 + i} and it is in Dictionary [1]."
            else:
                examples.append(EvalExample(f"q{i}@{pos}", pos, "prompt", ["gold answer"]))
                right = "gold answer"
            predictions.append(right if i < hits else "wrong")
    results, scores = build_results(
        task,
        examples,
        predictions,
        model={"path_or_id": model},
        data_files=[],
        variant=task.variant,
        limit=10,
        generation={"precision": "fp32", "max_new_tokens": task.max_new_tokens},
        seconds=1.0,
    )
    write_results(folder, results, examples, predictions, scores)
    return results


# --- training rows (the dataset builder's schema) and a tiny CPU recipe ---


CONFIG = "tiny_kv"
INTRO = "Do a task using the list of dictionaries below."
QUESTION = "Above is a list of dictionaries such that each key and value is an integer. Report the value of key {} and the dictionary it is in."  # noqa: E501
ANSWER = "The value of key {} is {} and it is in Dictionary [{}]."


def synthetic_kv_rows(n: int, seed: int, split: str = "train") -> list[dict]:
    """Rows in the dataset builder's schema (its own make_row): 3 dictionaries of 3 pairs, one gold key."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        keys = rng.sample(range(100, 1000), 9)
        values = rng.sample(range(100, 1000), 9)
        dicts = [dict(zip(keys[j : j + 3], values[j : j + 3], strict=True)) for j in range(0, 9, 3)]
        g = rng.randrange(9)
        gold_key, gold_value, gold_dict = keys[g], values[g], g // 3 + 1
        lines = [
            f"Dictionary [{d + 1}] {{{', '.join(f'{k}: {v}' for k, v in dct.items())}}}" for d, dct in enumerate(dicts)
        ]
        user = f"{INTRO}\n\n" + "\n".join(lines) + "\n\n" + QUESTION.format(gold_key)
        answer = ANSWER.format(gold_key, gold_value, gold_dict)
        gold = {"gold_key": str(gold_key), "gold_value": gold_value, "gold_dict": str(gold_dict)}
        rows.append(
            make_row(CONFIG, "simple_kv", split, i, user, answer, num_tokens=0, **gold, gold_index=g // 3, num_dicts=3)
        )
    return rows


def write_hub_folder(folder: Path, rows_by_split: dict[str, list[dict]]) -> Path:
    """The dataset builder's layout: README.md with ``configs:`` + data/<config>/<split>-00000-of-00001.parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = folder / "data" / CONFIG
    data.mkdir(parents=True)
    for split, rows in rows_by_split.items():
        pq.write_table(pa.Table.from_pylist(rows), data / f"{split}-00000-of-00001.parquet")
    files = "".join(f"  - split: {s}\n    path: data/{CONFIG}/{s}-*.parquet\n" for s in rows_by_split)
    (folder / "README.md").write_text(f"---\nconfigs:\n- config_name: {CONFIG}\n  data_files:\n{files}---\n# tiny\n")
    return folder


def recipe_args(model: Path, dataset: Path, out: Path, **overrides) -> list[str]:
    """CLI for a tiny CPU run; what a recipe YAML would hold."""
    args = {
        "model_name_or_path": str(model),
        "dataset_name": str(dataset),
        "dataset_config": CONFIG,
        "output_dir": str(out),
        "use_cpu": "true",
        "bf16": "false",
        "activation_checkpointing": "false",
        "per_device_train_batch_size": "4",
        "learning_rate": "3e-3",
        "max_steps": "12",
        "save_steps": "4",
        "logging_steps": "1",
        "report_to": "none",
        "seed": "0",
        "dataloader_num_workers": "0",
    }
    args.update({k: str(v) for k, v in overrides.items()})
    return [item for k, v in args.items() for item in (f"--{k}", v)]


class Killed(Exception):
    """Raised inside a training step: the run dies there like a kill -9 (no final save, checkpoints as they were)."""


def kill_run_at(argv: list[str], step: int, monkeypatch) -> None:
    """``training.sft.main(argv)`` killed when ``step`` ends, as a user's rerun of the same command will find it."""
    import pytest
    from transformers import TrainerCallback

    from training import sft

    class KillAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise Killed

    build_trainer = sft.build_trainer

    def build_killed_trainer(*args):
        trainer = build_trainer(*args)
        trainer.add_callback(KillAt())
        return trainer

    with monkeypatch.context() as patch:
        patch.setattr(sft, "build_trainer", build_killed_trainer)
        with pytest.raises(Killed):
            sft.main(argv)


def write_general_run(folder: Path, outcomes: dict[str, list[int]], model: str = "m", n: int | None = None) -> Path:
    """A folder as ``python -m evaluation lm-eval`` writes it (its marker, summary.json, samples/<column>.jsonl):
    column -> the 0/1 outcome of each item, items ``<column>:<i>`` with the same text hash in every run."""
    from evaluation.general import PRIMARY_METRIC
    from evaluation.harness import COMMAND
    from infra.outputs import mark

    (folder / "samples").mkdir(parents=True, exist_ok=True)
    for column, hits in outcomes.items():
        metric, filt = PRIMARY_METRIC[column]
        rows = [
            {"task": column, "doc_id": i, "filter": filt, "doc_hash": f"h{i}", metric: v} for i, v in enumerate(hits)
        ]
        (folder / f"samples/{column}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = {
        "model": model,
        "tasks": list(outcomes),
        "subset": {"seed": 0, "n": n},
        "lm_eval_version": "0.4.13",
        "scored": {c: len(h) for c, h in outcomes.items()},
        "scores": {c: sum(h) / len(h) for c, h in outcomes.items()},
        "primary_metric": {c: list(PRIMARY_METRIC[c]) for c in outcomes},
    }
    (folder / "summary.json").write_text(json.dumps(summary) + "\n")
    mark(folder, COMMAND)
    return folder
