"""Generation throughput of the paper's 4K config and the 24K config, on one core.

    .venv/bin/python -m dataset_builder.bench            # or: make bench-dataset

Prints samples/s and tokens/s of generation (draw, assemble, tokenize once to confirm the budget), and, as the
limit to compare with, the rate of a single tokenizer pass over the same finished examples, measured in the same run
(generation has to tokenize each example once, so it cannot beat that pass), with the ratio and the CPU model.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from dataset_builder.config import load_config
from dataset_builder.generate import iter_split
from dataset_builder.tokens import load_counter
from infra.cli import entry_point, parse_config
from infra.machine import cpu_model_name, usable_cores

# (config, samples): ~1 s of work each, enough to average out timer noise.
CASES = (("simple_kv", 1000), ("simple_kv_24k", 200))


def bench_config(name: str, samples: int) -> dict:
    cfg = load_config(name, {"train_size": samples})
    counter = load_counter(cfg.tokenizer)
    start = time.perf_counter()
    rows = list(iter_split(cfg, "train", counter))
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    for row in rows:
        counter.count_example(row["messages"][0]["content"], row["messages"][1]["content"])
    tokenize_s = time.perf_counter() - start
    tokens = sum(row["num_tokens"] for row in rows)
    return {
        "config": name,
        "samples": samples,
        "mean_tokens": tokens / samples,
        "samples_per_s": samples / generate_s,
        "tokens_per_s": tokens / generate_s,
        "tokenize_only_samples_per_s": samples / tokenize_s,
    }


@dataclass
class DatasetBenchConfig:
    scale: float = field(default=1.0, metadata={"help": "Multiply the sample counts (0.1: a smoke run)."})


@entry_point("nothing was written (the benchmark only prints): rerun the command")
def main(argv: list[str] | None = None) -> None:
    args = parse_config(DatasetBenchConfig, argv, "python -m dataset_builder.bench", __doc__.splitlines()[0])
    cpu = cpu_model_name()
    print(f"CPU: {cpu}, {usable_cores()} cores (generation is single-threaded)")
    for name, samples in CASES:
        r = bench_config(name, max(1, int(samples * args.scale)))
        print(
            f"{r['config']:>14}: {r['samples_per_s']:8,.0f} samples/s  {r['tokens_per_s'] / 1e6:5.2f}M tokens/s  "
            f"({r['samples']} samples, {r['mean_tokens']:,.0f} tokens each) = "
            f"{r['samples_per_s'] / r['tokenize_only_samples_per_s']:.0%} of this run's limit, one tokenizer pass "
            f"alone: {r['tokenize_only_samples_per_s']:,.0f} samples/s [CPU: {cpu}]"
        )


if __name__ == "__main__":
    sys.exit(main())
