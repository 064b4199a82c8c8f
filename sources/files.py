"""Where the source data lives: Liu et al.'s files ("Lost in the Middle") in a local folder (default
``infra.project.LIU_DATA_DIR``, ``../shared/data/lost-in-the-middle``) or in a Hub dataset repo holding the same file
names. Nothing is copied into the repository; every command that reads a file records it with its sha256.

One instance: ``resolve_data_file("nq-open-oracle-dev.jsonl.gz", "../shared/data/lost-in-the-middle")`` is
``Path("../shared/data/lost-in-the-middle/nq-open-oracle-dev.jsonl.gz")``, whose first JSONL line ``read_jsonl``
yields as ``{"question": "who got the first nobel prize in physics", "answers": [...], "ctxs": [...], ...}``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from infra.cli import UserError
from infra.project import LIU_DATA_DIR


class SourceFileError(UserError):
    """A source data file that is not where it was looked for; the message names the path and the fix."""


def resolve_data_file(name: str, data_dir: str, data_repo: str = "") -> Path:
    """``name`` under ``data_dir``; or, when ``data_repo`` (a Hub dataset id) is set, fetched from that repo."""
    if data_repo:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=data_repo, filename=name, repo_type="dataset"))
    path = Path(data_dir) / name
    if not path.is_file():
        raise SourceFileError(
            f"data file {path} not found; pass --data-dir pointing at Liu et al.'s files "
            f"(default {LIU_DATA_DIR}) or --data-repo <hub dataset id>"
        )
    return path


def read_jsonl(path: Path) -> Iterator[dict]:
    """The rows of a JSONL file, gzip-compressed when its name ends in ``.gz``; blank lines skipped."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
