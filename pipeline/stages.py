"""The stages a plan becomes: each names its output, checks it before any compute, says when it is done, runs.

The one resume rule: a stage is done iff its output folder carries the marker of the command that writes it
(``infra/outputs.py``'s ``.written-by.json``) with the identity this plan gives it; a killed stage left no such
marker (or one without its files), so it runs again, and a changed identity is redone (a task's n) or refused with
the fix (another model or evaluation setting in the same folder). Reports whose output is not a folder of their own
(the paper table, the frontier) and the push have no identity: they render or upload recorded files, in seconds,
every time they are selected.

Heavy steps are subprocesses of their owners' entry points (``python -m dataset_builder build``, ``python -m
training.embedded_model``, ``python -m training.sft``, ``python -m training.replay``, ``python -m evaluation run``),
so this file holds no copy of their logic; reports and the release's last steps are functions called here.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.cli import Interrupted, UserError, read_yaml_mapping
from infra.outputs import (
    OutputError,
    check_claim,
    check_output_folder,
    check_report_files,
    read_marker,
    sha256_file,
    write_marker,
)
from pipeline.plan import ALL, Plan, PlanError
from sources.nq_open import NQ_ORACLE_FILE

REPLAY_TASK = "nq_closed_replay"  # training/replay.py's task: the base's answers to the NQ replay quarter


class StageFailed(UserError):
    """A stage's command exited non-zero; its own error is printed above."""

    def __init__(self, args: list[str], returncode: int):
        super().__init__(f"`python {' '.join(args)}` failed ({returncode}; its error is above); fix it and rerun")
        self.returncode = returncode


@dataclass
class Stage:
    name: str  # "<group>" or "<group>:<model label>"
    check: Callable[[], None]  # the output refused before any stage computes (a file in the way, a foreign folder)
    done: Callable[[], bool] | None  # None: no identity, runs whenever selected
    run: Callable[[], None]

    @property
    def group(self) -> str:
        return self.name.split(":")[0]


def run_step(args: list[str]) -> None:
    """``python <args>`` as a subprocess of this interpreter; a Ctrl-C there is an Interrupted here (exit 130)."""
    print("+ python " + " ".join(args), flush=True)
    returncode = subprocess.run([sys.executable, *args]).returncode
    if returncode in (130, -2):
        raise Interrupted(f"`python {' '.join(args)}` interrupted; rerun the same plan to resume")
    if returncode != 0:
        raise StageFailed(args, returncode)


def fingerprint(value: Any) -> str:
    """sha256 of a JSON-normalised value: a short identity for what a stage was made from."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def marker_matches(folder: Path, command: str, identity: dict) -> bool:
    """The one resume rule: ``folder`` carries ``command``'s marker, listing files, with this ``identity``."""
    marker = read_marker(folder)
    return marker.get("command") == command and bool(marker.get("files")) and marker.get("identity") == identity


def stamp_identity(folder: Path, command: str, identity: dict) -> None:
    """Record ``identity`` in the marker a stage's own command just wrote (folders written whole carry none)."""
    marker = read_marker(folder)
    if marker.get("command") != command:
        raise OutputError(f"{folder} has no marker of `{command}` after the stage ran; rerun the stage")
    write_marker(folder, {**marker, "identity": identity})


def refused(folder: Path, err: OutputError) -> PlanError:
    return PlanError(f"{err} (the plan writes {folder}: set another folder in the plan, or move that one away)")


# ------------------------------------------------------------------ dataset and base model


def dataset_stage(plan: Plan) -> Stage:
    from dataset_builder.config import load_config
    from dataset_builder.publish import COMMAND, damaged, is_current

    folder = Path(plan.dataset_dir)
    names = None if plan.datasets == ALL else list(plan.datasets)

    def done() -> bool:
        from dataset_builder.config import named_configs

        if read_marker(folder).get("command") != COMMAND:
            return False
        # the builder's own reuse rule: each config's snapshot equals its config and its files are as written
        return all(is_current(folder, load_config(n)) and not damaged(folder, n) for n in names or named_configs())

    args = ["-m", "dataset_builder", "build", "--out", str(folder)] + (["--configs", *names] if names else [])
    return Stage("dataset", lambda: check_output_folder(folder, COMMAND), done, lambda: run_step(args))


