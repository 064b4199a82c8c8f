"""The one stage runner: strict plans, one resume rule (the output's marker and identity), outputs checked before any
compute, Ctrl-C is exit 130, and a Makefile that only calls it.

The owners' commands are replaced by fakes that write what the real ones write (the same markers, identities and
results files, through the same functions), so every stage decision here is the runner's own.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from fixture_data import recipe_args, write_general_run

from dataset_builder.config import named_configs
from evaluation.data import EvalExample
from evaluation.results import COMMAND as RESULTS_COMMAND
from evaluation.results import build_results, write_results
from evaluation.runner import results_identity
from evaluation.tasks import load_task
from infra.outputs import claim_folder, mark, read_marker
from pipeline import stages
from pipeline.__main__ import main
from pipeline.plan import Plan, PlanError, read_plan
from pipeline.runner import run_plan
from pipeline.stages import StageFailed, finished_training, training_identity
from training import sft

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ strict plans


def write_plan(path: Path, text: str) -> Path:
    recipe = ROOT / "training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml"
    path.write_text(
        f"models:\n  base: {{}}\n  ft:\n    recipe: {recipe}\neval:\n  nq_closed: 40\nbatch_size: 8\n{text}"
    )
    return path


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("eval_limit: 20\n", "unknown key(s) ['eval_limit']; a plan's keys are models, eval, batch_size"),
        ("batch_size: 16\n", "batch_size' is written twice (line 8); keep one line per plan key"),
        ("precision: fp16\n", "precision='fp16'; use one of auto, bf16, fp32"),
        ("card: build/cards\n", "card and card_model go together"),
        ("card: c\ncard_model: base\n", "card_model 'base' is not a trained model of this plan: ['ft']"),
        ("general:\n  tasks: [mmlu]\n  n: 2\n", "general.out is a NoneType; write the folder holding one lm-eval"),
        ("general:\n  tasks: [arc]\n  out: g\n", "general.tasks=['arc']; list some of mmlu, hellaswag"),
        ("general:\n  tasks: [mmlu]\n  limit: 2\n  out: g\n", "general: unknown key(s) ['limit']"),
    ],
)
def test_a_bad_plan_key_is_one_error_naming_the_fix(tmp_path, extra, words):
    with pytest.raises(PlanError) as err:
        read_plan(write_plan(tmp_path / "p.yaml", extra))
    assert words in str(err.value).replace('"', "'")


@pytest.mark.parametrize("n", ["0", "some", "true", "2.5", "-1"])
def test_n_is_questions_per_gold_position_or_all(tmp_path, n):
    path = write_plan(tmp_path / "p.yaml", "")
    path.write_text(path.read_text().replace("nq_closed: 40", f"nq_closed: {n}"))
    with pytest.raises(PlanError, match=r"eval.nq_closed: n=.*integer >= 1, or all"):
        read_plan(path)
    path.write_text(path.read_text().replace(f"nq_closed: {n}", "nq_closed: all"))
    plan = read_plan(path)
    assert plan.limit("nq_closed") is None  # all = no --limit


def test_the_base_model_is_listed_once_and_first(tmp_path):
    recipe = ROOT / "training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml"
    path = tmp_path / "p.yaml"
    path.write_text(f"models:\n  ft:\n    recipe: {recipe}\n  base: {{}}\neval:\n  nq_closed: 4\nbatch_size: 8\n")
    with pytest.raises(PlanError, match="the base model .* must be listed once and first"):
        read_plan(path)
    path.write_text("models:\n  ft:\n    learning_rate: 1.0\neval:\n  nq_closed: 4\nbatch_size: 8\n")
    with pytest.raises(PlanError, match="models.ft has no recipe"):
        read_plan(path)


def test_the_cli_prints_a_bad_plan_in_one_line(tmp_path, capsys):
    assert main(["run", str(write_plan(tmp_path / "p.yaml", "eval_suites: x\n"))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unknown key(s) ['eval_suites']" in err and err.count("\n") == 1
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist; give one of plans/*.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "plans").glob("*.yaml")))
def test_committed_plans_parse_and_every_override_is_a_recipe_key(name):
    plan = read_plan(ROOT / "plans" / f"{name}.yaml")
    assert set(plan.datasets if plan.datasets != "all" else []) <= set(named_configs()), "every dataset is a config"
    for label in plan.trained_labels:
        training_identity(plan.models[label])  # raises on a misspelled override, as before any compute
    for task in plan.eval:
        load_task(task)
    if name == "frontier":  # each point states its learning rate, so it means the same run whatever the recipe's
        assert all("learning_rate" in plan.models[label] for label in plan.trained_labels)


@pytest.mark.parametrize("name", ["paper_table_small", "paper_table_small_rest"])
def test_the_small_paper_tables_are_the_full_one_at_smaller_n(name):
    """Their cells may be set beside the full table's: same rows' recipes, tasks, evaluation setting and general
    subsets; only n and the row count differ. The two small plans split the full plan's rows beside one shared base,
    at one n, so that their base cells must agree (greedy decoding on the same prompts)."""
    full, first, small = (
        read_plan(ROOT / "plans" / f"{plan}.yaml") for plan in ("paper_table", "paper_table_small", name)
    )
    assert all(small.models[label] == full.models[label] for label in small.models), "same recipes per row"
    assert list(small.models)[0] == "base" and set(small.eval) == set(full.eval) and small.eval == first.eval
    assert (small.batch_size, small.max_batch_tokens, small.precision) == (
        full.batch_size,
        full.max_batch_tokens,
        full.precision,
    )
    assert {k: v for k, v in small.general.items() if k != "out"} == {
        k: v for k, v in full.general.items() if k != "out"
    }
    assert small.results_dir != full.results_dir and small.paper_table != full.paper_table
    if name != "paper_table_small":
        assert small.results_dir != first.results_dir and small.paper_table != first.paper_table
        assert small.general["out"] != first.general["out"]


def test_the_two_small_paper_tables_hold_the_full_plans_rows():
    full, first, rest = (
        read_plan(ROOT / "plans" / f"{plan}.yaml")
        for plan in ("paper_table", "paper_table_small", "paper_table_small_rest")
    )
    assert set(first.models) & set(rest.models) == {"base"} and set(first.models) | set(rest.models) == set(
        full.models
    )


@pytest.mark.parametrize(("name", "group"), [("seed_spread_small", "synthetic"), ("seed_spread_small_mdqa", "mdqa")])
def test_the_small_seed_spreads_are_the_full_one_halved_at_the_small_tables_n(name, group):
    """Each half trains one group's three seeds exactly as the full plan does, beside the base, at the small table's
    n and setting, so its seed 0 is that table's row (the same cells) and both halves share one base row."""
    full, table, small, other = (
        read_plan(ROOT / "plans" / f"{plan}.yaml")
        for plan in ("seed_spread", "paper_table_small", name, "seed_spread_small")
    )
    assert list(small.models) == ["base"] + [f"{group}_seed{k}" for k in range(3)]
    assert all(small.models[label] == full.models[label] for label in small.models), "the full plan's runs"
    assert small.models[f"{group}_seed0"] == table.models[group], "seed 0 is the small table's row"
    assert set(small.eval) == set(full.eval) and small.eval == other.eval
    assert all(small.eval[t] == table.eval[t] for t in small.eval if t in table.eval)
    assert small.eval["mdqa_20docs_at10"] == table.eval["mdqa_20docs"], "the small table's position-10 questions"
    setting = ("batch_size", "max_batch_tokens", "precision")
    assert all(getattr(small, key) == getattr(full, key) == getattr(table, key) for key in setting)
    assert {k: v for k, v in small.general.items() if k != "out"} == {
        k: v for k, v in full.general.items() if k != "out"
    }
    assert {k: table.general[k] for k in ("n", "seed")} == {k: small.general[k] for k in ("n", "seed")}
    folders = ("results_dir", "seed_spread")
    assert all(getattr(small, key) != getattr(full, key) for key in folders)
    if name != "seed_spread_small":
        assert all(getattr(small, key) != getattr(other, key) for key in folders)
        assert small.general["out"] != other.general["out"]
        assert set(small.models) | set(other.models) == set(full.models)


