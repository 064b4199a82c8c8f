"""Run declared tasks on one model and write a results file per task (``RunConfig`` is what the CLI sets)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from evaluation.data import EvalExample
from evaluation.generation import (
    DEVICES,
    MAX_BATCH_TOKENS,
    PRECISIONS,
    GenerationSettings,
    Placement,
    generate_answers,
    load_model,
    resolve_placement,
)
from evaluation.liu_kv import build_liu_kv_examples
from evaluation.mdqa import build_mdqa_examples, load_original_mdqa
from evaluation.nq_closed import build_closed_book_examples
from evaluation.results import COMMAND, build_results, git_commit, write_results
from evaluation.synthetic_kv import load_synthetic_examples
from evaluation.tasks import EvalConfigError, TaskConfig, load_task
from infra.outputs import check_claim, claim_folder
from infra.project import LIU_DATA_DIR as DEFAULT_DATA_DIR
from infra.project import is_hub_id, split_list
from sources.files import read_jsonl, resolve_data_file
from sources.nq_halves import select_half
from sources.nq_open import load_nq_oracle

# Relative to the repository root, like every default path here.
DEFAULT_DATASET = "build/dataset"
# The shortest prompt of any task here is 42 tokens (closed-book NQ in SmolLM2's chat template; 1,000 questions,
# 42-58 tokens, measured with the tokenizer). A token budget below twice that can never hold two prompts: it only
# turns batching off, which --batch-size 1 says plainly, so a smaller budget is taken for a typo.
MIN_BATCH_TOKENS = 2 * 42


@dataclass
class RunConfig:
    model: str = field(metadata={"help": "Model folder, Hub id, or .gguf file."})
    tasks: list[str] = field(
        metadata={
            # A task is one declared YAML (mdqa_20docs); its suite is the family it belongs to (mdqa), as
            # TaskConfig.suite says. --suites is this flag's former name, kept so older commands still run.
            "help": "Task names (evaluation/tasks/*.yaml) or YAML paths, comma-separated.",
            "aliases": ["--suites"],
        }
    )
    out: str = field(metadata={"help": "Folder for <task>.json results and <task>.samples.jsonl predictions."})
    # The one meaning of limit: questions per gold position. A positional task asks each question at each of its
    # positions (MDQA, Liu KV: examples = limit x positions; a KV sweep: limit rows per depth); a task without fixed
    # positions (closed-book, a random-depth KV test set) counts as one position: limit questions in all.
    limit: int | None = field(
        default=None, metadata={"help": "Questions per gold position (examples = limit x positions; None = all)."}
    )
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "Folder with Liu et al.'s files."})
    data_repo: str = field(
        default="", metadata={"help": "Hub dataset id holding the same files (overrides data_dir)."}
    )
    dataset: str = field(default=DEFAULT_DATASET, metadata={"help": "Synthetic KV dataset folder or Hub id."})
    mdqa_original: str = field(
        default="", metadata={"help": "Folder or Hub id with Liu et al.'s MDQA files; empty = build offline."}
    )
    # Measured by `make bench-eval` (README): 64 closed-book prompts per call are 4x faster than 8, with the same
    # answers in fp32. The token budget keeps long batches small (generation.MAX_BATCH_TOKENS says why 8,192).
    batch_size: int = field(default=64, metadata={"help": "At most this many prompts per generate call."})
    max_batch_tokens: int = field(
        default=MAX_BATCH_TOKENS, metadata={"help": "... and at most this many padded prompt tokens per call."}
    )
    precision: str = field(default="auto", metadata={"help": f"One of {', '.join(PRECISIONS)}."})
    device: str = field(
        default="auto", metadata={"help": f"One of {', '.join(DEVICES)}; auto = the GPU(s) when torch sees one."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the Liu KV pair subsampling."})
    force: bool = field(
        default=False,
        metadata={"help": "Write into a non-empty --out this command did not write (its contents are removed)."},
    )
    task_configs: list[TaskConfig] = field(init=False, repr=False, default_factory=list)  # parsed from `tasks`
    placement: Placement = field(init=False, repr=False, default=None)  # resolved from `device` and `precision`

    def __post_init__(self) -> None:
        self.tasks = split_list(self.tasks)  # `a,b` or `a b`
        if not self.tasks:
            raise EvalConfigError("no tasks given; pass --tasks e.g. mdqa_10docs,liu_kv_10keys,nq_closed")
        if self.limit is not None and self.limit < 1:
            raise EvalConfigError(f"limit={self.limit} must be >= 1 (or omitted for everything)")
        check_batch_settings(self.batch_size, self.max_batch_tokens)
        if self.precision not in PRECISIONS:
            raise EvalConfigError(f"precision={self.precision!r}; use one of {', '.join(PRECISIONS)}")
        try:
            self.placement = resolve_placement(self.device, self.precision)
        except ValueError as err:
            raise EvalConfigError(str(err)) from err
        if self.out:  # `evaluation bench` builds examples through a RunConfig and writes no results folder
            # a file, a read-only place, a user's folder, another model's results or results of another evaluation
            # setting: refused before the model loads
            check_claim(Path(self.out), COMMAND, force=self.force, identity=self.identity)
        self.task_configs = [load_task(t) for t in self.tasks]  # unknown task fails here, before a model loads
        needs_files = any(t.suite in ("mdqa", "liu_kv", "nq_closed") for t in self.task_configs)
        if needs_files and not self.data_repo and not Path(self.data_dir).is_dir():
            raise EvalConfigError(
                f"data dir {self.data_dir} not found; pass --data-dir with Liu et al.'s files or --data-repo <hub id>"
            )
        if not Path(self.model).exists() and not is_hub_id(self.model):
            raise EvalConfigError(f"model {self.model} not found (not a folder, .gguf file or Hub id)")

    @property
    def setting(self) -> dict:
        """The evaluation setting recorded in every results file (``evaluation.results.EVAL_SETTING_KEYS``)."""
        return {
            "batch_size": self.batch_size,
            "max_batch_tokens": self.max_batch_tokens,
            "precision": self.placement.precision,
        }

    @property
    def identity(self) -> dict:
        return results_identity(self.model, self.setting)


def check_batch_settings(batch_size: int, max_batch_tokens: int) -> None:
    if batch_size < 1:
        raise EvalConfigError(f"batch_size={batch_size}: give at least 1 prompt per call")
    if max_batch_tokens < MIN_BATCH_TOKENS:
        raise EvalConfigError(
            f"max_batch_tokens={max_batch_tokens} cannot hold two prompts of any task (the shortest are 42 tokens); "
            f"give at least {MIN_BATCH_TOKENS} (default {MAX_BATCH_TOKENS}), or --batch-size 1 to turn batching off"
        )


def results_identity(model: str, setting: dict) -> dict:
    """What a results folder holds the results of: one model under one evaluation setting (a second model's
    results, or the same model's at another batch size or precision, would mix into it)."""
    return {"model": model, "eval_setting": setting}


def build_examples(task: TaskConfig, cfg: RunConfig) -> tuple[list[EvalExample], list[Path], str]:
    """The task's examples, the data files they came from and the variant label recorded beside the number."""
    if task.suite == "synthetic_kv":
        examples = load_synthetic_examples(task, cfg.dataset, cfg.limit)
        root = Path(cfg.dataset)
        configs = {e.position.split(" depth ")[0] for e in examples}
        # only the files scored: the selected configs' test split (a Hub id is pinned by its revision instead)
        files = sorted(p for c in configs for p in (root / "data" / c).glob("test-*.parquet")) if root.is_dir() else []
        return examples, files, f"{task.variant} [{cfg.dataset}]"
    if task.suite == "mdqa" and cfg.mdqa_original:
        examples, files = load_original_mdqa(task, cfg.mdqa_original, cfg.limit)
        return examples, files, f"liu-original: {task.num_docs} Contriever-retrieved documents [{cfg.mdqa_original}]"
    path = resolve_data_file(task.data_file, cfg.data_dir, cfg.data_repo)
    if task.suite in ("mdqa", "nq_closed"):
        # one half of the questions only (and, for mdqa, distractors from that half): see sources/nq_halves.py
        questions = load_nq_oracle(path)
        half = select_half(questions, [q.question for q in questions], task.nq_half)
        variant = f"{task.variant}; NQ {task.nq_half} half ({len(half)} of {len(questions)} questions)"
        build = build_mdqa_examples if task.suite == "mdqa" else build_closed_book_examples
        return build(task, half, cfg.limit), [path], variant
    rows = list(read_jsonl(path))
    return build_liu_kv_examples(task, rows, cfg.limit, cfg.seed), [path], task.variant


def model_record(model: str) -> dict:
    path = Path(model)
    record = {"path_or_id": model}
    if (path / "config.json").is_file():
        from infra.hub import sha256_file
        from infra.model_folder import weights_fingerprint

        record["config_sha256"] = sha256_file(path / "config.json")
        record["weights_sha256"] = weights_fingerprint(path)  # the release stages a card only beside these weights
    state = path / "trainer_state.json"
    if state.is_file():  # a model trained here: its steps and training time travel with every number it gets
        import json

        values = json.loads(state.read_text())
        runtime = next((e["train_runtime"] for e in values.get("log_history", []) if "train_runtime" in e), None)
        record["training"] = {"global_step": values.get("global_step"), "train_runtime_s": runtime}
    return record


def run_eval(cfg: RunConfig, loaded=None) -> list[Path]:
    """Evaluate ``cfg.model`` on every task; returns the results files written."""
    examples_by_task = [(task, *build_examples(task, cfg)) for task in cfg.task_configs]  # data errors before load
    commit = git_commit()  # the code that produces the numbers: read before generating, not after
    model, tokenizer = loaded or load_model(cfg.model, cfg.placement)
    out_dir, written = Path(cfg.out), []
    claim_folder(out_dir, COMMAND, force=cfg.force, identity=cfg.identity)
    for task, examples, files, variant in examples_by_task:
        settings = GenerationSettings(task.max_new_tokens, task.stop, cfg.batch_size, cfg.max_batch_tokens)
        start = time.perf_counter()
        with tqdm(total=len(examples), desc=f"eval {task.name}", unit="ex") as bar:
            predictions = generate_answers(model, tokenizer, [e.prompt for e in examples], settings, bar.update)
        seconds = time.perf_counter() - start
        generation = {**asdict(settings), **asdict(cfg.placement), "decoding": "greedy"}
        generation["precision"] = cfg.placement.precision
        generation["chat_template"] = "tokenizer.apply_chat_template(add_generation_prompt=True)"
        results, scores = build_results(
            task,
            examples,
            predictions,
            model=model_record(cfg.model),
            data_files=files,
            variant=variant,
            limit=cfg.limit,
            generation=generation,
            seconds=seconds,
            commit=commit,
        )
        written.append(write_results(out_dir, results, examples, predictions, scores))
        primary = results["primary_metric"]
        overall = results["overall"][primary]
        print(f"{task.name}: {primary}={overall['score']:.3f} (n={overall['n']}, 95% CI {overall['ci95']})")
    return written