def base_model_stage(plan: Plan) -> Stage:
    from training.embedded_model import COMMAND, is_complete

    folder = Path(plan.base_model)

    def check() -> None:
        if not is_complete(folder):  # a complete folder is left alone
            check_output_folder(folder, COMMAND)

    args = ["-m", "training.embedded_model", "--out", str(folder)]
    return Stage("base_model", check, lambda: is_complete(folder), lambda: run_step(args))


# ------------------------------------------------------------------ training


def recipe_argv(spec: dict[str, Any]) -> list[str]:
    """``training.sft`` arguments of one model: its recipe, then each override as on the command line."""
    argv = ["--config", spec["recipe"]]
    for key, value in spec.items():
        if key != "recipe":
            argv += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return argv


def output_dir(spec: dict[str, Any]) -> Path:
    """Where ``training.sft`` writes this model: the override, else the recipe's own ``output_dir``."""
    if "output_dir" in spec:
        return Path(spec["output_dir"])
    recipe = read_yaml_mapping(Path(spec["recipe"]), "recipe key", PlanError)
    if not isinstance(recipe.get("output_dir"), str):
        raise PlanError(f"recipe {spec['recipe']} has no output_dir; add one or give output_dir in the plan")
    return Path(recipe["output_dir"])


def training_identity(spec: dict[str, Any]) -> dict:
    """The identity ``training.sft`` records for this run (model, data and every setting that decides the weights)."""
    from training.sft import parse_recipe, recipe_keys, run_identity

    unknown = sorted(set(spec) - {"recipe"} - recipe_keys())
    if unknown:
        raise PlanError(f"unknown recipe keys {unknown}; check the spelling (training.sft recipe keys)")
    return run_identity(*parse_recipe(recipe_argv(spec)))


def finished_training(folder: Path, identity: dict | None) -> bool:
    """The one definition of a finished model is training.sft's own (``finished_run``): the stage skips what the
    trainer itself would skip."""
    from training.sft import finished_run

    return finished_run(folder, identity)


def train_stage(plan: Plan, label: str) -> Stage:
    from training.sft import COMMAND

    spec = plan.models[label]
    folder = output_dir(spec)

    def check() -> None:
        try:
            identity = training_identity(spec)  # a misspelled override fails now, not an hour in
        except UserError as err:
            raise PlanError(f"models.{label}: {err}") from err
        try:  # the identity names the base model's absolute path, so it is compared once that model exists
            check_claim(folder, COMMAND, identity=identity if Path(plan.base_model).exists() else None)
        except OutputError as err:
            raise refused(folder, err) from err

    return Stage(
        f"train:{label}",
        check,
        lambda: finished_training(folder, training_identity(spec)),
        lambda: run_step(["-m", "training.sft", *recipe_argv(spec)]),
    )


# ------------------------------------------------------------------ evaluation


def model_path(plan: Plan, label: str) -> str:
    spec = plan.models[label]
    return plan.base_model if not spec else str(output_dir(spec))


def eval_identity(plan: Plan, model: str) -> dict:
    """What ``python -m evaluation run`` records for this model under the plan's setting (precision resolved as it
    resolves it, on this machine)."""
    from evaluation.generation import resolve_placement
    from evaluation.runner import results_identity

    precision = resolve_placement("auto", plan.precision).precision
    setting = {"batch_size": plan.batch_size, "max_batch_tokens": plan.max_batch_tokens, "precision": precision}
    return results_identity(model, setting)


def task_done(folder: Path, task: str, limit: int | None, identity: dict) -> bool:
    """The results folder's marker (this model, this setting) lists the task's pair of files, written with this n."""
    from evaluation.results import COMMAND

    marker = read_marker(folder)
    files = marker.get("files") or {}
    if marker.get("command") != COMMAND or marker.get("identity") != identity:
        return False
    if f"{task}.json" not in files or f"{task}.samples.jsonl" not in files:
        return False
    try:
        return json.loads((folder / f"{task}.json").read_text()).get("limit") == limit
    except (OSError, ValueError):
        return False


