"""The release's last three steps as functions of explicit folders: stage the repos, record what validation
accepted, push exactly that. ``python -m pipeline run plans/release.yaml`` runs them as its ``assemble``, ``validate``
and ``push`` stages.

Staging copies only the files the writing commands listed in their markers (never a user's file or a symlink's
target) into ``<release>/dataset`` and ``<release>/model``, each assembled beside its staged copy and swapped in
whole. Validation records, in the staged model repo's marker (``validated``), every file of both repos with its
sha256 as the push would upload it; the push uploads only that, byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from infra.cli import UserError
from infra.outputs import read_marker, sha256_file, staged_folder, write_marker

# The marker of <release>/dataset and <release>/model, as the release has always written it: repos staged before the
# stage runner stay this program's (replaced by the next assemble, not refused as a stranger's folder).
STAGE_COMMAND = "python -m hub_release (stage)"
REPOS = ("dataset", "model")


class ReleaseError(UserError):
    """A missing or changed release input; the message names the stage that fixes it."""


def copy_marked_files(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> None:
    """Copy the files ``src``'s marker lists (what its command wrote; never a user's file or a symlink's target)."""
    files = read_marker(src).get("files")
    if not isinstance(files, dict):
        raise ReleaseError(f"{src} has no readable .written-by.json listing its files; run the stage that writes it")
    for rel in files:
        if rel.split("/")[0].startswith(skip) or any(part.startswith(".") for part in rel.split("/")):
            continue
        source = src / rel
        if source.is_symlink() or not source.is_file():
            raise ReleaseError(f"{source} is missing or a link since it was written; run the stage that writes it")
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dst / rel)


def check_card_matches_model(cards: Path, model_dir: Path) -> None:
    """The card's finetuned numbers must be of the weights being staged, not of another model or an earlier run."""
    from infra.model_folder import weights_fingerprint

    weights = weights_fingerprint(model_dir)
    for path in sorted((cards / "eval_results" / "finetuned").glob("*.json")):
        measured = json.loads(path.read_text()).get("model", {}).get("weights_sha256")
        if measured != weights:
            raise ReleaseError(
                f"the card in {cards} was rendered from results ({path.name}) of other weights than {model_dir} "
                "holds; evaluate this model and render the card again: --force eval:<label>,card"
            )


def assemble_release(dataset_dir: Path, model_dir: Path, cards: Path, root: Path, model_finished: bool) -> None:
    """Copy into ``root``: the dataset folder as-is; the model folder + the card folder (card, plot, results).

    Inputs are checked first and each repo is assembled beside its staged copy, so a missing input leaves the
    release staged earlier exactly as it was.
    """
    if not (dataset_dir / "README.md").is_file():
        raise ReleaseError(f"{dataset_dir} has no README.md dataset card; run the dataset stage")
    if not model_finished:
        raise ReleaseError(f"{model_dir} holds no finished model; run the train stage")
    if not (cards / "README.md").is_file():
        raise ReleaseError(f"{cards} has no model card; run the card stage")
    check_card_matches_model(cards, model_dir)
    with staged_folder(root / "dataset", STAGE_COMMAND, hash_files=False, kind="dataset") as tmp:
        copy_marked_files(dataset_dir, tmp)
    with staged_folder(root / "model", STAGE_COMMAND, hash_files=False, kind="model") as tmp:
        # checkpoints are resume state, not part of the published model; the card replaces the training stub
        copy_marked_files(model_dir, tmp, skip=("checkpoint-", "runs"))
        copy_marked_files(cards, tmp)


def upload_plans(root: Path) -> dict[str, dict[str, str]]:
    """Every file of both staged repos with its sha256, as the push would upload them: what validate vouches for."""
    from infra.hub import plan_upload

    return {repo: {f.path: f.sha256 for f in plan_upload(root / repo, repo)} for repo in REPOS}


