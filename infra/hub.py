"""Push a staged Hub-layout folder, or say exactly what would be pushed.

Shared by the dataset, the trained models and the release: one place decides how a folder reaches the Hub. Pushing
happens only when a token is set (``HF_TOKEN``); without one we print the upload plan, so an offline run and a dry
run are the same code path. The token is never printed.

A push mirrors the folder: remote files the folder no longer holds are deleted in the same upload
(``delete_patterns="*"``; the Hub always keeps ``.gitattributes``), so a dropped config or a renamed weight file
cannot linger beside the new ones. Hidden files (markers, temporary files) are never uploaded. Multi-GB weights:
huggingface_hub 2.4 has no separate ``upload_large_folder``; its ``upload_folder`` is the resumable uploader, which
commits a large folder in several batches and resumes an interrupted upload when rerun, as long as ``hf_xet`` (a
dependency of huggingface_hub on x86-64 and arm64) is installed. Without it we say so before a single-commit upload.

What is uploaded is exactly what the command that wrote the folder listed in its marker (``infra/outputs.py``), each
file still byte-identical to what it wrote: a folder without a marker (the checkout, a home directory), a model folder
pushed as a dataset, a user's file dropped in later, or a symlink pointing out of the folder is never uploaded.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from infra.cli import UserError
from infra.outputs import MARKER, read_marker, sha256_file
from infra.project import OFFLINE_ENV, hub_offline

TOKEN_ENV = "HF_TOKEN"
HIDDEN_PATTERNS = [".*", "*/.*"]  # huggingface_hub's "*" crosses "/": these are hidden files at any depth
MIRROR = "*"  # every remote file not in the folder is deleted by the upload


class HubError(UserError):
    """The folder cannot be pushed (offline, bad repo id, Hub refused); the message names the fix."""


@dataclass(frozen=True)
class PlannedFile:
    path: str  # path inside the repo, "/"-separated
    size: int
    sha256: str


@dataclass(frozen=True)
class Pushed:
    summary: str  # one line for the log
    revision: str | None  # the Hub commit the push created; None for a dry run


def plan_upload(folder: Path, repo_type: str) -> list[PlannedFile]:
    """The files ``folder``'s marker lists (sorted, hidden ones skipped) as they would land in a ``repo_type`` repo.

    Refused: no folder, no marker, a marker of another kind of repo, a listed file that is gone, is a symlink or
    changed since it was written (its sha256 differs from the marker's).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"nothing to upload: {folder} is not a folder; build or stage it first")
    marker = read_marker(folder)
    if not isinstance(marker.get("files"), dict):
        raise HubError(
            f"{folder} was not written by this project's commands (no readable {MARKER}), so nothing in it is "
            "known to be theirs; push a folder that `python -m dataset_builder build`, `python -m training.sft` or "
            "`make release` wrote"
        )
    if marker.get("kind") != repo_type:
        raise HubError(
            f"{folder} is not a {repo_type} repo (`{marker.get('command')}` wrote it as "
            f"{marker.get('kind') or 'no Hub repo'}); push a {repo_type} folder"
        )
    root, plan = folder.resolve(), []
    for rel, recorded in sorted(marker["files"].items()):
        path = folder / rel
        if any(part.startswith(".") for part in Path(rel).parts):
            continue
        if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(root):
            raise HubError(
                f"{path} is missing or a link since `{marker['command']}` wrote {folder}; run that command again"
            )
        digest = sha256_file(path)
        if recorded is not None and digest != recorded:
            raise HubError(f"{path} changed since `{marker['command']}` wrote it; run that command again")
        plan.append(PlannedFile(rel, path.stat().st_size, digest))
    return plan


def format_plan(plan: list[PlannedFile], repo_id: str, repo_type: str) -> str:
    total = sum(f.size for f in plan)
    lines = [f"would upload {len(plan)} files ({total / 1e6:.1f} MB) to {repo_type} repo {repo_id}:"]
    lines += [f"  {f.path}  {f.size:>12,d} B  sha256:{f.sha256[:16]}" for f in plan]
    lines.append(f"remote files not listed are deleted (the repo mirrors the folder); set {TOKEN_ENV} to push")
    return "\n".join(lines)


def check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise HubError(f"repo id {repo_id!r} is not a valid Hub id ({err}); use <org or user>/<name>") from err


def ensure_online(action: str) -> None:
    """A push with ``HF_HUB_OFFLINE`` set would fail deep inside huggingface_hub; say why in one line instead."""
    if hub_offline():
        raise HubError(
            f"cannot {action}: {OFFLINE_ENV} is set; unset {OFFLINE_ENV} to push, or unset {TOKEN_ENV} for a dry run"
        )


def hub_api(token: str):
    """The client; a function so tests can replace it (nothing here can reach the Hub offline)."""
    from huggingface_hub import HfApi

    return HfApi(token=token)


def upload(folder: Path, repo_id: str, repo_type: str, private: bool = False, token: str | None = None) -> Pushed:
    """Mirror ``folder``'s planned files to ``repo_id`` if a token is given or ``HF_TOKEN`` is set; otherwise print
    the plan. ``token`` (e.g. a recipe's ``--hub_token``) is used as given and never stored or printed."""
    if repo_type not in ("dataset", "model"):
        raise ValueError(f"repo_type must be 'dataset' or 'model', got {repo_type!r}")
    check_repo_id(repo_id)
    plan = plan_upload(folder, repo_type)
    token = (token or os.environ.get(TOKEN_ENV, "")).strip()
    if not token:
        print(format_plan(plan, repo_id, repo_type))
        return Pushed(f"dry run: {len(plan)} files for {repo_type} repo {repo_id}", None)
    ensure_online(f"push {folder} to {repo_type} repo {repo_id}")

    import importlib.util

    import httpx2

    if importlib.util.find_spec("hf_xet") is None:  # what upload_folder checks to pick its resumable pipeline
        print("notice: hf_xet is not installed, so this upload is one commit and restarts from zero if interrupted")
    api = hub_api(token)
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type=repo_type,
            allow_patterns=[glob.escape(f.path) for f in plan],  # exactly the plan, nothing else in the folder
            ignore_patterns=HIDDEN_PATTERNS,
            delete_patterns=MIRROR,
            commit_message=f"Upload {Path(folder).name} ({len(plan)} files)",
        )
    except (OSError, httpx2.HTTPError) as err:  # HfHubHTTPError is both; a refused connection is either
        raise HubError(
            f"pushing {folder} to {repo_type} repo {repo_id} failed ({err}); check the network and that {TOKEN_ENV} "
            "may write to that repo, then rerun (a rerun resumes)"
        ) from err
    return Pushed(f"pushed {len(plan)} files to {repo_type} repo {repo_id}: {commit.commit_url}", commit.oid)


def push_folder(folder: Path, repo_id: str, repo_type: str, private: bool = False, token: str | None = None) -> str:
    """:func:`upload`, returning only its summary line."""
    return upload(folder, repo_id, repo_type, private, token).summary
