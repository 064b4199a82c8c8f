"""Push a staged Hub-layout folder, or say exactly what would be pushed.

Shared by the dataset, the trained models and the release: one place decides how a folder reaches
the Hub. Pushing happens only when a token is set (``HF_TOKEN``); without one we print the
upload plan, so an offline run and a dry run are the same code path. The token is never printed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

TOKEN_ENV = "HF_TOKEN"


@dataclass(frozen=True)
class PlannedFile:
    path: str  # path inside the repo, "/"-separated
    size: int
    sha256: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plan_upload(folder: Path) -> list[PlannedFile]:
    """Every file under ``folder`` (sorted, hidden files skipped) as it would land in the repo."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"nothing to upload: {folder} is not a folder; build or stage it first")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(x.startswith(".") for x in p.parts))
    return [PlannedFile(p.relative_to(folder).as_posix(), p.stat().st_size, sha256_file(p)) for p in files]


def format_plan(plan: list[PlannedFile], repo_id: str, repo_type: str) -> str:
    total = sum(f.size for f in plan)
    lines = [f"would upload {len(plan)} files ({total / 1e6:.1f} MB) to {repo_type} repo {repo_id}:"]
    lines += [f"  {f.path}  {f.size:>12,d} B  sha256:{f.sha256[:16]}" for f in plan]
    lines.append(f"set {TOKEN_ENV} to push for real")
    return "\n".join(lines)


def push_folder(folder: Path, repo_id: str, repo_type: str, private: bool = False) -> str:
    """Upload ``folder`` to ``repo_id`` if ``HF_TOKEN`` is set; otherwise print the plan. Returns a summary line."""
    if repo_type not in ("dataset", "model"):
        raise ValueError(f"repo_type must be 'dataset' or 'model', got {repo_type!r}")
    plan = plan_upload(folder)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        text = format_plan(plan, repo_id, repo_type)
        print(text)
        return f"dry run: {len(plan)} files for {repo_type} repo {repo_id}"

    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type)
    return f"pushed {len(plan)} files to {repo_type} repo {repo_id}: {commit.commit_url}"