def evaluate(plan: Plan, model: str, folder: Path, tasks: list[str], limits: dict[str, int | None]) -> None:
    """One ``python -m evaluation run`` per distinct n (its ``--limit``), each over every task with that n."""
    by_limit: dict[int | None, list[str]] = {}
    for task in tasks:
        by_limit.setdefault(limits[task], []).append(task)
    for limit, group in by_limit.items():
        args = ["-m", "evaluation", "run", "--model", model, "--tasks", ",".join(group), "--out", str(folder)]
        args += ["--dataset", plan.dataset_dir, "--data_dir", plan.data_dir, "--batch_size", str(plan.batch_size)]
        args += ["--max_batch_tokens", str(plan.max_batch_tokens), "--precision", plan.precision]
        run_step(args + ([] if limit is None else ["--limit", str(limit)]))


def adopt_results_folder(folder: Path, identity: dict) -> None:
    """A results folder written before the evaluation setting joined its identity (``{"model": m}`` alone), whose
    every results file recorded this plan's setting, is this plan's: its marker gets the full identity, instead of
    hours of evaluation only to write the same files again. A file of another setting leaves it refused."""
    from evaluation.results import COMMAND, eval_setting

    marker = read_marker(folder)
    if marker.get("command") != COMMAND or marker.get("identity") != {"model": identity["model"]}:
        return
    try:
        records = [
            json.loads((folder / rel).read_text()) for rel in marker.get("files") or {} if rel.endswith(".json")
        ]
    except (OSError, ValueError):
        return
    if records and all(eval_setting(record) == identity["eval_setting"] for record in records):
        write_marker(folder, {**marker, "identity": identity})
        print(f"{folder}: results of this plan's evaluation setting; its marker now records that setting")


def check_results(folder: Path, identity: dict) -> None:
    from evaluation.results import COMMAND

    adopt_results_folder(folder, identity)
    try:
        check_claim(folder, COMMAND, identity=identity)
    except OutputError as err:
        raise refused(folder, err) from err


def not_trained_yet(plan: Plan, label: str, stage: str) -> bool:
    """A trained label whose model folder holds no finished run yet: its stage waits (and says so) instead of
    evaluating a half-trained or missing model."""
    model = model_path(plan, label)
    if plan.models[label] and not finished_training(Path(model), None):
        print(f"[{stage}:{label}] {model} holds no finished model yet; run its train stage (--only train:{label})")
        return True
    return False


def eval_stage(plan: Plan, label: str, force: Callable[[], bool]) -> Stage:
    folder = Path(plan.results_dir) / label
    model = model_path(plan, label)
    limits = {task: plan.limit(task) for task in plan.eval}

    def missing() -> list[str]:
        identity = eval_identity(plan, model)
        return [t for t in plan.eval if force() or not task_done(folder, t, limits[t], identity)]

    def run() -> None:
        if not_trained_yet(plan, label, "eval"):
            return
        evaluate(plan, model, folder, missing(), limits)

    return Stage(
        f"eval:{label}", lambda: check_results(folder, eval_identity(plan, model)), lambda: not missing(), run
    )


def general_args(plan: Plan, model: str, out: Path) -> list[str]:
    """``python -m evaluation lm-eval`` of one model: the plan's columns and subset, its batch size and precision."""
    general = plan.general
    args = ["-m", "evaluation", "lm-eval", "--model", model, "--tasks", ",".join(general["tasks"]), "--out", str(out)]
    args += [
        "--batch_size",
        str(plan.batch_size),
        "--precision",
        plan.precision,
        "--seed",
        str(general.get("seed", 0)),
    ]
    args += ["--nq_oracle", str(Path(plan.data_dir) / NQ_ORACLE_FILE)]
    for key in ("n", "mmlu_per_subject"):
        if general.get(key) is not None:
            args += [f"--{key}", str(general[key])]
    return args


