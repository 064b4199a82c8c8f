r"""Evaluation throughput: batched generation (this package) vs a one-prompt-at-a-time ``generate`` loop.

Both paths run the same prompts, chat template, greedy decoding, stop strings and precision; only the batch
size differs, so the ratio is what batching buys. The CPU model is printed beside every timing.

    .venv/bin/python -m evaluation bench --model build/models/SmolLM2-135M-Instruct --task nq_closed --n 32 \
        --batch-size 16
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from evaluation.generation import MAX_BATCH_TOKENS, GenerationSettings, generate_answers, load_model
from evaluation.runner import RunConfig, build_examples
from infra.machine import cpu_model_name


def time_generation(model, tokenizer, prompts: list[str], settings: GenerationSettings) -> tuple[float, list[str]]:
    start = time.perf_counter()
    answers = generate_answers(model, tokenizer, prompts, settings)
    return time.perf_counter() - start, answers


def run_bench(
    model_path: str,
    task: str,
    n: int,
    batch_size: int,
    precision: str,
    out: Path | None,
    max_batch_tokens: int = MAX_BATCH_TOKENS,
) -> dict:
    cfg = RunConfig(model=model_path, tasks=[task], out="", limit=n, precision=precision)
    task_cfg = cfg.task_configs[0]
    examples = build_examples(task_cfg, cfg)[0][:n]
    prompts = [e.prompt for e in examples]
    placement = cfg.placement  # resolved once, by RunConfig, as `evaluation run` does
    model, tokenizer = load_model(model_path, placement)
    batched = GenerationSettings(task_cfg.max_new_tokens, task_cfg.stop, batch_size, max_batch_tokens)
    single = replace(batched, batch_size=1)
    time_generation(model, tokenizer, prompts[:2], batched)  # warm-up: first-call allocations and kernel selection
    cpu = cpu_model_name()
    t_loop, loop_answers = time_generation(model, tokenizer, prompts, single)
    rate = len(prompts) / t_loop
    print(f"one-at-a-time loop: {rate:.2f} samples/s ({t_loop:.1f} s, {len(prompts)} prompts) [CPU: {cpu}]")
    t_batch, batch_answers = time_generation(model, tokenizer, prompts, batched)
    label = f"batched (<= {batch_size} prompts, <= {max_batch_tokens} tokens)"
    print(f"{label}: {len(prompts) / t_batch:.2f} samples/s ({t_batch:.1f} s) [CPU: {cpu}]")
    agree = sum(a == b for a, b in zip(loop_answers, batch_answers, strict=True)) / len(prompts)
    report = {
        "task": task,
        "prompts": len(prompts),
        "batch_size": batch_size,
        "max_batch_tokens": max_batch_tokens,
        "precision": placement.precision,
        "dtype": placement.dtype,
        "loop_samples_per_s": round(len(prompts) / t_loop, 3),
        "batched_samples_per_s": round(len(prompts) / t_batch, 3),
        "speedup": round(t_loop / t_batch, 2),
        "identical_answers": round(agree, 3),
        "cpu": cpu,
        "model": model_path,
    }
    print(f"speedup {report['speedup']}x (target >= 3x); identical answers {agree:.0%} [CPU: {cpu}]")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    return report
