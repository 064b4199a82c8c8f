"""The rows of any config, by task: the synthetic KV tasks (generate.py) or the factual baselines (baselines.py).

Every place that generates rows (publish.py's ``write_config``, builder.py's ``datasets`` builder) calls this
module, so a task is dispatched in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from dataset_builder import baselines, generate
from dataset_builder.config import BASELINE_TASKS, KVConfig
from dataset_builder.tokens import TokenCounter


def build_splits(cfg: KVConfig, counter: TokenCounter, progress: Callable | None = None) -> dict[str, list[dict]]:
    """All splits of a config, each generator checking its own budget before the first row."""
    if cfg.task in BASELINE_TASKS:
        return baselines.build_baseline_splits(cfg, counter, progress)
    return generate.build_kv_splits(cfg, counter, progress)


def check_inputs(cfg: KVConfig) -> None:
    """What can fail before any row is generated without a tokenizer: a baseline's source file must exist."""
    if cfg.task in BASELINE_TASKS:
        baselines.resolve_source(cfg)