def general_stage(plan: Plan, label: str) -> Stage:
    """The general benchmarks of one model (lm-eval over local data) into ``general.out/<label>``; done when that
    folder carries lm-eval's marker with this model (weights), this subset and this setting."""
    from evaluation.harness import COMMAND

    folder = Path(plan.general["out"]) / label
    model = model_path(plan, label)

    def identity() -> dict:
        return {**eval_identity(plan, model), "general": plan.general}

    def run() -> None:
        if not_trained_yet(plan, label, "general"):
            return
        # a stale folder of its own (another model, subset or setting) is one lm-eval replaces; anyone else's was
        # refused by check() before any stage ran
        run_step(general_args(plan, model, folder))
        stamp_identity(folder, COMMAND, identity())

    # someone else's non-empty folder is refused before any stage computes
    return Stage(
        f"general:{label}",
        lambda: check_output_folder(folder, COMMAND),
        lambda: marker_matches(folder, COMMAND, identity()),
        run,
    )


def replay_stage(plan: Plan) -> Stage:
    """The base's own answers to the NQ replay quarter (evaluated under the plan's setting) as training rows."""
    from training.replay import COMMAND

    folder, results = Path(plan.replay_dir), Path(plan.results_dir) / plan.base_label
    samples = results / f"{REPLAY_TASK}.samples.jsonl"

    def identity() -> dict:
        return {"samples_sha256": sha256_file(samples) if samples.is_file() else None}

    def check() -> None:
        check_output_folder(folder, COMMAND)
        check_results(results, eval_identity(plan, plan.base_model))

    def run() -> None:
        if not task_done(results, REPLAY_TASK, None, eval_identity(plan, plan.base_model)):
            evaluate(plan, plan.base_model, results, [REPLAY_TASK], {REPLAY_TASK: None})
        run_step(
            ["-m", "training.replay", "--samples", str(samples), "--out", str(folder), "--data_dir", plan.data_dir]
        )
        stamp_identity(folder, COMMAND, identity())

    return Stage("replay", check, lambda: marker_matches(folder, COMMAND, identity()), run)


# ------------------------------------------------------------------ reports


def paper_table_stage(plan: Plan) -> Stage:
    from model_cards.paper_table import COMMAND, REPORT_FILES, TableConfig, write_table

    out = Path(plan.paper_table)
    labels = ",".join(plan.models)

    def run() -> None:
        cfg = TableConfig(results=plan.results_dir, out=str(out), models=labels, general=plan.general_out)
        written = write_table(cfg)
        print(f"wrote {written / 'table.md'}, {written / 'table.json'}, {written / 'table.png'}")

    return Stage("paper_table", lambda: check_report_files(out, COMMAND, REPORT_FILES), None, run)


def frontier_stage(plan: Plan) -> Stage:
    from model_cards.frontier import COMMAND, REPORT_FILES, write_frontier

    out = Path(plan.frontier)
    points = {label: plan.models[label] for label in plan.trained_labels}

    def run() -> None:
        written = write_frontier(Path(plan.results_dir), points, out)
        print((written / "frontier.md").read_text())

    return Stage("frontier", lambda: check_report_files(out, COMMAND, REPORT_FILES), None, run)


def seed_spread_stage(plan: Plan) -> Stage:
    from model_cards.seed_spread import COMMAND, REPORT_FILES, SpreadConfig, write_spread

    out = Path(plan.seed_spread)

    def run() -> None:
        labels = ",".join(plan.models)
        cfg = SpreadConfig(results=plan.results_dir, out=str(out), models=labels, general=plan.general_out)
        written = write_spread(cfg)
        print((written / "spread.md").read_text())

    return Stage("seed_spread", lambda: check_report_files(out, COMMAND, REPORT_FILES), None, run)


def existing(path: str | None) -> Path | None:
    return Path(path) if path and Path(path).is_file() else None


def general_runs(plan: Plan) -> tuple[Path, Path] | None:
    """The base's and the card model's lm-eval runs, when the plan has the general benchmarks."""
    if not plan.general:
        return None
    out = Path(plan.general["out"])
    return out / plan.base_label, out / plan.card_model


def card_sections(plan: Plan) -> list[Path | None]:
    """The optional card sections' JSON files that exist, in ``model_cards.card.table_sections``' order (paper
    table, recipe frontier, seed spread); None for each not written yet, so its section is left out."""
    return [existing(plan.card_paper_table), existing(plan.card_frontier), existing(plan.card_seed_spread)]


