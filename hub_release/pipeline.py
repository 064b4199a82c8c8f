"""The release pipeline: each stage a function of ``ReleaseConfig``, skipped when its done-marker exists.

    HF_HUB_OFFLINE=1 .venv/bin/python -m hub_release

Stages run in order; a finished stage writes ``<state_dir>/<stage>.done`` (JSON: when, what it produced), so a
killed release resumes at the first unfinished stage (``--force STAGE`` redoes one). Heavy steps (dataset,
conversion, training) run as subprocesses of the owners' entry points, so this file holds no copy of their logic.
Before the first stage runs, every folder the selected stages would write is checked (``infra/outputs.py``): a file
in the way, or a non-empty folder the writing command did not write, stops the release before any compute.

Time budget on 2 CPU cores (≤45 min total): dataset ~2 min, conversion ~1 min, training ~20 min (the recipe),
evaluation of base + finetuned ~10–12 min (``EVAL_PLAN`` limits, sized from measured samples/s), cards,
staging and validation ~1 min.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from infra.cli import UserError, read_yaml_mapping
from infra.hub import check_repo_id
from infra.outputs import check_claim, check_output_folder, check_results_folder, read_marker, staged_folder

DEFAULT_RECIPE = "training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml"
# task:limit — limit is questions (or rows) per gold position; examples = limit × positions.
# Examples: 6 + 6×5 sweep depths = 36; 15×3 = 45; 10×3 = 30; 40. Measured from a clean clone (README, Release):
# 1.6 min (base) + 1.5 min (finetuned) on 2 Intel Xeon cores with AMX, bf16 weights, batch 8 (4.3 + 4.3 min on
# 2 EPYC cores when the CPU path still ran fp32 weights under autocast). The card shows n and intervals.
EVAL_PLAN = ["synthetic_kv:6", "mdqa_10docs:15", "liu_kv_10keys:10", "nq_closed:40"]
STAGE_COMMAND = "python -m hub_release (stage)"  # marker of release/dataset and release/model


class ReleaseError(UserError):
    """A release setting or a missing stage input; the message names the stage or flag that fixes it."""


def read_recipe(path: str) -> dict:
    try:
        recipe = read_yaml_mapping(Path(path), "recipe key", ReleaseError)
    except ReleaseError as err:
        raise ReleaseError(f"recipe {err} (or pass another --recipe); it is not a mapping with an output_dir") from err
    if not isinstance(recipe.get("output_dir"), str):
        raise ReleaseError(f"recipe {path} is not a mapping with an output_dir; pass a training recipe as --recipe")
    return recipe


@dataclass
class ReleaseConfig:
    dataset_dir: str = field(default="build/dataset", metadata={"help": "Dataset builder output (Hub layout)."})
    base_model_dir: str = field(default="build/models/SmolLM2-135M-Instruct", metadata={"help": "Converted base."})
    recipe: str = field(
        default=DEFAULT_RECIPE, metadata={"help": "SFT recipe; its output_dir is the finetuned model."}
    )
    results_dir: str = field(default="build/results", metadata={"help": "Results of base/ and finetuned/."})
    cards_dir: str = field(default="build/cards", metadata={"help": "Rendered model card + plot."})
    # Optional card sections: included when the file exists (`make paper-table`, `make recipe-frontier` ran first).
    paper_table: str = field(
        default="build/paper/table.json", metadata={"help": "The paper table's JSON; its section joins the card."}
    )
    frontier: str = field(
        default="build/frontier/frontier.json", metadata={"help": "The recipe frontier's JSON; likewise."}
    )
    release_dir: str = field(default="release", metadata={"help": "Staged repos: dataset/ and model/ (git-ignored)."})
    state_dir: str = field(default="build/release_state", metadata={"help": "Done-markers of finished stages."})
    data_dir: str = field(default="../shared/data/lost-in-the-middle", metadata={"help": "Liu et al.'s files."})
    eval_plan: list[str] = field(default_factory=lambda: list(EVAL_PLAN), metadata={"help": "task:limit entries."})
    batch_size: int = field(default=8, metadata={"help": "Evaluation prompts per generate call."})
    model_repo: str = field(
        default="artificial-needles/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full",
        metadata={"help": "Hub model repo (namespace optional)."},
    )
    dataset_repo: str = field(
        default="artificial-needles/synthetic-kv-retrieval",
        metadata={"help": "Hub dataset repo (namespace optional)."},
    )

    def __post_init__(self) -> None:
        from evaluation.tasks import EvalConfigError, load_task

        self.eval_plan = [e.strip() for entry in self.eval_plan for e in entry.split(",") if e.strip()]  # a,b or a b
        for entry in self.eval_plan:
            task, _, limit = entry.partition(":")
            if not limit.isdigit() or int(limit) < 1:
                raise EvalConfigError(
                    f"eval_plan entry {entry!r}: write task:limit with limit >= 1, e.g. nq_closed:60"
                )
            load_task(task)
        if not Path(self.recipe).is_file():
            raise ReleaseError(f"recipe {self.recipe} not found; pass --recipe")
        read_recipe(self.recipe)
        check_repo_id(self.model_repo)
        check_repo_id(self.dataset_repo)

    @property
    def finetuned_dir(self) -> str:
        return read_recipe(self.recipe)["output_dir"]

    def plan(self) -> list[tuple[str, int]]:
        return [(e.partition(":")[0], int(e.partition(":")[2])) for e in self.eval_plan]


def run_command(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


# ------------------------------------------------------------------ stages


def stage_dataset(cfg: ReleaseConfig) -> dict:
    run_command([sys.executable, "-m", "dataset_builder", "build", "--out", cfg.dataset_dir])
    return {"dataset_dir": cfg.dataset_dir}


def stage_base_model(cfg: ReleaseConfig) -> dict:
    run_command([sys.executable, "-m", "training.embedded_model", "--out", cfg.base_model_dir])
    return {"model_dir": cfg.base_model_dir}


def finished_model(folder: Path) -> bool:
    """Weights and config saved and no checkpoint left behind (the trainer removes them once it has finished)."""
    return (
        (folder / "config.json").is_file()
        and any(folder.glob("*.safetensors"))
        and not any(folder.glob("checkpoint-*"))
    )


def stage_train(cfg: ReleaseConfig) -> dict:
    # `make train` may already have produced this recipe's model; ~20 CPU minutes are not spent twice.
    if finished_model(Path(cfg.finetuned_dir)):
        print(f"reusing the finished model in {cfg.finetuned_dir} (e.g. from `make train`); delete it to retrain")
        return {"model_dir": cfg.finetuned_dir, "recipe": cfg.recipe, "reused": True}
    run_command([sys.executable, "-m", "training.sft", "--config", cfg.recipe])
    return {"model_dir": cfg.finetuned_dir, "recipe": cfg.recipe}


def evaluate_model(cfg: ReleaseConfig, model_dir: str, out: Path) -> dict:
    from evaluation.generation import load_model
    from evaluation.runner import RunConfig, run_eval
    from infra.model_folder import check_model

    check_model(model_dir)  # a wrong folder gets its own error, not a tokenizer library's
    loaded = load_model(model_dir)  # once per model, shared by every task
    written = []
    for task, limit in cfg.plan():
        run = RunConfig(
            model=model_dir,
            tasks=[task],
            out=str(out),
            limit=limit,
            data_dir=cfg.data_dir,
            dataset=cfg.dataset_dir,
            batch_size=cfg.batch_size,
        )
        written += [str(p) for p in run_eval(run, loaded)]
    return {"model": model_dir, "results": written, "plan": cfg.eval_plan}


def stage_eval_base(cfg: ReleaseConfig) -> dict:
    return evaluate_model(cfg, cfg.base_model_dir, Path(cfg.results_dir) / "base")


def stage_eval_finetuned(cfg: ReleaseConfig) -> dict:
    return evaluate_model(cfg, cfg.finetuned_dir, Path(cfg.results_dir) / "finetuned")


def existing(path: str) -> Path | None:
    return Path(path) if Path(path).is_file() else None


def stage_cards(cfg: ReleaseConfig) -> dict:
    from model_cards.render import inputs_from_folders, table_sections, write_card

    # a release card compares the two: each results folder must exist and hold current results (else one line)
    inputs = inputs_from_folders(
        Path(cfg.results_dir) / "base",
        Path(cfg.results_dir) / "finetuned",
        cfg.model_repo,
        datasets=[cfg.dataset_repo],
        recipe_path=cfg.recipe,
        train_command=f"python -m training.sft --config {cfg.recipe}",
        **table_sections(existing(cfg.paper_table), existing(cfg.frontier)),
    )
    return {"card": str(write_card(inputs, Path(cfg.cards_dir)))}


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
                "holds; evaluate this model and render the card again: --force eval_finetuned,cards"
            )


def stage_stage(cfg: ReleaseConfig) -> dict:
    """Copy into ``release/``: the dataset folder as-is; the model folder + the card folder (card, plot, results).

    Only files the writing commands listed in their markers are copied. Inputs are checked first and each repo is
    assembled beside its staged copy, so a missing input leaves the release staged earlier exactly as it was.
    """
    root, cards = Path(cfg.release_dir), Path(cfg.cards_dir)
    if not (Path(cfg.dataset_dir) / "README.md").is_file():
        raise ReleaseError(f"{cfg.dataset_dir} has no README.md dataset card; run the dataset stage")
    if not finished_model(Path(cfg.finetuned_dir)):
        raise ReleaseError(f"{cfg.finetuned_dir} holds no finished model; run the train stage")
    if not (cards / "README.md").is_file():
        raise ReleaseError(f"{cards} has no model card; run the cards stage")
    check_card_matches_model(cards, Path(cfg.finetuned_dir))
    with staged_folder(root / "dataset", STAGE_COMMAND, hash_files=False, kind="dataset") as tmp:
        copy_marked_files(Path(cfg.dataset_dir), tmp)
    with staged_folder(root / "model", STAGE_COMMAND, hash_files=False, kind="model") as tmp:
        # checkpoints are resume state, not part of the published model; the card replaces the training stub
        copy_marked_files(Path(cfg.finetuned_dir), tmp, skip=("checkpoint-", "runs"))
        copy_marked_files(cards, tmp)
    return {"dataset": str(root / "dataset"), "model": str(root / "model")}


def stage_validate(cfg: ReleaseConfig) -> dict:
    from hub_release.validate import validate_dataset_repo, validate_model_repo
    from infra.model_folder import check_model

    root = Path(cfg.release_dir)
    check_model(str(root / "model"))  # seconds, before the datasets are loaded: a damaged weights file first
    counts = validate_dataset_repo(root / "dataset")
    sample = validate_model_repo(root / "model")
    print(f"dataset repo loads: {counts}")
    print(f"model repo generates: {sample!r}")
    return {"dataset_rows": counts, "generation": sample, "validated": validated_plans(root)}


def validated_plans(root: Path) -> dict[str, dict[str, str]]:
    """Every file of both staged repos with its sha256, as the push would upload them: what validate vouches for."""
    from infra.hub import plan_upload

    return {repo: {f.path: f.sha256 for f in plan_upload(root / repo, repo)} for repo in ("dataset", "model")}


def check_validated(cfg: ReleaseConfig) -> None:
    """The push uploads only what the validate stage accepted, byte for byte."""
    done = marker(cfg, "validate")
    record = json.loads(done.read_text()) if done.is_file() else {}
    if not record.get("validated"):
        raise ReleaseError(f"the staged release has not passed validation ({done} missing); run --only validate")
    if validated_plans(Path(cfg.release_dir)) != record["validated"]:
        raise ReleaseError(
            f"{cfg.release_dir} changed since it was validated; run --only stage,validate before --only push"
        )


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
            f"cannot ask the Hub whose token HF_TOKEN is ({err}); give --model-repo/--dataset-repo as <org>/<name>"
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


def vouch_for_pinned_card(cfg: ReleaseConfig) -> None:
    """The pinned card differs from the validated one by the dataset revision alone, which the push itself wrote:
    record its new sha256 as validated, so a rerun of the push is not refused for it."""
    from infra.outputs import sha256_file, write_atomically

    done = marker(cfg, "validate")
    record = json.loads(done.read_text())
    record["validated"]["model"]["README.md"] = sha256_file(Path(cfg.release_dir) / "model" / "README.md")
    write_atomically(done, json.dumps(record, indent=2))


def stage_push(cfg: ReleaseConfig) -> dict:
    from infra.hub import TOKEN_ENV, ensure_online, upload

    root, has_token = Path(cfg.release_dir), bool(os.environ.get(TOKEN_ENV, "").strip())
    if has_token:
        ensure_online(f"push {root}")  # before whoami: offline is one line, not a connection traceback
    check_validated(cfg)
    dataset_repo = qualified(cfg.dataset_repo) if has_token else cfg.dataset_repo
    model_repo = qualified(cfg.model_repo) if has_token else cfg.model_repo
    dataset = upload(root / "dataset", dataset_repo, "dataset")
    if dataset.revision:  # the card's synthetic results now name the exact dataset commit they were read from
        pin_dataset_revision(root / "model" / "README.md", {cfg.dataset_repo, dataset_repo}, dataset.revision)
        vouch_for_pinned_card(cfg)
    summary = [dataset.summary, upload(root / "model", model_repo, "model").summary]
    for line in summary:
        print(line)
    return {"pushed": has_token, "summary": summary, "dataset_revision": dataset.revision}


# Order matters; each stage consumes the previous ones' outputs.
STAGES: list[tuple[str, Callable[[ReleaseConfig], dict]]] = [
    ("dataset", stage_dataset),
    ("base_model", stage_base_model),
    ("train", stage_train),
    ("eval_base", stage_eval_base),
    ("eval_finetuned", stage_eval_finetuned),
    ("cards", stage_cards),
    ("stage", stage_stage),
    ("validate", stage_validate),
    ("push", stage_push),
]
STAGE_NAMES = [name for name, _ in STAGES]
# A dry-run push is not "done": it must run again once a token is set.
ALWAYS_RERUN = {"push"}


def marker(cfg: ReleaseConfig, stage: str) -> Path:
    return Path(cfg.state_dir) / f"{stage}.done"


def check_stage_outputs(cfg: ReleaseConfig, names: list[str]) -> None:
    """Every folder the stages ``names`` would write, checked before the first of them runs (no compute wasted)."""
    from dataset_builder.publish import COMMAND as DATASET_COMMAND
    from evaluation.results import COMMAND as RESULTS_COMMAND
    from evaluation.runner import results_identity
    from model_cards.render import COMMAND as CARDS_COMMAND
    from training.embedded_model import COMMAND as MODEL_COMMAND
    from training.embedded_model import is_complete

    check_results_folder(Path(cfg.state_dir))
    if "dataset" in names:
        check_output_folder(Path(cfg.dataset_dir), DATASET_COMMAND)
    if "base_model" in names and not is_complete(Path(cfg.base_model_dir)):  # a complete folder is left alone
        check_output_folder(Path(cfg.base_model_dir), MODEL_COMMAND)
    if "train" in names:
        check_results_folder(Path(cfg.finetuned_dir))  # training.sft checks its own output_dir (marker, recipe)
    for which, model in (("base", cfg.base_model_dir), ("finetuned", cfg.finetuned_dir)):
        if f"eval_{which}" in names:
            check_claim(Path(cfg.results_dir) / which, RESULTS_COMMAND, identity=results_identity(model))
    if "cards" in names:
        check_output_folder(Path(cfg.cards_dir), CARDS_COMMAND)
    if "stage" in names:
        for repo in ("dataset", "model"):
            check_output_folder(Path(cfg.release_dir) / repo, STAGE_COMMAND)


def run_release(cfg: ReleaseConfig, force: list[str] = (), only: list[str] | None = None) -> list[str]:
    """Run every unfinished stage (or just ``only``); returns the stages that ran."""
    unknown = sorted((set(force) | set(only or [])) - set(STAGE_NAMES))
    if unknown:
        raise ReleaseError(f"unknown stage(s) {unknown}; stages are {', '.join(STAGE_NAMES)}")
    to_run = [
        name
        for name in STAGE_NAMES
        if (only is None or name in only)
        and (not marker(cfg, name).is_file() or name in force or name in ALWAYS_RERUN)
    ]
    check_stage_outputs(cfg, to_run)
    ran = []
    bar = tqdm(STAGES, desc="release", unit="stage")
    for name, fn in bar:
        bar.set_postfix_str(name)
        done = marker(cfg, name)
        if only is not None and name not in only:
            continue
        if name not in to_run:
            tqdm.write(f"[{name}] done earlier ({done}); skipping")
            continue
        tqdm.write(f"[{name}] starting")
        start = time.perf_counter()
        record = fn(cfg)
        seconds = time.perf_counter() - start
        done.parent.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        done.write_text(
            json.dumps({"stage": name, "finished": stamp, "seconds": round(seconds, 1), **record}, indent=2)
        )
        tqdm.write(f"[{name}] finished in {seconds / 60:.1f} min")
        ran.append(name)
    return ran
