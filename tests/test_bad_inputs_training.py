"""The training commands (sft, merge_lora, replay, embedded_model) on the bad inputs of issue 15: exit code 2, one
line `error: <problem>; <fix>` on stderr, no traceback, nothing written or deleted (the folder a case ran in is byte
for byte what it was); and the one real training run, which must leave a --hub_token in no file and no output.

Every refusal here happens before a model is loaded; the models are the tiny random Llama of tests/tiny_model.py.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from fixture_data import snapshot

from infra.outputs import MARKER, claim_folder, mark, read_marker
from infra.project import DEFAULT_RECIPE, LIU_DATA_DIR
from sources.nq_open import NQ_ORACLE_FILE

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / DEFAULT_RECIPE
NQ_ORACLE = ROOT / LIU_DATA_DIR / NQ_ORACLE_FILE
SECRET = "hf_FAKE_secret_789"


def tiny(t: Path) -> Path:
    from tiny_model import save_tiny_model

    return save_tiny_model(t / "tiny") if not (t / "tiny").is_dir() else t / "tiny"


def chats(t: Path, answers: tuple[str, ...] = ("It is 2.",) * 8, name: str = "chats.jsonl") -> Path:
    """A training file in TRL's messages format, one row per answer."""
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Report the value of key {i}."},
                {"role": "assistant", "content": a},
            ]
        }
        for i, a in enumerate(answers)
    ]
    (t / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return t / name


def sft_argv(t: Path, *extra: str, out: str | None = None) -> list[str]:
    """The SmolLM2 recipe on the tiny model and a tiny chat file, as a user would override it."""
    return [
        "--config", str(RECIPE), "--model_name_or_path", str(tiny(t)), "--dataset_name", str(chats(t)),
        "--output_dir", out or str(t / "out"), "--bf16", "false", "--max_steps", "1", *extra,
    ]  # fmt: skip


def users_folder(t: Path) -> str:
    """A folder a user keeps a model card, a config and two checkpoint-looking folders of their own in."""
    out = t / "mine"
    (out / "checkpoint-7").mkdir(parents=True)
    (out / "checkpoint-notes").mkdir()
    (out / "README.md").write_text("my card")
    (out / "config.json").write_text('{"mine": true}')
    (out / "checkpoint-7" / "precious.txt").write_text("keep")
    (out / "checkpoint-notes" / "notes.txt").write_text("keep too")
    return str(out)


def claimed_by_another_run(t: Path, finished: bool = False) -> str:
    """An output_dir claimed by a run of the same recipe at another learning rate (finished: with its final files)."""
    from training import sft

    out = t / "earlier"
    identity = sft.run_identity(*sft.parse_recipe(sft_argv(t, "--learning_rate", "1e-3", out=str(out))))
    claim_folder(out, sft.COMMAND, kind="model", identity=identity)
    if finished:
        (out / "trainer_state.json").write_text('{"global_step": 1}')
        mark(out, sft.COMMAND, kind="model", identity=identity)
    return str(out)


def run_folder_with_users_checkpoint_notes(t: Path) -> str:
    """This run's own folder (claimed, resumable) into which a user put a folder named like a checkpoint."""
    from training import sft

    out = t / "run"
    claim_folder(
        out, sft.COMMAND, kind="model", identity=sft.run_identity(*sft.parse_recipe(sft_argv(t, out=str(out))))
    )
    (out / "checkpoint-notes").mkdir()
    (out / "checkpoint-notes" / "notes.txt").write_text("keep")
    return str(out)


def truncated_model(t: Path) -> str:
    weights = tiny(t) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # an interrupted copy
    return str(tiny(t))


def recipe_with(t: Path, key: str, value: str) -> str:
    """The SmolLM2 recipe with ``key: value`` (replacing the recipe's own line for ``key``, if it has one)."""
    lines = [line for line in RECIPE.read_text().splitlines() if not line.startswith(f"{key}:")]
    (t / "recipe.yaml").write_text("\n".join([*lines, f"{key}: {value}"]) + "\n")
    return str(t / "recipe.yaml")


def adapter(t: Path, config_text: str) -> str:
    (t / "adapter").mkdir()
    (t / "adapter" / "adapter_config.json").write_text(config_text)
    return str(t / "adapter")


def nq_prompts(part: str, n: int = 2) -> list[str]:
    from sources.nq_halves import split_halves
    from sources.nq_open import load_nq_oracle

    questions = [q.question for q in load_nq_oracle(NQ_ORACLE)]
    return [f"Question: {questions[i]}\nAnswer:" for i in split_halves(questions)[part][:n]]


def samples(t: Path, part: str) -> str:
    """A samples file as `python -m evaluation run` writes it, whose prompts are questions of one NQ ``part``."""
    rows = [{"id": f"nq{i}", "prompt": p, "prediction": "an answer"} for i, p in enumerate(nq_prompts(part))]
    (t / "res").mkdir(exist_ok=True)
    (t / "res" / "nq_closed_replay.samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(t / "res" / "nq_closed_replay.samples.jsonl")


def empty_model_files(t: Path) -> str:
    from training.embedded_model import REQUIRED_FILES

    (t / "model").mkdir()
    for name in REQUIRED_FILES:
        (t / "model" / name).touch()
    return str(t / "model")


SFT, MERGE, REPLAY, EMBEDDED = "training.sft", "training.merge_lora", "training.replay", "training.embedded_model"

# (id, entry point module, argv builder, words the one line must contain)
CASES: list[tuple[str, str, Callable[[Path], list[str]], str]] = [
    # 2: a folder training did not write is never trained into (nor its checkpoint-* folders deleted)
    ("out-holds-users-files", SFT, lambda t: sft_argv(t, out=users_folder(t)), "did not write it"),
    # 3: the base model's own folder, a folder inside it, or one containing it, is never an output
    ("out-is-the-model", SFT, lambda t: sft_argv(t, out=str(tiny(t))), "is model_name_or_path"),
    ("out-inside-the-model", SFT, lambda t: sft_argv(t, out=str(tiny(t) / "sft")), "is inside model_name_or_path"),
    ("out-contains-the-model", SFT, lambda t: sft_argv(t, out=str(t)), "a folder that holds a model you train from"),
    # Trainer's rotation (save_total_limit) deletes any checkpoint-* folder, so a user's one in the run's folder is
    # refused before training, not deleted by it
    ("run-folder-holds-checkpoint-notes", SFT, lambda t: sft_argv(t, out=run_folder_with_users_checkpoint_notes(t)),
     "checkpoint-notes is not a checkpoint of this run"),
    # 4: a run of another recipe in output_dir (in progress, or finished) is refused, naming what differs
    ("out-holds-another-run", SFT, lambda t: sft_argv(t, out=claimed_by_another_run(t)),
     "differs in learning_rate"),
    ("out-holds-another-finished-run", SFT, lambda t: sft_argv(t, out=claimed_by_another_run(t, finished=True)),
     "differs in learning_rate"),
    # 5: one line, not a traceback
    ("model-truncated", SFT, lambda t: sft_argv(t, "--model_name_or_path", truncated_model(t)), "truncated"),
    ("config-last", SFT, lambda t: [*sft_argv(t)[2:], "--config"], "--config needs a recipe path"),
    ("config-twice", SFT, lambda t: [*sft_argv(t), "--config", str(RECIPE)], "--config is given more than once"),
    ("config-equals-form-read", SFT, lambda t: sft_argv(t)[2:] + [f"--config={recipe_with(t, 'learning_rate', '0')}"],
     "learning_rate=0 must be > 0"),
    ("batch-size-0", SFT, lambda t: sft_argv(t, "--per_device_train_batch_size", "0"),
     "per_device_train_batch_size=0 must be >= 1"),
    ("grad-accum-0", SFT, lambda t: sft_argv(t, "--gradient_accumulation_steps", "0"),
     "gradient_accumulation_steps=0 must be >= 1"),
    ("learning-rate-0", SFT, lambda t: sft_argv(t, "--learning_rate", "0"), "learning_rate=0.0 must be > 0"),
    ("max-steps-negative", SFT, lambda t: sft_argv(t, "--max_steps", "-5"), "or -1 to train for num_train_epochs"),
    ("epochs-0", SFT, lambda t: sft_argv(t, "--max_steps", "-1", "--num_train_epochs", "0"),
     "num_train_epochs=0.0 must be > 0"),
    ("resume-missing", SFT, lambda t: sft_argv(t, "--resume_from_checkpoint", str(t / "out" / "checkpoint-9")),
     "resume_from_checkpoint"),
    ("lora-target-unknown", SFT, lambda t: sft_argv(t, "--use_peft", "true", "--lora_target_modules",
     "nonexistent_proj"), "['nonexistent_proj'] are not modules of"),
    ("recipe-value-wrong-type", SFT, lambda t: ["--config", recipe_with(t, "seed", '"ten"'), *sft_argv(t)[2:]],
     "invalid int value: 'ten'"),
    ("force-in-a-recipe", SFT, lambda t: ["--config", recipe_with(t, "force", "true"), *sft_argv(t)[2:]],
     "command-line flag only"),
    # 6: an empty or blank assistant answer is refused with its split and row
    ("answer-empty", SFT, lambda t: sft_argv(t, "--dataset_name", str(chats(t, ("a", "", "c"), "e.jsonl"))),
     "train row 1 has an empty assistant answer"),
    ("answer-blank", SFT, lambda t: sft_argv(t, "--dataset_name", str(chats(t, ("a", "b", " \n "), "b.jsonl"))),
     "train row 2 has an empty assistant answer"),
    # 7: merge_lora on a damaged adapter config, or a base model that is not there
    ("adapter-config-not-json", MERGE, lambda t: ["--adapter", adapter(t, "{"), "--out", str(t / "m")], "is not JSON"),
    ("adapter-config-empty", MERGE, lambda t: ["--adapter", adapter(t, "{}"), "--out", str(t / "m")],
     "is not a PEFT adapter config"),
    ("adapter-names-no-base", MERGE, lambda t: ["--adapter", adapter(t, '{"peft_type": "LORA"}'), "--out",
     str(t / "m")], "pass --base"),
    ("adapter-base-missing", MERGE, lambda t: ["--adapter", adapter(t, json.dumps({"peft_type": "LORA",
     "base_model_name_or_path": str(t / "gone" / "base")})), "--out", str(t / "m")], "does not exist"),
    ("base-flag-missing", MERGE, lambda t: ["--adapter", adapter(t, '{"peft_type": "LORA"}'), "--base",
     str(t / "gone" / "base"), "--out", str(t / "m")], "--base: model"),
    # 8: replay rows only from the replay quarter; a folder given as --samples is named as one
    ("replay-from-eval-half", REPLAY, lambda t: ["--samples", samples(t, "eval"), "--out", str(t / "r")],
     "line 1: its prompt is a question of the NQ eval part"),
    ("replay-from-val-quarter", REPLAY, lambda t: ["--samples", samples(t, "val"), "--out", str(t / "r")],
     "NQ val part"),
    ("replay-samples-a-folder", REPLAY, lambda t: ["--samples", str(Path(samples(t, "replay")).parent), "--out",
     str(t / "r")], "is a folder; give the samples file in it"),
    # 9: five empty files are not a complete model, and not this command's folder to write a README into
    ("model-files-empty", EMBEDDED, lambda t: ["--out", empty_model_files(t)], "did not write it"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "module", "make_argv", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(case, module, make_argv, words, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.chdir(ROOT)  # the replay's default --data-dir is relative to the checkout, as the evaluation's
    work = tmp_path / "work"
    work.mkdir()
    argv = make_argv(work)
    before = snapshot(work)
    main = importlib.import_module(module).main
    capsys.readouterr()

    code = main(argv)

    err = capsys.readouterr().err
    assert code == 2, err
    progress = re.compile(r"^[^:]+: +(\d+%\||\d+ examples \[)")  # datasets' bars (redrawn with \r): not errors
    lines = [line for line in re.split(r"[\r\n]", err) if line.strip() and not progress.match(line)]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert words in lines[0]
    assert snapshot(work) == before, "a refused command must not write or delete anything"


@pytest.mark.integration
def test_force_replaces_a_users_folder_before_training(tmp_path, monkeypatch):
    """``--force true`` takes a folder training did not write: its contents go, then training starts (here stopped
    at once, so nothing trains)."""
    from training import sft

    class Started(Exception):
        pass

    def stop(*args):
        raise Started

    out = Path(users_folder(tmp_path))
    monkeypatch.setattr(sft, "build_trainer", stop)
    with pytest.raises(Started):
        sft.main(sft_argv(tmp_path, "--force", "true", out=str(out)))
    assert [p.name for p in out.iterdir()] == [MARKER]
    assert read_marker(out)["command"] == sft.COMMAND and read_marker(out)["files"] == {}


def test_config_equals_form_reads_the_recipe():
    from training import sft

    _, training_args, _ = sft.parse_recipe([f"--config={RECIPE}", "--use_cpu", "true", "--bf16", "false"])
    assert training_args.output_dir == "build/models/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full"


def test_recorded_command_line_hides_secret_values_in_both_forms():
    from training.sft import REDACTED, redact_argv

    argv = ["--hub_token", SECRET, "--api_key=sk-1", "--learning_rate", "1e-3", "--hub_token=" + SECRET, "--x", "1"]
    assert redact_argv(argv) == [
        "--hub_token", REDACTED, f"--api_key={REDACTED}", "--learning_rate", "1e-3", f"--hub_token={REDACTED}",
        "--x", "1",
    ]  # fmt: skip


def test_only_run_checkpoints_are_removed_and_only_saved_files_listed(tmp_path):
    from training.sft import is_run_checkpoint, save_started, saved_files

    for name in ("checkpoint-7", "checkpoint-8.incomplete", "checkpoint-notes", "checkpoint-7-old"):
        (tmp_path / name).mkdir()
    assert sorted(p.name for p in tmp_path.iterdir() if is_run_checkpoint(p)) == [
        "checkpoint-7",
        "checkpoint-8.incomplete",
    ]
    (tmp_path / "notes.txt").write_text("the user's")
    os.utime(tmp_path / "notes.txt", ns=(1, 1))  # written long before the save
    started = save_started(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"saved")
    (tmp_path / ".hidden").write_text("never uploaded anyway")
    assert saved_files(tmp_path, started) == [tmp_path / "model.safetensors"]


def test_embedded_model_is_complete_only_when_whole_and_its_own(tmp_path):
    from training.embedded_model import COMMAND, REQUIRED_FILES, is_complete

    model = tiny(tmp_path)
    assert not is_complete(model)  # every file there and whole, but another command wrote the folder
    mark(model, COMMAND)
    assert is_complete(model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    assert not is_complete(model)  # truncated weights
    empty = Path(empty_model_files(tmp_path))
    mark(empty, COMMAND)
    assert not is_complete(empty) and all((empty / name).is_file() for name in REQUIRED_FILES)


def test_replay_quarter_samples_become_rows(tmp_path, monkeypatch):
    from training import replay

    monkeypatch.chdir(ROOT)
    assert replay.main(["--samples", samples(tmp_path, "replay"), "--out", str(tmp_path / "r")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "r" / "train.jsonl").read_text().splitlines()]
    assert [r["messages"][0]["content"] for r in rows] == nq_prompts("replay")


class FakeHubApi:
    """Stands in for huggingface_hub's HfApi (infra.hub.hub_api): records what would be pushed, reaches nothing."""

    def __init__(self, token: str):
        self.token, self.uploads = token, []

    def create_repo(self, repo_id, **kwargs):
        return repo_id

    def upload_folder(self, **kwargs):
        self.uploads.append(kwargs)
        return SimpleNamespace(commit_url=f"https://huggingface.co/{kwargs['repo_id']}/commit/abc", oid="abc")


@pytest.mark.integration
def test_hub_token_is_in_no_file_and_no_output(tmp_path, monkeypatch, capsys):
    """The one real run (tiny model, 1 step): ``--hub_token`` is used for the push, and reaches neither the README's
    command line nor training_args.bin nor the marker nor anything printed; a user's file dropped into the run's
    folder stays, and stays out of the push."""
    from infra import hub
    from training import sft

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the push goes to the fake client below, never the network
    apis = []
    monkeypatch.setattr(hub, "hub_api", lambda token: apis.append(FakeHubApi(token)) or apis[-1])
    out = tmp_path / "sft_tok"
    argv = sft_argv(tmp_path, "--hub_token", SECRET, out=str(out))
    # A resumable run's folder a user dropped notes into: the final save must leave them, and list only its own.
    claim_folder(out, sft.COMMAND, kind="model", identity=sft.run_identity(*sft.parse_recipe(argv)))
    (out / "notes.txt").write_text("mine")
    os.utime(out / "notes.txt", ns=(1, 1))
    capsys.readouterr()

    assert sft.main(argv) == 0

    printed = capsys.readouterr()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert out / "training_args.bin" in files and out / "README.md" in files
    assert [p for p in files if SECRET.encode() in p.read_bytes()] == []
    assert SECRET not in printed.out and SECRET not in printed.err
    assert f"--hub_token {sft.REDACTED}" in (out / "README.md").read_text()
    [api] = apis
    assert api.token == SECRET  # given to the push explicitly, though HF_TOKEN is unset
    listed = set(read_marker(out)["files"])
    assert {"README.md", "model.safetensors", "training_args.bin", "trainer_state.json"} <= listed
    assert "notes.txt" not in listed and (out / "notes.txt").read_text() == "mine"
    [upload] = api.uploads
    assert sorted(upload["allow_patterns"]) == sorted(listed)
