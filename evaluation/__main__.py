r"""Command line: run suites, benchmark generation, or run lm-eval tasks.

    .venv/bin/python -m evaluation run --model build/models/SmolLM2-135M-Instruct \
        --suites mdqa_10docs,liu_kv_10keys,nq_closed --out build/results/base --limit 20
    .venv/bin/python -m evaluation list
    .venv/bin/python -m evaluation bench --model build/models/SmolLM2-135M-Instruct --task nq_closed --n 32
    .venv/bin/python -m evaluation lm-eval --model build/models/SmolLM2-135M-Instruct --tasks hellaswag --limit 20 \
        --out build/results/lm_eval.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluation.data import DEFAULT_DATA_DIR
from evaluation.runner import DEFAULT_DATASET, RunConfig
from evaluation.tasks import list_tasks, load_task
from infra.cli import USER_ERRORS, fail


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="evaluate a model on declared tasks; one results JSON per task")
    run.add_argument("--model", required=True, help="model folder, Hub id or .gguf file")
    run.add_argument("--suites", required=True, type=_csv, help="comma-separated task names (see `list`)")
    run.add_argument("--out", required=True, help="results folder")
    run.add_argument("--limit", type=int, default=None, help="questions/rows per position (default: all)")
    run.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="folder with Liu et al.'s files")
    run.add_argument("--data-repo", default="", help="Hub dataset id holding Liu et al.'s files")
    run.add_argument("--dataset", default=DEFAULT_DATASET, help="synthetic KV dataset folder or Hub id")
    run.add_argument("--mdqa-original", default="", help="folder or Hub id with Liu et al.'s original MDQA files")
    run.add_argument("--batch-size", type=int, default=64, help="at most this many prompts per generate call")
    run.add_argument("--max-batch-tokens", type=int, default=16384, help="... and this many padded prompt tokens")
    run.add_argument("--precision", default="auto", help="auto | bf16 | fp32")
    run.add_argument("--device", default="auto", help="auto | cpu | cuda (auto: the GPUs when torch sees one)")

    sub.add_parser("list", help="declared tasks")

    bench = sub.add_parser("bench", help="batched vs one-at-a-time generation throughput")
    bench.add_argument("--model", required=True)
    bench.add_argument("--task", default="nq_closed")
    bench.add_argument("--n", type=int, default=32)
    bench.add_argument("--batch-size", type=int, default=16)
    bench.add_argument("--precision", default="auto")
    bench.add_argument("--out", default="")

    harness = sub.add_parser("lm-eval", help="lm-eval HF backend on named tasks")
    harness.add_argument("--model", required=True)
    harness.add_argument("--tasks", required=True, type=_csv)
    harness.add_argument("--out", required=True, help="summary JSON path")
    harness.add_argument("--limit", type=float, default=None)
    harness.add_argument("--include-path", default=None, help="folder of extra task YAMLs (e.g. FLenQA, local data)")
    harness.add_argument("--batch-size", type=int, default=8)
    harness.add_argument("--no-chat-template", action="store_true")
    harness.add_argument("--device", default="auto", help="auto | cpu | cuda (auto: the GPUs when torch sees one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            for name in list_tasks():
                task = load_task(name)
                print(f"{name:16s} v{task.version}  {task.description}")
        elif args.command == "run":
            from evaluation.runner import run_eval

            cfg = RunConfig(
                model=args.model,
                tasks=args.suites,
                out=args.out,
                limit=args.limit,
                data_dir=args.data_dir,
                data_repo=args.data_repo,
                dataset=args.dataset,
                mdqa_original=args.mdqa_original,
                batch_size=args.batch_size,
                max_batch_tokens=args.max_batch_tokens,
                precision=args.precision,
                device=args.device,
            )
            run_eval(cfg)
        elif args.command == "bench":
            from evaluation.bench import run_bench

            run_bench(
                args.model, args.task, args.n, args.batch_size, args.precision, Path(args.out) if args.out else None
            )
        else:
            from evaluation.harness import run_lm_eval

            limit = int(args.limit) if args.limit and args.limit >= 1 else args.limit
            run_lm_eval(
                args.model,
                args.tasks,
                Path(args.out),
                limit=limit,
                include_path=args.include_path,
                batch_size=args.batch_size,
                chat_template=not args.no_chat_template,
                device=args.device,
            )
    except (*USER_ERRORS, ValueError) as err:  # ValueError: a bad --device / --precision from resolve_placement
        return fail(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
