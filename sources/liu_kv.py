"""Liu et al.'s JSON key-value retrieval file (``kv-retrieval-75_keys.jsonl.gz``): each row holds 75 UUID pairs
(``ordered_kv_records``) and the queried ``key`` / ``value`` among them. One instance (the file's first row, UUIDs cut
here with [...]; the queried pair is the 19th)::

    {"ordered_kv_records": [["a54e2eed-[...]", "d1ff29be-[...]"], ["9f4a92b9-[...]", "703a7ce5-[...]"], ...],
     "key": "2a8d601d-1d69-4e64-9f90-8ad825a74195", "value": "bb3ba2a5-7de8-434b-a86e-a88bb9fa7289"}

``arrange_records`` moves the queried pair to a chosen position, keeping all pairs or a random subset of the others
(shorter CPU variants); ``format_kv_records`` lays them out as Liu et al.'s prompt does, one valid JSON object::

    {"9f4a...": "1c2b...",
     "a1e0...": "77d3...",
     "5b6c...": "e8f9..."}
"""

from __future__ import annotations

import json
import random


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
