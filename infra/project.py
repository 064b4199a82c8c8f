"""The project's constants and input conventions, in one place.

Every package reads its defaults from here, so a renamed repo or a moved data folder is one edit: the Hub ids the
release pushes to, the default paths a clean clone writes and reads, the one "is this a Hub id" rule, the one way a
command-line list is split, and the one reading of the offline flag.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

# --- Hub ids (the release pushes here when HF_TOKEN is set; users load them by these names) ---
DATASET_REPO_ID = "artificial-needles/synthetic-kv-retrieval"
MODEL_REPO_ID = "artificial-needles/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full"

# --- default paths, relative to the repository root (what `make` targets write and read) ---
BUILD_DIR = "build"
DATASET_DIR = "build/dataset"
EMBEDDED_MODEL_DIR = "build/models/SmolLM2-135M-Instruct"
RESULTS_DIR = "build/results"
DEFAULT_RECIPE = "training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml"

# --- fetched evaluation data, used in place by path (never copied into the repository) ---
LIU_DATA_DIR = "../shared/data/lost-in-the-middle"
GSM8K_DATA_DIR = "../shared/data/grade-school-math"

OFFLINE_ENV = "HF_HUB_OFFLINE"
# huggingface_hub's own reading of a boolean environment flag (its `constants._is_true`).
_TRUE_WORDS = ("1", "true", "yes", "on")


def is_hub_id(name: str) -> bool:
    """``org/name`` with both parts non-empty and no path prefix: how every command tells a Hub id from a path.

    A string that exists on disk is a path whatever its shape; callers check ``Path(name).exists()`` first.
    """
    return name.count("/") == 1 and not name.startswith((".", "/", "~")) and all(name.split("/"))


def split_list(values: str | Iterable[str]) -> list[str]:
    """``"a,b"``, ``["a,b", "c"]`` and ``["a", "b", "c"]`` all give ``["a", "b", "c"]``; blanks are dropped."""
    items = [values] if isinstance(values, str) else list(values)
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set the way huggingface_hub reads it (1/true/yes/on, any case)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in _TRUE_WORDS
