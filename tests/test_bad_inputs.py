"""Every entry point, every bad input a user tried: exit code 2, one line `error: <problem>; <fix>` on stderr, no
traceback, and nothing written or deleted (the folder the case ran in is byte-for-byte what it was before)."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fixture_data import snapshot, write_fixture_results, write_oracle, write_synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]


def chats(n: int = 12) -> list[dict]:
    turn = [{"role": "user", "content": "Report the value of key 1."}, {"role": "assistant", "content": "It is 2."}]
    return [{"messages": turn} for _ in range(n)]


def jsonl(path: Path, rows: list) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def dataset_builder(t: Path) -> Callable:
    from dataset_builder.__main__ import main

    return main


def embedded_model(t: Path) -> Callable:
    from training.embedded_model import main

    return main


def openai_finetune(t: Path) -> Callable:
    from training.openai_finetune import main

    return main


def model_cards(t: Path) -> Callable:
    from model_cards.__main__ import main

    return main


def pipeline(t: Path) -> Callable:
    from pipeline.__main__ import main

    return main


def evaluation(t: Path) -> Callable:
    from evaluation.__main__ import main

    return main


def training_bench(t: Path) -> Callable:
    from training.bench import main

    return main


def results(t: Path) -> tuple[str, str]:
    base, ft = t / "results" / "base", t / "results" / "finetuned"
    write_fixture_results(base, "nq_closed", {"closed-book": 3})
    write_fixture_results(ft, "nq_closed", {"closed-book": 5}, model="ft")
    return str(base), str(ft)


def recipe(t: Path, text: str = "output_dir: out\n") -> str:
    (t / "recipe.yaml").write_text(text)
    return str(t / "recipe.yaml")


def release_args(t: Path, *extra: str, recipe_path: str | None = None, card: str | None = None) -> list[str]:
    """``python -m pipeline run <plan>`` of a release plan writing every folder under ``t``."""
    plan = {
        "datasets": ["smollm2_kv_600"],
        "models": {"base": {}, "finetuned": {"recipe": recipe_path or recipe(t)}},
        "eval": {"nq_closed": 2},
        "batch_size": 8,
        "card": card or str(t / "cards_dir"),
        "card_model": "finetuned",
        **{key: str(t / key) for key in ("dataset_dir", "results_dir", "release_dir")},
        "base_model": str(t / "base_model_dir"),
    }
    (t / "plan.yaml").write_text(json.dumps(plan))  # JSON is YAML
    return ["run", str(t / "plan.yaml"), *extra]


def damaged_dataset(t: Path) -> str:
    folder = write_synthetic_dataset(t / "ds")
    (folder / "data" / "smollm2_kv_600" / "test-00000-of-00001.parquet").write_bytes(b"PAR1 then garbage")
    return str(folder)


def liu_data(t: Path) -> str:
    (t / "liu").mkdir()
    write_oracle(t / "liu" / "nq-open-oracle-dev.jsonl.gz")
    return str(t / "liu")


def a_file(t: Path, name: str = "notes.txt") -> str:
    (t / name).write_text("the user's notes")
    return str(t / name)


def foreign_folder(t: Path, name: str = "mine") -> str:
    (t / name).mkdir()
    (t / name / "weights.bin").write_bytes(b"the user's weights")
    return str(t / name)


def yaml_list(t: Path, name: str = "list.yaml") -> str:
    (t / name).write_text("- name: simple_kv\n- seed: 1\n")
    return str(t / name)


def tiny(t: Path) -> str:
    from tiny_model import save_tiny_model

    return str(save_tiny_model(t / "tiny"))


READ_ONLY = "/sys/artificial-needles-out"  # a place even root cannot create files in (sysfs)


def task_named(t: Path, name: str) -> str:
    """A task YAML (closed-book NQ) whose name would become a file name outside --out."""
    (t / "task.yaml").write_text(f"include: {ROOT / 'evaluation' / 'tasks' / 'nq_closed.yaml'}\nname: {name}\n")
    return str(t / "task.yaml")


def results_named(t: Path, task: str) -> tuple[str, str]:
    base, ft = results(t)
    path = Path(ft) / "nq_closed.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "task": task}))
    return base, ft


def foreign_results(t: Path) -> str:
    (t / "res").mkdir()
    (t / "res" / "nq_closed.json").write_text('{"the user\'s": "own results"}')
    return str(t / "res")


def claimed_by(t: Path, model: str) -> str:
    from evaluation.results import COMMAND
    from infra.outputs import claim_folder

    claim_folder(t / "res", COMMAND, identity={"model": model})
    return str(t / "res")


def truncated_model(t: Path, name: str = "tiny") -> str:
    from tiny_model import save_tiny_model

    folder = save_tiny_model(t / name)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # an interrupted copy
    return str(folder)


def unmarked_dataset(t: Path) -> str:
    folder = write_synthetic_dataset(t / "ds")
    (folder / ".written-by.json").unlink()  # e.g. a checkout or a folder copied by hand
    return str(folder)


def marked_model(t: Path) -> str:
    from tiny_model import save_tiny_model

    from infra.outputs import mark

    folder = save_tiny_model(t / "model")
    (folder / "trainer_state.json").write_text('{"global_step": 1}')  # a finished run's final state
    mark(folder, "training.sft", kind="model")
    return str(folder)


def tiny_config(t: Path, name: str = "a_kv") -> str:
    import yaml

    values = yaml.safe_load((ROOT / "dataset_builder" / "configs" / "smollm2_kv_600.yaml").read_text())
    (t / f"{name}.yaml").write_text(yaml.safe_dump({**values, "name": name, "train_size": 4, "test_size": 2}))
    return str(t / f"{name}.yaml")


def built_with_user_file(t: Path) -> str:
    from dataset_builder.__main__ import main

    assert main(["build", "--out", str(t / "ds"), "--configs", tiny_config(t)]) == 0
    (t / "ds" / "notes.txt").write_text("the user's notes")
    return str(t / "ds")


def locked(t: Path) -> str:
    """``t/ds`` with its one-writer lock held, as a concurrent build would hold it (released at interpreter exit)."""
    from infra.outputs import folder_lock

    HELD.append(folder_lock(t / "ds"))
    HELD[-1].__enter__()
    return str(t / "ds")


HELD: list = []


def text_file(t: Path, name: str, text: str) -> str:
    (t / name).write_text(text)
    return str(t / name)


def unreadable_marker(t: Path) -> str:
    (t / "ds").mkdir()
    (t / "ds" / "README.md").write_text("a card")
    (t / "ds" / ".written-by.json").write_text("{")
    return str(t / "ds")


def staged_release(t: Path, *extra: str) -> list[str]:
    """A dataset folder, a finetuned model and a card, each marked as its command leaves it; the card's numbers
    are of other weights than the model's (the fixture results name none)."""
    from model_cards.card import inputs_from_folders, write_card

    write_synthetic_dataset(t / "dataset_dir")
    model = marked_model(t)
    base, ft = results(t)
    write_card(inputs_from_folders(Path(base), Path(ft), "me/m"), t / "cards_dir")
    (t / "r.yaml").write_text(f"output_dir: {model}\n")
    return release_args(t, *extra, recipe_path=str(t / "r.yaml"))


