r"""Evaluation throughput: batched generation (this package) vs a one-prompt-at-a-time ``generate`` loop.

Both paths run the same prompts, chat template, greedy decoding, stop strings and precision; only the batch
size differs, so the ratio is what batching buys. The CPU model is printed beside every timing.

Each figure is also printed as a share of this machine's prefill limit, probed by the same command just before and
just after that timing (the faster rates kept), in the precision the model runs (``infra/compute_limit.py``): one
layer's linears at M = the mean batched call's padded tokens and causal SDPA at the prompts' mean length, forward
only; limit prompts/s = prompts / (their prefill's matmul FLOPs / matmul rate + attention FLOPs / attention rate).
Decoding the answer's tokens is not in the limit (it is memory-bound), so a figure's share stays below 1: the gap
is what batching, padding and decoding cost.

    .venv/bin/python -m evaluation bench --model build/models/SmolLM2-135M-Instruct --task nq_closed --n 32 \
        --batch-size 16
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from evaluation.generation import (
    MAX_BATCH_TOKENS,
    GenerationSettings,
    generate_answers,
    load_model,
    plan_batches,
    render_chat,
)
from evaluation.runner import RunConfig, build_examples
from infra.compute_limit import ComputeLimit, ModelShape, best_of, measure_limit, prefill_work
from infra.machine import cpu_model_name
from infra.outputs import write_report

COMMAND = "python -m evaluation bench"


def time_generation(model, tokenizer, prompts: list[str], settings: GenerationSettings) -> tuple[float, list[str]]:
    start = time.perf_counter()
    answers = generate_answers(model, tokenizer, prompts, settings)
    return time.perf_counter() - start, answers


def prompt_lengths(tokenizer, prompts: list[str]) -> list[int]:
    """Tokens of each prompt as the model reads it (chat template applied), as generate_answers counts them."""
    return [len(tokenizer(render_chat(tokenizer, p), add_special_tokens=False)["input_ids"]) for p in prompts]


def prefill_probe(model, lengths: list[int], settings: GenerationSettings, precision: str) -> ComputeLimit:
    """The forward probes at the shape of the calls ``settings`` make: M = the mean call's padded tokens."""
    batches = plan_batches(lengths, settings.batch_size, settings.max_batch_tokens)
    padded = sum(len(b) * lengths[b[0]] for b in batches) // len(batches)  # longest-first: b[0] is the longest
    limit = measure_limit(
        ModelShape.from_config(model.config),
        tokens=padded,
        seq_len=sum(lengths) // len(lengths),
        batch=max(1, len(lengths) // len(batches)),
        precision=precision,
    )
    print(limit.describe())
    return limit


def prefill_limit(model, lengths: list[int], limit: ComputeLimit) -> tuple[float, ComputeLimit]:
    """(prompts/s limit, the limit) for prefilling prompts of ``lengths`` at ``limit``'s rates."""
    return len(lengths) / limit.seconds_for(prefill_work(ModelShape.from_config(model.config), lengths)), limit


def timed_against_limit(model, tokenizer, prompts, lengths, settings, placement):
    """(seconds, answers, (prompts/s limit, limit)): the timing between two probes, their faster rates kept."""
    before = prefill_probe(model, lengths, settings, placement.precision)
    seconds, answers = time_generation(model, tokenizer, prompts, settings)
    after = prefill_probe(model, lengths, settings, placement.precision)
    return seconds, answers, prefill_limit(model, lengths, best_of([before, after]))


def figure_line(label: str, prompts: int, seconds: float, limit: tuple[float, ComputeLimit]) -> str:
    rate = prompts / seconds
    return (
        f"{label}: {rate:.2f} samples/s ({seconds:.1f} s, {prompts} prompts) = {rate / limit[0]:.0%} of the prefill "
        f"limit {limit[0]:.2f} prompts/s ({limit[1].path}) [CPU: {limit[1].cpu}]"
    )


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
    lengths = prompt_lengths(tokenizer, prompts)
    print(
        f"{len(prompts)} {task} prompts, {sum(lengths) / len(lengths):,.0f} tokens on average ({placement.precision})"
    )
    # each limit is probed just before and just after its timing, the faster kept: a shared machine's load drifts
    t_loop, loop_answers, loop_limit = timed_against_limit(model, tokenizer, prompts, lengths, single, placement)
    print(figure_line("one-at-a-time loop", len(prompts), t_loop, loop_limit))
    t_batch, batch_answers, batched_limit = timed_against_limit(model, tokenizer, prompts, lengths, batched, placement)
    label = f"batched (<= {batch_size} prompts, <= {max_batch_tokens} tokens)"
    print(figure_line(label, len(prompts), t_batch, batched_limit))
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
        "mean_prompt_tokens": round(sum(lengths) / len(lengths), 1),
        # prefill-only limits of this run, each measured just before its figure (see the module docstring)
        "loop_limit_samples_per_s": round(loop_limit[0], 3),
        "loop_share_of_limit": round(len(prompts) / t_loop / loop_limit[0], 3),
        "batched_limit_samples_per_s": round(batched_limit[0], 3),
        "batched_share_of_limit": round(len(prompts) / t_batch / batched_limit[0], 3),
        "limits": {"loop": loop_limit[1].as_json(), "batched": batched_limit[1].as_json()},
        "cpu": cpu,
        "model": model_path,
    }
    print(f"speedup {report['speedup']}x (target >= 3x); identical answers {agree:.0%} [CPU: {cpu}]")
    if out:
        write_report(out.parent, COMMAND, (out.name,), report, {})
    return report