def card_inputs(plan: Plan) -> dict[str, Any]:
    """What the card is rendered from, by sha256: both results folders' files, the optional sections, the recipe."""
    results = Path(plan.results_dir)
    files = {
        str(p): sha256_file(p)
        for label in (plan.base_label, plan.card_model)
        for p in sorted((results / label).glob("*.json*"))
        if not p.name.startswith(".")
    }
    for path in filter(None, card_sections(plan)):
        for part in (path, path.with_suffix(".png")):
            files[str(part)] = sha256_file(part) if part.is_file() else None
    for run in general_runs(plan) or ():
        for part in sorted(run.glob("samples/*.jsonl")) + [run / "summary.json"]:
            files[str(part)] = sha256_file(part) if part.is_file() else None
    spec = plan.models[plan.card_model]
    files[spec["recipe"]] = sha256_file(Path(spec["recipe"]))
    return {"files": fingerprint(files), "model_repo": plan.model_repo, "dataset_repo": plan.dataset_repo}


def card_stage(plan: Plan) -> Stage:
    from model_cards.card import COMMAND, inputs_from_folders, table_sections, write_card

    out, results = Path(plan.card), Path(plan.results_dir)
    spec = plan.models[plan.card_model]
    train_command = "python -m training.sft " + " ".join(recipe_argv(spec))

    def run() -> None:
        # a card compares the two: each results folder must exist and hold current results (else one line)
        inputs = inputs_from_folders(
            results / plan.base_label,
            results / plan.card_model,
            plan.model_repo,
            datasets=[plan.dataset_repo],
            recipe_path=spec["recipe"],
            train_command=train_command,
            **table_sections(*card_sections(plan)),
            general_dirs=general_runs(plan),
        )
        print(f"wrote {write_card(inputs, out)}")
        stamp_identity(out, COMMAND, card_inputs(plan))

    return Stage(
        "card", lambda: check_output_folder(out, COMMAND), lambda: marker_matches(out, COMMAND, card_inputs(plan)), run
    )


# ------------------------------------------------------------------ release


def release_stages(plan: Plan) -> list[Stage]:
    from hub_release.release import (
        REPOS,
        STAGE_COMMAND,
        assemble_release,
        is_validated,
        push_release,
        validate_release,
    )

    root, cards = Path(plan.release_dir), Path(plan.card)
    dataset, model = Path(plan.dataset_dir), Path(model_path(plan, plan.card_model))

    def sources() -> dict:
        """The staged repos are made from these three folders, as their markers list them (with sha256)."""
        folders = {"dataset": dataset, "model": model, "card": cards}
        return {name: fingerprint(read_marker(folder).get("files")) for name, folder in folders.items()}

    def check() -> None:
        for repo in REPOS:
            check_output_folder(root / repo, STAGE_COMMAND)

    def assemble() -> None:
        assemble_release(dataset, model, cards, root, finished_training(model, None))
        for repo in REPOS:
            stamp_identity(root / repo, STAGE_COMMAND, sources())

    def assembled() -> bool:
        return all(marker_matches(root / repo, STAGE_COMMAND, sources()) for repo in REPOS)

    return [
        Stage("assemble", check, assembled, assemble),
        Stage("validate", lambda: None, lambda: is_validated(root), lambda: validate_release(root) and None),
        Stage("push", lambda: None, None, lambda: push_release(root, plan.dataset_repo, plan.model_repo) and None),
    ]


def build_stages(plan: Plan, forced: Callable[[str], bool] = lambda name: False) -> list[Stage]:
    """Every stage of ``plan``, in the order each consumes the previous ones' outputs."""
    stages = []
    if plan.datasets:
        stages.append(dataset_stage(plan))
    stages.append(base_model_stage(plan))
    if plan.replay_dir:
        stages.append(replay_stage(plan))
    stages += [train_stage(plan, label) for label in plan.trained_labels]
    stages += [eval_stage(plan, label, lambda n=f"eval:{label}": forced(n)) for label in plan.models]
    if plan.general:
        stages += [general_stage(plan, label) for label in plan.models]
    if plan.paper_table:
        stages.append(paper_table_stage(plan))
    if plan.frontier:
        stages.append(frontier_stage(plan))
    if plan.seed_spread:
        stages.append(seed_spread_stage(plan))
    if plan.card:
        stages.append(card_stage(plan))
    if plan.release_dir:
        stages += release_stages(plan)
    return stages