def test_a_misspelled_override_fails_before_any_compute(tmp_path, capsys, monkeypatch):
    path = write_plan(tmp_path / "p.yaml", "")
    path.write_text(path.read_text().replace("    recipe:", "    learning_rat: 1.0e-4\n    recipe:"))
    monkeypatch.setattr(stages, "run_step", lambda args: pytest.fail(f"ran {args}"))
    assert main(["run", str(path), "--only", "train"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: models.ft: unknown recipe keys ['learning_rat']") and err.count("\n") == 1


# ------------------------------------------------------------------ the resume rule, on fakes of the owners' commands


class Commands:
    """Fakes of ``python -m training.sft`` and ``python -m evaluation run`` that write what the real ones write."""

    def __init__(self, plan_of):
        self.plan_of, self.calls, self.kill_training = plan_of, [], False

    def __call__(self, args: list[str]) -> None:
        module = args[1]
        self.calls.append((module, flag(args, "--tasks") or flag(args, "--output_dir") or ""))
        if module == "training.sft":
            self.train(args[2:])
        elif module == "evaluation" and args[2] == "lm-eval":
            n = int(flag(args, "--n")) if "--n" in args else 3
            write_general_run(Path(flag(args, "--out")), {"hellaswag": [1, 0, 1][:n]}, model=flag(args, "--model"))
        elif module == "evaluation":
            self.evaluate(args)
        else:
            pytest.fail(f"unexpected command {args}")

    def train(self, argv: list[str]) -> None:
        data_args, training_args, model_args = sft.parse_recipe(argv)
        out, identity = Path(training_args.output_dir), sft.run_identity(data_args, training_args, model_args)
        claim_folder(out, sft.COMMAND, kind="model", identity=identity)  # the real run's first write
        (out / "checkpoint-4").mkdir(exist_ok=True)
        if self.kill_training:  # killed after its first checkpoint, like kill -9: no final save
            raise StageFailed(["-m", "training.sft", *argv], -9)
        (out / "checkpoint-4").rmdir()
        (out / "trainer_state.json").write_text('{"global_step": 12, "log_history": []}')
        (out / "model.safetensors").write_bytes(b"weights")
        mark(out, sft.COMMAND, kind="model", identity=identity)

    def evaluate(self, args: list[str]) -> None:
        from evaluation.generation import resolve_placement

        model, out = flag(args, "--model"), Path(flag(args, "--out"))
        limit = int(flag(args, "--limit")) if "--limit" in args else None
        precision = resolve_placement("cpu", flag(args, "--precision")).precision
        setting = {
            "batch_size": int(flag(args, "--batch_size")),
            "max_batch_tokens": int(flag(args, "--max_batch_tokens")),
            "precision": precision,
        }
        claim_folder(out, RESULTS_COMMAND, identity=results_identity(model, setting))
        for name in flag(args, "--tasks").split(","):
            task = load_task(name)
            examples = [EvalExample(f"q{i}", "closed-book", "p", ["paris"]) for i in range(limit or 5)]
            predictions = ["paris"] * len(examples)
            results, scores = build_results(
                task, examples, predictions, model={"path_or_id": model}, data_files=[], variant="fake",
                limit=limit, generation={**setting, "max_new_tokens": 8}, seconds=1.0, commit="abc",
            )  # fmt: skip
            write_results(out, results, examples, predictions, scores)


def flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


@pytest.fixture
def tiny_plan(tmp_path, tiny_model, tiny_dataset):
    """A plan of the tiny model and its finetune (the recipe of a tiny CPU run), evaluated on two tasks."""
    argv = recipe_args(tiny_model, tiny_dataset, tmp_path / "ft")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({k[2:]: yaml.safe_load(v) for k, v in zip(argv[::2], argv[1::2], strict=True)}))

    def make(**changes) -> Plan:
        values = {
            "models": {"base": {}, "ft": {"recipe": str(recipe)}},
            "eval": {"nq_closed": 3, "liu_kv_10keys": 2},
            "batch_size": 8,
            "precision": "fp32",
            "base_model": str(tiny_model),
            "dataset_dir": str(tiny_dataset),
            "results_dir": str(tmp_path / "results"),
            "data_dir": str(tmp_path / "data"),
        }
        return Plan(**{**values, **changes})

    return make


def test_a_killed_stage_is_redone_a_finished_one_skipped(tiny_plan, monkeypatch):
    commands = Commands(tiny_plan)
    monkeypatch.setattr(stages, "run_step", commands)
    plan = tiny_plan()
    commands.kill_training = True
    with pytest.raises(StageFailed):
        run_plan(plan, only=["train", "eval"])
    ft = Path(plan.models["ft"].get("output_dir") or stages.output_dir(plan.models["ft"]))
    assert read_marker(ft)["command"] == sft.COMMAND and not finished_training(ft, None), "claimed, not finished"

    commands.kill_training, commands.calls[:] = False, []
    assert run_plan(plan, only=["train", "eval"]) == ["train:ft", "eval:base", "eval:ft"]
    # one `evaluation run` per distinct n (its --limit): n=3 and n=2 here, for each model
    assert commands.calls == [("training.sft", ""), *[("evaluation", t) for t in ("nq_closed", "liu_kv_10keys")] * 2]
    assert finished_training(ft, training_identity(plan.models["ft"]))

    commands.calls[:] = []
    assert run_plan(plan, only=["train", "eval"]) == [] and commands.calls == [], "every stage done: nothing runs"


def test_a_changed_n_is_redone_task_by_task_and_force_redoes_a_stage(tiny_plan, monkeypatch):
    commands = Commands(tiny_plan)
    monkeypatch.setattr(stages, "run_step", commands)
    run_plan(tiny_plan(), only=["train", "eval"])
    commands.calls[:] = []
    assert run_plan(tiny_plan(eval={"nq_closed": 4, "liu_kv_10keys": 2}), only=["eval"]) == ["eval:base", "eval:ft"]
    assert commands.calls == [("evaluation", "nq_closed")] * 2, "only the task whose n changed"
    commands.calls[:] = []
    assert run_plan(tiny_plan(eval={"nq_closed": 4, "liu_kv_10keys": 2}), only=["eval"], force=["eval:base"]) == [
        "eval:base"
    ]
    assert [c[1] for c in commands.calls] == ["nq_closed", "liu_kv_10keys"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"batch_size": 16}, "holds a run of another model or recipe (differs in eval_setting)"),
        ({"max_batch_tokens": 4096}, "differs in eval_setting"),
    ],
)
def test_another_evaluation_setting_in_the_same_folder_is_refused_before_any_compute(
    tiny_plan, monkeypatch, changes, words
):
    commands = Commands(tiny_plan)
    monkeypatch.setattr(stages, "run_step", commands)
    run_plan(tiny_plan(), only=["eval:base"])
    commands.calls[:] = []
    with pytest.raises(PlanError, match="set another folder in the plan, or move that one away") as err:
        run_plan(tiny_plan(**changes), only=["eval"])
    assert words in str(err.value) and commands.calls == []


