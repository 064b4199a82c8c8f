"""Where evaluation data comes from: a local folder (default ``../shared/data/lost-in-the-middle``) or a Hub
dataset repo holding the same file names. Nothing is copied into the repository; every file used is
recorded in the results with its sha256.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.tasks import EvalConfigError

# Relative to the repository root: the shared read-only copy of Liu et al.'s files.
DEFAULT_DATA_DIR = "../shared/data/lost-in-the-middle"


@dataclass(frozen=True)
class EvalExample:
    """One prompt to generate for and the gold it is scored against."""

    id: str
    position: str  # the group a per-position score is reported under, e.g. "5" or "smollm2_kv_600 depth 0.50"
    prompt: str  # the user message (the chat template is applied at generation time)
    answers: list[str] = field(default_factory=list)
    gold: dict = field(default_factory=dict)  # synthetic_kv: {"value": int, "dict": str}
    config: str = ""  # the Hub dataset config it came from (synthetic_kv); scores are also reported per config


def resolve_data_file(name: str, data_dir: str, data_repo: str = "") -> Path:
    """``name`` under ``data_dir``; or, when ``data_repo`` (a Hub dataset id) is set, fetched from that repo."""
    if data_repo:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=data_repo, filename=name, repo_type="dataset"))
    path = Path(data_dir) / name
    if not path.is_file():
        raise EvalConfigError(
            f"data file {path} not found; pass --data-dir pointing at Liu et al.'s files "
            f"(default {DEFAULT_DATA_DIR}) or --data-repo <hub dataset id>"
        )
    return path


def read_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
