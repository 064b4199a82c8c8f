"""Liu et al.'s JSON key-value retrieval (``kv-retrieval-75_keys.jsonl.gz``): 75 UUID pairs, one queried.

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

import json
import random

from evaluation.data import EvalExample
from evaluation.tasks import TaskConfig


def format_kv_records(records: list[tuple[str, str]]) -> str:
    """Liu et al.'s layout: a valid JSON object, one pair a line."""
    lines = []
    for i, (key, value) in enumerate(records):
        start = "{" if i == 0 else " "
        end = ",\n" if i != len(records) - 1 else "}"
        lines.append(start + f"{json.dumps(key)}: {json.dumps(value)}" + end)
    return "".join(lines)


def arrange_records(
    records: list[tuple[str, str]], key: str, value: str, num_pairs: int, position: int, rng: random.Random
) -> list[tuple[str, str]]:
    """Keep ``num_pairs`` pairs (0 = all) in their original order, the queried one at ``position`` (1-based)."""
    others = [tuple(r) for r in records if r[0] != key]
    if num_pairs:
        keep = sorted(rng.sample(range(len(others)), num_pairs - 1))
        others = [others[i] for i in keep]
    others.insert(position - 1, (key, value))
    return others


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