def test_a_changed_recipe_into_the_same_folder_is_refused_before_any_compute(tiny_plan, monkeypatch):
    commands = Commands(tiny_plan)
    monkeypatch.setattr(stages, "run_step", commands)
    run_plan(tiny_plan(), only=["train"])
    recipe = tiny_plan().models["ft"]["recipe"]
    commands.calls[:] = []
    with pytest.raises(PlanError, match=r"models.ft|differs in learning_rate"):
        run_plan(tiny_plan(models={"base": {}, "ft": {"recipe": recipe, "learning_rate": 1e-3}}), only=["train"])
    assert commands.calls == []


def test_every_selected_output_is_checked_before_the_first_stage_computes(tiny_plan, tmp_path, monkeypatch):
    commands = Commands(tiny_plan)
    monkeypatch.setattr(stages, "run_step", commands)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "ft").write_text("a file where the finetuned model's results go")
    with pytest.raises(PlanError, match="results/ft is a file"):
        run_plan(tiny_plan(), only=["train", "eval"])
    assert commands.calls == [], "the training before it was not started"
    (tmp_path / "results" / "ft").unlink()
    (tmp_path / "results" / "base").mkdir()
    (tmp_path / "results" / "base" / "notes.txt").write_text("a user's folder")
    with pytest.raises(PlanError, match="did not write it"):
        run_plan(tiny_plan(), only=["train", "eval"])
    assert commands.calls == [] and (tmp_path / "results" / "base" / "notes.txt").is_file()


