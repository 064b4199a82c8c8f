"""Liu et al.'s JSON key-value retrieval (``kv-retrieval-75_keys.jsonl.gz``, read by ``sources/liu_kv.py``): 75 UUID
pairs, one queried.

The queried pair is moved to a chosen position; shorter CPU variants keep the queried pair and a random
subset of the others (seeded per example, so every position of one example sees the same pairs)::

    Extract the value corresponding to the specified key in the JSON object below.

    JSON data:
    {"9f4a...": "1c2b...",
     "a1e0...": "77d3...",
     "5b6c...": "e8f9..."}

    Key: "a1e0..."
    Corresponding value:               -> 77d3...   (substring match)
"""

from __future__ import annotations

import random

from evaluation.data import EvalExample
from evaluation.tasks import TaskConfig
from sources.liu_kv import arrange_records, format_kv_records


def build_liu_kv_examples(task: TaskConfig, rows: list[dict], limit: int | None, seed: int = 0) -> list[EvalExample]:
    chosen = rows if limit is None else rows[:limit]
    examples = []
    for i, row in enumerate(chosen):
        for pos in task.positions:
            # Seeded by example only: positions of one example differ only in where the gold sits.
            rng = random.Random(f"{seed}:{i}")
            records = arrange_records(row["ordered_kv_records"], row["key"], row["value"], task.num_pairs, pos, rng)
            prompt = task.prompt_template.format(formatted_kv_records=format_kv_records(records), key=row["key"])
            examples.append(EvalExample(f"kv{i}@{pos}", str(pos), prompt, [row["value"]]))
    return examples