def validated_release(t: Path) -> list[str]:
    """release/dataset and release/model staged (markers as the stage leaves them), never validated."""
    from tiny_model import save_tiny_model

    from hub_release.release import STAGE_COMMAND
    from infra.outputs import mark

    dataset = write_synthetic_dataset(t / "release_dir" / "dataset")
    mark(dataset, STAGE_COMMAND, kind="dataset", hash_files=False)
    model = save_tiny_model(t / "release_dir" / "model")
    mark(model, STAGE_COMMAND, kind="model", hash_files=False)
    return release_args(t, "--only", "push")


def truncated_release(t: Path) -> list[str]:
    write_synthetic_dataset(t / "release_dir" / "dataset")
    truncated_model(t / "release_dir", "model")
    return release_args(t, "--only", "validate")


# (id, entry point, argv builder, environment, words the one line must contain)
CASES = [
    ("yaml-not-a-mapping", dataset_builder, lambda t: ["build", "--out", str(t / "o"), "--configs", yaml_list(t)],
     {}, "not a mapping"),
    ("out-is-a-file", dataset_builder, lambda t: ["build", "--out", a_file(t), "--configs", "smollm2_kv_600"],
     {}, "is a file"),
    ("out-under-a-file", dataset_builder, lambda t: ["build", "--out", a_file(t) + "/ds", "--configs", "simple_kv"],
     {}, "which is a file"),
    ("out-not-ours", dataset_builder, lambda t: ["build", "--out", foreign_folder(t), "--configs", "smollm2_kv_600"],
     {}, "did not write it"),
    ("same-name-twice", dataset_builder, lambda t: ["build", "--out", str(t / "o"), "--configs", "simple_kv",
     "simple_kv"], {}, "two configs are named 'simple_kv'"),
    ("push-offline", dataset_builder, lambda t: ["push", "--folder", write_synthetic_dataset(t / "ds").as_posix(),
     "--repo-id", "me/kv"], {"HF_TOKEN": "hf_x", "HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE is set"),
    ("push-bad-repo-id", dataset_builder, lambda t: ["push", "--folder", write_synthetic_dataset(t / "ds").as_posix(),
     "--repo-id", "me/not valid!"], {}, "not a valid Hub id"),
    ("model-out-is-a-file", embedded_model, lambda t: ["--out", a_file(t)], {}, "is a file"),
    ("model-out-not-ours", embedded_model, lambda t: ["--out", foreign_folder(t)], {}, "did not write it"),
    ("jsonl-not-utf8", openai_finetune, lambda t: ["--train", str(t / "x.jsonl")], {}, "not UTF-8"),
    ("jsonl-row-is-a-list", openai_finetune, lambda t: ["--train", jsonl(t / "x.jsonl", [[1, 2]] * 12)], {},
     "not a {'messages': [...]} chat"),
    ("jsonl-messages-a-string", openai_finetune, lambda t: ["--train", jsonl(t / "x.jsonl", [{"messages": "hi"}])],
     {}, "not a {'messages': [...]} chat"),
    ("jsonl-message-not-object", openai_finetune, lambda t: ["--train", jsonl(t / "x.jsonl", [{"messages": ["hi"]}])],
     {}, "string 'content'"),
    ("jsonl-not-json", openai_finetune, lambda t: ["--train", a_file(t, "x.jsonl")], {}, "not JSON"),
    ("results-folder-misspelled", model_cards, lambda t: ["card", "--base-results", results(t)[0],
     "--finetuned-results",
     str(t / "results" / "finetund"), "--out", str(t / "card"), "--model-id", "me/m"], {}, "finetund does not exist"),
    ("results-other-schema", model_cards, lambda t: ["card", "--base-results", results(t)[0],
     "--finetuned-results",
     str(t / "old"), "--out", str(t / "card"), "--model-id", "me/m"], {}, "has results schema 1, this code reads"),
    ("card-out-is-a-file", model_cards, lambda t: ["card", "--base-results", results(t)[0],
     "--finetuned-results",
     results(t)[1], "--out", a_file(t), "--model-id", "me/m"], {}, "is a file"),
    ("card-bad-model-id", model_cards, lambda t: ["card", "--base-results", results(t)[0],
     "--finetuned-results",
     results(t)[1], "--out", str(t / "card"), "--model-id", "no good/x/y"], {}, "not a valid Hub id"),
    ("recipe-not-a-mapping", pipeline, lambda t: release_args(t, recipe_path=yaml_list(t, "r.yaml")), {},
     "holds a YAML list, not a mapping"),
    ("release-unknown-stage", pipeline, lambda t: release_args(t, "--only", "assemble,publish"), {},
     "unknown stage(s) ['publish']"),
    ("release-output-is-a-file", pipeline, lambda t: release_args(t, "--only", "card", card=a_file(t)), {},
     "is a file"),
    ("stage-without-inputs", pipeline, lambda t: release_args(t, "--only", "assemble"), {}, "run the dataset stage"),
    ("plan-unknown-key", pipeline, lambda t: ["run", text_file(t, "p.yaml", "models: {}\neval_suites: x\n")], {},
     "unknown key(s) ['eval_suites']"),
    ("plan-bad-n", pipeline, lambda t: ["run", text_file(t, "p.yaml", "models: {base: {}}\neval: {nq_closed: 0}\n"
     "batch_size: 8\n")], {}, "eval.nq_closed: n=0; give the questions per gold position"),
    ("release-push-offline", pipeline, lambda t: release_args(t, "--only", "push"),
     {"HF_TOKEN": "hf_x", "HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE is set"),
    ("folder-not-a-model", evaluation, lambda t: ["run", "--model", str(write_synthetic_dataset(t / "ds")),
     "--tasks", "nq_closed", "--out", str(t / "res")], {},
     "is not a model folder (no config (config.json), no weights, no tokenizer)"),
    ("eval-out-is-a-file", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks", "nq_closed", "--out",
     a_file(t)], {}, "is a file"),
    ("eval-corrupt-parquet", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks", "synthetic_kv", "--out",
     str(t / "res"), "--dataset", damaged_dataset(t)], {}, "files cannot be read"),
    ("eval-hub-id-offline", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks", "synthetic_kv", "--out",
     str(t / "res"), "--dataset", "nobody/no-such-dataset"], {"HF_HUB_OFFLINE": "1"}, "the Hub is offline"),
    ("eval-task-yaml-a-list", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks", yaml_list(t), "--out",
     str(t / "res"), "--data-dir", liu_data(t)], {}, "not a mapping"),
    # --- issue 15: the second sweep ---
    ("eval-task-name-escapes-out", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks",
     task_named(t, "../../../x"), "--out", str(t / "res"), "--data-dir", liu_data(t)], {}, "cannot name a file"),
    ("card-results-task-escapes-out", model_cards, lambda t: ["card", "--base-results", results_named(t, "../x")[0],
     "--finetuned-results", str(t / "results" / "finetuned"), "--out", str(t / "card"), "--model-id", "me/m"], {},
     "cannot name a file"),
    ("eval-out-foreign", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks", "nq_closed", "--out",
     foreign_results(t), "--data-dir", liu_data(t)], {}, "did not write it"),
    ("eval-out-another-models", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks", "nq_closed", "--out",
     claimed_by(t, "some/other-model"), "--data-dir", liu_data(t)], {}, "holds a run of another model"),
    ("eval-out-read-only", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks", "nq_closed", "--out",
     READ_ONLY, "--data-dir", liu_data(t)], {}, "is not writable"),
    ("model-out-read-only", embedded_model, lambda t: ["--out", READ_ONLY], {}, "is not writable"),
    ("bench-out-read-only", evaluation, lambda t: ["bench", "--model", tiny(t), "--out", READ_ONLY + "/b.json"], {},
     "is not writable"),
    ("bench-batch-size-0", evaluation, lambda t: ["bench", "--model", tiny(t), "--batch-size", "0"], {},
     "batch_size=0: give at least 1"),
    ("bench-n-0", evaluation, lambda t: ["bench", "--model", tiny(t), "--n", "0"], {}, "--n=0: time at least 1"),
    ("eval-batch-tokens-5", evaluation, lambda t: ["run", "--model", tiny(t), "--tasks", "nq_closed", "--out",
     str(t / "res"), "--max-batch-tokens", "5"], {}, "cannot hold two prompts"),
    ("eval-truncated-weights", evaluation, lambda t: ["run", "--model", truncated_model(t), "--tasks", "nq_closed",
     "--out", str(t / "res"), "--data-dir", liu_data(t)], {}, "model.safetensors is damaged"),
    ("validate-truncated-weights", pipeline, truncated_release, {}, "model.safetensors is damaged"),
    ("push-folder-not-ours", dataset_builder, lambda t: ["push", "--folder", unmarked_dataset(t)], {},
     "was not written by this project's commands"),
    ("push-model-as-dataset", dataset_builder, lambda t: ["push", "--folder", marked_model(t)], {},
     "is not a dataset repo"),
    ("rebuild-keeps-user-file", dataset_builder, lambda t: ["build", "--out", built_with_user_file(t), "--configs",
     str(t / "a_kv.yaml")], {}, "holds files `python -m dataset_builder build` did not write (notes.txt)"),
    ("build-while-another-builds", dataset_builder, lambda t: ["build", "--out", locked(t), "--configs",
     tiny_config(t)], {}, "is being written by another run"),
    ("config-empty-yaml", dataset_builder, lambda t: ["build", "--out", str(t / "o"), "--configs",
     text_file(t, "empty.yaml", "")], {}, "the file is empty"),
    ("config-key-twice", dataset_builder, lambda t: ["build", "--out", str(t / "o"), "--configs",
     text_file(t, "twice.yaml", "name: a_kv\nnum_dicts: 4\nnum_dicts: 8\n")], {}, "key 'num_dicts' is written twice"),
    ("config-yaml-tag", dataset_builder, lambda t: ["build", "--out", str(t / "o"), "--configs",
     text_file(t, "tag.yaml", "name: !!python/object/apply:os.getcwd []\n")], {}, "tags such as !!python"),
    ("marker-unreadable", dataset_builder, lambda t: ["build", "--out", unreadable_marker(t), "--configs",
     tiny_config(t)], {}, "has a .written-by.json that cannot be read"),
    ("cards-one-folder-twice", model_cards, lambda t: ["card", "--base-results", results(t)[0],
     "--finetuned-results",
     results(t)[0], "--out", str(t / "card"), "--model-id", "me/m"], {}, "are the same folder"),
    ("release-card-of-other-weights", pipeline, lambda t: staged_release(t, "--only", "assemble"), {},
     "was rendered from results (nq_closed.json) of other weights"),
    ("release-push-unvalidated", pipeline, validated_release, {}, "has not passed validation"),
    ("config-depths-booleans", dataset_builder, lambda t: ["build", "--out", str(t / "o"), "--configs",
     text_file(t, "b.yaml", "name: b_kv\nposition_policy: grid\ndepths: [true, false]\n")], {},
     "config field 'depths' must be list[float], got [True, False]"),
    ("openai-train-a-folder", openai_finetune, lambda t: ["--train", foreign_folder(t)], {},
     "is a folder; give its chat file"),
    # --- a report's file at a path that holds a user's file: refused, never overwritten ---
    ("eval-bench-out-a-user-file", evaluation, lambda t: ["bench", "--model", tiny(t), "--out",
     text_file(t, "notes.json", '{"mine": 1}\n')], {}, "not written by `python -m evaluation bench`"),
    ("train-bench-out-a-user-file", training_bench, lambda t: ["--config", recipe(t), "--out",
     text_file(t, "README.md", "my notes\n")], {}, "not written by `python -m training.bench`"),
    ("table-out-holds-a-user-table", model_cards, lambda t: ["paper-table", "--results",
     str(Path(results(t)[0]).parent), "--models", "base,finetuned", "--out",
     str(Path(text_file(t, "table.md", "my table\n")).parent)], {},
     "not written by `python -m model_cards paper-table`"),
    ("headline-json-a-user-file", model_cards, lambda t: ["headline", "--base-results", results(t)[0],
     "--finetuned-results", results(t)[1], "--json", text_file(t, "summary.json", '{"generated_by": "me"}\n'),
     "--readme", text_file(t, "README.md", "<!-- headline:begin -->\n<!-- headline:end -->\n")], {},
     "not written by `python -m model_cards headline`"),
]  # fmt: skip


