"""The project's synthetic dictionary KV test sets, read from the dataset folder (or Hub id) that
``python -m dataset_builder build --out build/dataset`` writes. Each row's ``prompt`` is the user message;
the score is value right / dictionary right / both (``metrics.synthetic_kv_match``), grouped by gold depth.

    Dictionary [1] {122: 765, 4548: 1475, 4818: 4782} ... Report the value of key 4818 and the dictionary it is in.
    -> The value of key 4818 is 4782 and it is in Dictionary [1].
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from evaluation.data import EvalExample
from evaluation.tasks import EvalConfigError, TaskConfig
from infra.dataset_files import config_names, read_dataset
from infra.project import is_hub_id


def select_configs(patterns: list[str], available: list[str]) -> list[str]:
    """Expand glob patterns (``*_sweep``) against the dataset's configs; a plain name must exist."""
    chosen: list[str] = []
    for pattern in patterns:
        hits = fnmatch.filter(available, pattern)
        if not hits and not any(ch in pattern for ch in "*?["):
            raise EvalConfigError(f"dataset config {pattern!r} not found; available: {', '.join(available) or 'none'}")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def depth_label(config: str, depth: float) -> str:
    # Sweeps place the gold at a few fixed depths (report each); random-depth test sets are binned to quarters.
    shown = round(depth, 2) if config.endswith("_sweep") else round(depth * 4) / 4
    return f"{config} depth {shown:.2f}"


def rows_to_examples(config: str, rows: list[dict]) -> list[EvalExample]:
    return [
        EvalExample(
            id=str(row["id"]),
            position=depth_label(config, float(row["gold_depth"])),
            prompt=row["prompt"][0]["content"],
            answers=[str(row["gold_value"])],
            gold={"value": int(row["gold_value"]), "dict": str(row["gold_dict"]), "task": row.get("task", "")},
            config=config,
        )
        for row in rows
    ]


def load_synthetic_examples(task: TaskConfig, dataset: str, limit: int | None) -> list[EvalExample]:
    """Test rows of each selected config: ``limit`` per sweep depth, or ``limit`` from a random-depth test set."""
    if not Path(dataset).is_dir() and not is_hub_id(dataset):
        raise EvalConfigError(f"dataset {dataset!r} is neither a folder nor a Hub id; build it: make dataset")
    configs = select_configs(task.dataset_configs, config_names(dataset))
    if not configs:
        raise EvalConfigError(f"no dataset config of {dataset} matches {task.dataset_configs}")
    examples = []
    for config in configs:
        examples += rows_to_examples(config, read_test_rows(dataset, config, limit))
    return examples


def read_test_rows(dataset: str, config: str, limit: int | None) -> list[dict]:
    split = read_dataset(dataset, config, split="test")  # a rebuilt folder is read again, not served from cache
    if limit is not None:
        # limit = rows per gold position: a sweep's rows cycle through its depths, so its leading
        # limit × depths rows hold exactly `limit` per depth; a random-depth test set takes `limit` rows.
        per = len(set(split["gold_depth"])) if config.endswith("_sweep") else 1
        split = split.select(range(min(limit * per, len(split))))
    return list(split)