def validate_release(root: Path) -> dict:
    """Load both staged repos as a user would, then record what passed in the model repo's marker."""
    from hub_release.validate import validate_dataset_repo, validate_model_repo
    from infra.model_folder import check_model

    check_model(str(root / "model"))  # seconds, before the datasets are loaded: a damaged weights file first
    counts = validate_dataset_repo(root / "dataset")
    sample = validate_model_repo(root / "model")
    print(f"dataset repo loads: {counts}")
    print(f"model repo generates: {sample!r}")
    record_validated(root, upload_plans(root))
    return {"dataset_rows": counts, "generation": sample}


def record_validated(root: Path, plans: dict[str, dict[str, str]]) -> None:
    marker = read_marker(root / "model")
    if marker.get("command") != STAGE_COMMAND:
        raise ReleaseError(f"{root / 'model'} was not staged by this pipeline; run the assemble stage")
    write_marker(root / "model", {**marker, "validated": plans})


def is_validated(root: Path) -> bool:
    """The staged repos are byte for byte what the validate stage accepted."""
    recorded = read_marker(root / "model").get("validated") if (root / "model").is_dir() else None
    if not recorded:
        return False
    try:
        return upload_plans(root) == recorded
    except UserError:  # a repo gone or damaged since: not validated
        return False


def check_validated(root: Path) -> None:
    """The push uploads only what the validate stage accepted, byte for byte."""
    if not read_marker(root / "model").get("validated"):
        raise ReleaseError(f"the staged release {root} has not passed validation; run --only validate")
    if not is_validated(root):
        raise ReleaseError(f"{root} changed since it was validated; run --only assemble,validate before --only push")


def qualified(repo: str) -> str:
    """``name`` → ``<token user>/name`` (only called when a token is set); the token itself is never shown."""
    if "/" in repo:
        return repo
    import httpx2

    from infra.hub import HubError, hub_api

    try:
        return f"{hub_api(os.environ['HF_TOKEN']).whoami()['name']}/{repo}"
    except (OSError, httpx2.HTTPError) as err:
        raise HubError(
            f"cannot ask the Hub whose token HF_TOKEN is ({err}); give model_repo/dataset_repo as <org>/<name>"
        ) from err


def pin_dataset_revision(card_path: Path, dataset_repos: set[str], revision: str) -> int:
    """Set ``dataset_revision`` of the card's results read from ``dataset_repos`` to the commit just pushed."""
    from huggingface_hub import ModelCard

    card = ModelCard.load(card_path)
    pinned = 0
    for result in card.data.eval_results or []:
        if result.dataset_type in dataset_repos:
            result.dataset_revision = revision
            pinned += 1
    card.save(card_path)
    return pinned


def vouch_for_pinned_card(root: Path) -> None:
    """The pinned card differs from the validated one by the dataset revision alone, which the push itself wrote:
    record its new sha256 as validated, so a rerun of the push is not refused for it."""
    plans = read_marker(root / "model")["validated"]
    plans["model"]["README.md"] = sha256_file(root / "model" / "README.md")
    record_validated(root, plans)


def push_release(root: Path, dataset_repo: str, model_repo: str) -> dict:
    """Upload both validated repos (HF_TOKEN set) or print what would be uploaded; never writes or shows a token."""
    from infra.hub import TOKEN_ENV, ensure_online, upload

    has_token = bool(os.environ.get(TOKEN_ENV, "").strip())
    if has_token:
        ensure_online(f"push {root}")  # before whoami: offline is one line, not a connection traceback
    check_validated(root)
    dataset_id = qualified(dataset_repo) if has_token else dataset_repo
    model_id = qualified(model_repo) if has_token else model_repo
    dataset = upload(root / "dataset", dataset_id, "dataset")
    if dataset.revision:  # the card's synthetic results now name the exact dataset commit they were read from
        pin_dataset_revision(root / "model" / "README.md", {dataset_repo, dataset_id}, dataset.revision)
        vouch_for_pinned_card(root)
    summary = [dataset.summary, upload(root / "model", model_id, "model").summary]
    for line in summary:
        print(line)
    return {"pushed": has_token, "summary": summary, "dataset_revision": dataset.revision}