# Cases that build a dataset or stage a release before refusing (seconds each): in `make test`, not `make test-fast`.
HEAVY_CASES = ("rebuild-keeps-user-file", "release-card-of-other-weights")
TIERED_CASES = [pytest.param(*c, marks=pytest.mark.integration) if c[0] in HEAVY_CASES else c for c in CASES]


@pytest.mark.parametrize(("case", "entry", "make_argv", "env", "words"), TIERED_CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(case, entry, make_argv, env, words, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    work = tmp_path / "work"
    work.mkdir()
    if case == "jsonl-not-utf8":
        (work / "x.jsonl").write_bytes(json.dumps(chats()[0]).encode() + b"\n" + "é".encode("latin-1") + b"\n")
    argv = make_argv(work)
    if case == "results-other-schema":
        old = work / "old"
        old.mkdir()
        record = json.loads((work / "results" / "finetuned" / "nq_closed.json").read_text())
        (old / "nq_closed.json").write_text(json.dumps({**record, "schema": 1}))
    before = snapshot(work)
    main = entry(work)
    capsys.readouterr()

    code = main(argv)

    err = capsys.readouterr().err
    assert code == 2, err
    progress = re.compile(r"^\S+: +\d+%\|")  # the release's tqdm bar, redrawn with \r, is not an error line
    lines = [line for line in err.splitlines() if line.strip() and not progress.match(line)]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert words in lines[0]
    assert snapshot(work) == before, "a refused command must not write or delete anything"


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_entry_point_exit_code_from_the_shell(tmp_path):
    (tmp_path / "r.yaml").write_text("- a list\n")
    argv = release_args(tmp_path, recipe_path=str(tmp_path / "r.yaml"))
    proc = subprocess.run([sys.executable, "-m", "pipeline", *argv], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "r.yaml: holds a YAML list, not a mapping" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_damaged_config_kept_from_an_earlier_build_is_one_line(tmp_path, capsys):
    """A rebuild that reuses one config and keeps another whose Parquet was damaged: one line, nothing replaced."""
    import yaml

    from dataset_builder.__main__ import main

    values = yaml.safe_load((ROOT / "dataset_builder" / "configs" / "smollm2_kv_600.yaml").read_text())
    paths = []
    for name in ("a_kv", "b_kv"):
        (tmp_path / f"{name}.yaml").write_text(
            yaml.safe_dump({**values, "name": name, "train_size": 4, "test_size": 2})
        )
        paths.append(str(tmp_path / f"{name}.yaml"))
    out = tmp_path / "ds"
    assert main(["build", "--out", str(out), "--configs", *paths]) == 0
    with gzip.open(out / "data" / "b_kv" / "test-00000-of-00001.parquet", "wb") as handle:
        handle.write(b"not parquet")
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert main(["build", "--out", str(out), "--configs", paths[0]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config b_kv changed since they were written" in err and "--configs" in err
    assert snapshot(tmp_path) == before


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_ctrl_c_during_a_build_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """A KeyboardInterrupt while a config is generated: exit 130, one line, no temp folder, no output folder."""
    from dataset_builder import publish
    from dataset_builder.__main__ import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "write_config", interrupted)
    config = tiny_config(tmp_path)
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert main(["build", "--out", str(tmp_path / "ds"), "--configs", config]) == 130
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and err.startswith("error: interrupted; nothing was replaced") and "Traceback" not in err
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("errno_name", "fix"),
    [("ENOSPC", "free disk space"), ("EROFS", "read-only"), ("EACCES", "permissions"), ("EISDIR", "give the file")],
)
def test_an_os_error_names_its_fix(errno_name, fix):
    import errno

    from infra.cli import one_line

    err = OSError(getattr(errno, errno_name), "raw message", "/some/path")
    assert one_line(err).startswith("[Errno") and fix in one_line(err)