def test_unknown_stage_names_are_refused(tiny_plan):
    with pytest.raises(PlanError, match=r"unknown stage\(s\) \['publish'\]; this plan's stages are"):
        run_plan(tiny_plan(), only=["publish"])


def test_results_folders_of_before_the_setting_was_recorded_are_adopted_only_when_they_match(tiny_plan, monkeypatch):
    commands = Commands(tiny_plan)
    monkeypatch.setattr(stages, "run_step", commands)
    plan = tiny_plan(models={"base": {}})
    run_plan(plan, only=["eval"])
    folder = Path(plan.results_dir) / "base"
    marker = read_marker(folder)
    old = {**marker, "identity": {"model": marker["identity"]["model"]}}  # as `evaluation run` recorded it before
    (folder / ".written-by.json").write_text(__import__("json").dumps(old))
    commands.calls[:] = []
    assert run_plan(plan, only=["eval"]) == [] and read_marker(folder)["identity"] == marker["identity"]
    (folder / ".written-by.json").write_text(__import__("json").dumps(old))
    with pytest.raises(PlanError, match="differs in eval_setting"):
        run_plan(tiny_plan(models={"base": {}}, batch_size=4), only=["eval"])


def test_ctrl_c_in_a_stage_command_exits_130(tmp_path, monkeypatch, capsys):
    path = write_plan(tmp_path / "p.yaml", f"base_model: {tmp_path / 'none'}\nresults_dir: {tmp_path / 'r'}\n")
    monkeypatch.setattr(stages.subprocess, "run", lambda cmd: subprocess.CompletedProcess(cmd, 130))
    assert main(["run", str(path), "--only", "eval:base"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; rerun the same plan to resume" in err and err.count("error:") == 1

    def interrupt(cmd):
        raise KeyboardInterrupt

    monkeypatch.setattr(stages.subprocess, "run", interrupt)
    assert main(["run", str(path), "--only", "eval:base"]) == 130


def test_a_failed_stage_command_exits_with_its_code(tmp_path, monkeypatch, capsys):
    path = write_plan(tmp_path / "p.yaml", f"base_model: {tmp_path / 'none'}\nresults_dir: {tmp_path / 'r'}\n")
    monkeypatch.setattr(stages.subprocess, "run", lambda cmd: subprocess.CompletedProcess(cmd, 3))
    assert main(["run", str(path), "--only", "eval:base"]) == 3
    assert "failed (3; its error is above); fix it and rerun" in capsys.readouterr().err


# ------------------------------------------------------------------ one definition of a finished model


def test_a_finished_model_is_the_one_training_sft_finished(tiny_plan, tmp_path, monkeypatch):
    commands = Commands(tiny_plan)
    monkeypatch.setattr(stages, "run_step", commands)
    plan = tiny_plan()
    ft = stages.output_dir(plan.models["ft"])
    assert not finished_training(ft, None), "no folder"
    run_plan(plan, only=["train"])
    identity = training_identity(plan.models["ft"])
    assert finished_training(ft, identity)
    assert not finished_training(ft, {**identity, "learning_rate": 1.0}), "another recipe's run"
    (ft / "checkpoint-12").mkdir()  # a run resumed and killed again: a checkpoint left to resume from
    assert not finished_training(ft, identity)
    (ft / "checkpoint-12").rmdir()
    foreign = tmp_path / "weights-only"
    foreign.mkdir()
    (foreign / "config.json").write_text("{}")
    (foreign / "model.safetensors").write_bytes(b"w")
    assert not finished_training(foreign, None), "weights without training.sft's marker are not a finished run"


# ------------------------------------------------------------------ the Makefile calls the runner, nothing else


def makefile_recipes() -> dict[str, list[str]]:
    recipes, target = {}, None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t") and target:
            recipes[target].append(line.strip())
        elif re.match(r"^[\w.$()/-]+:", line) and ":=" not in line and "?=" not in line:
            target = line.split(":")[0]
            recipes[target] = []
    return recipes


def test_the_makefile_names_targets_and_calls_the_runner():
    recipes = makefile_recipes()
    for target in (
        "release",
        "paper-table",
        "paper-table-small",
        "paper-table-small-rest",
        "seed-spread",
        "seed-spread-small",
        "seed-spread-small-mdqa",
        "recipe-frontier",
        "eval",
        "train",
        "cards",
    ):
        assert len(recipes[target]) == 1 and recipes[target][0].startswith("$(PY) -m pipeline run plans/"), target
        assert (ROOT / recipes[target][0].split()[4]).is_file(), f"{target}: its plan exists"
    text = (ROOT / "Makefile").read_text()
    assert "$(eval" not in text and "$(foreach" not in text and "$(call" not in text and "done:" not in text
    # the venv's installer and bench-eval's native-bf16 guard are the only recipes beyond one command line
    for target, lines in recipes.items():
        if target in ("$(STAMP)", "bench-eval"):
            continue
        for line in lines:
            assert not re.search(r"\bif\b|\bfor\b|\|\||\[ -|\btouch\b", line), f"{target}: {line}"


@pytest.mark.integration
def test_a_really_killed_training_is_resumed_by_its_stage_then_skipped(tiny_plan, monkeypatch):
    """training.sft itself killed mid-run (kill_run_at), then the plan's train stage: it resumes the run and finishes
    it; the next run of the plan skips it."""
    from fixture_data import kill_run_at

    plan = tiny_plan()
    spec = plan.models["ft"]
    kill_run_at(stages.recipe_argv(spec), 6, monkeypatch)
    ft = stages.output_dir(spec)
    assert not finished_training(ft, training_identity(spec)), "killed: checkpoints, no final state"

    def in_process(args):
        assert args[1] == "training.sft"
        if sft.main(args[2:]) != 0:
            raise StageFailed(args, 1)

    monkeypatch.setattr(stages, "run_step", in_process)
    assert run_plan(plan, only=["train"]) == ["train:ft"]
    assert finished_training(ft, training_identity(spec))
    assert run_plan(plan, only=["train"]) == []


def test_the_general_benchmarks_run_once_per_model_and_again_when_their_subset_changes(
    tiny_plan, tmp_path, monkeypatch
):
    commands = Commands(tiny_plan)
    monkeypatch.setattr(stages, "run_step", commands)
    general = {"tasks": ["hellaswag"], "n": 3, "seed": 0, "out": str(tmp_path / "general")}
    plan = tiny_plan(general=general)
    run_plan(plan, only=["train", "general"])
    runs = [c for c in commands.calls if c[0] == "evaluation"]
    assert len(runs) == 2, "one lm-eval run per model"
    assert (tmp_path / "general/base/summary.json").is_file() and (tmp_path / "general/ft/samples").is_dir()
    commands.calls.clear()
    run_plan(plan, only=["general"])
    assert commands.calls == [], "a finished run of this model, subset and setting is not redone"
    run_plan(tiny_plan(general={**general, "n": 2}), only=["general:base"])
    assert [c[0] for c in commands.calls] == ["evaluation"], "another subset is another run"
    args = stages.general_args(plan, "m", Path("o"))
    assert args[:3] == ["-m", "evaluation", "lm-eval"] and args[args.index("--n") + 1] == "3"
    assert args[args.index("--batch_size") + 1] == "8", "the plan's one evaluation setting"


@pytest.mark.integration  # a real `python -m evaluation lm-eval` of the tiny model (~20 s)
def test_the_general_stage_runs_the_real_lm_eval_command_and_is_then_done(tiny_plan, tmp_path):
    plan = tiny_plan(general={"tasks": ["hellaswag"], "n": 2, "seed": 0, "out": str(tmp_path / "general")})
    (stage,) = [s for s in stages.build_stages(plan) if s.name == "general:base"]
    stage.check()
    stage.run()
    summary = json.loads((tmp_path / "general/base/summary.json").read_text())
    assert summary["scored"] == {"hellaswag": 2} and summary["placement"]["batch_size"] == 8
    assert stage.done(), "its marker now carries this model, subset and setting"


def test_the_seed_spread_stage_joins_the_plans_general_runs(tiny_plan, tmp_path, monkeypatch):
    """A plan with ``general`` and ``seed_spread``: its spread holds the lm-eval columns beside its own tasks."""
    monkeypatch.setattr(stages, "run_step", Commands(tiny_plan))
    recipe = tiny_plan().models["ft"]
    general = {"tasks": ["hellaswag"], "n": 3, "seed": 0, "out": str(tmp_path / "general")}
    plan = tiny_plan(models={"base": {}, "ft_seed0": recipe}, general=general, seed_spread=str(tmp_path / "spread"))
    run_plan(plan, only=["train", "eval", "general", "seed_spread"])
    table = json.loads((tmp_path / "spread/spread.json").read_text())
    assert table["columns"] == ["NQ closed-book", "hellaswag"] and list(table["groups"]) == ["ft"]
    assert table["groups"]["ft"]["hellaswag"]["per_seed"]["ft_seed0"]["delta"] == 0, "the same fake answers"
