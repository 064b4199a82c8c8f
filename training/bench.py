"""Training tokens/s on CPU: a plain fp32 PyTorch loop vs the embedded recipe's setup, on the same batches.

    HF_HUB_OFFLINE=1 .venv/bin/python -m training.bench \
        --config training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml

These setups train the same model on the same batches (the recipe's batch size, in dataset order):

- ``plain fp32 loop``: ``model(**batch).loss`` (full logits over the 49K vocabulary at every position, fp32),
  ``backward``, ``AdamW.step`` — what a first training script looks like;
- ``recipe, all positions``: the recipe's SFTTrainer (bf16 autocast where supported) with TRL's CPU default of
  scoring every position in the LM head;
- ``recipe in fp32``: the recipe's trainer scoring only the answer, without bf16 (what CPUs without native bf16 get);
- ``recipe``: the same, scoring only the labelled answer positions (``training/cpu_speed.py``), as ``make train`` runs;
- ``recipe, torch.compile`` (with ``--torch_compile true``): the recipe under TrainingArguments' ``torch_compile``.
  Its compilation (and a recompile for the second sequence length) falls in the warm-up steps, so give it
  ``--warmup 3``; the compile time is the warm-up's wall time, printed beside it.

Tokens/s counts every non-padding token in the batch (prompt + answer), i.e. the tokens the forward and backward
pass process. The first ``--warmup`` steps are excluded (allocator and oneDNN warm-up). The CPU model is printed on
every line: these numbers only mean something next to the CPU they came from.

Each figure is printed beside this machine's limit, measured by the same command just before and just after that
setup runs, the faster rates kept (the machine is shared, so its speed drifts): ``infra/compute_limit.py`` times one
layer's linears (forward and both backward GEMMs, M = the step's tokens) and causal SDPA (forward + backward, the
batch's length) in the setup's own precision, and turns the timed steps' FLOPs into seconds: limit tokens/s =
tokens / sum of (matmul FLOPs / matmul rate + attention FLOPs / attention rate), with the LM head counted on labelled
positions only, the work a step needs.
``--out`` writes the same numbers as JSON.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from infra.cli import UserError, entry_point, parse_config
from infra.compute_limit import ComputeLimit, ModelShape, best_of, measure_limit, train_step_work
from infra.outputs import check_output_file, write_report
from training import sft
from training.cpu_speed import cpu_model_name, score_only_labelled_positions

COMMAND = "python -m training.bench"


def collated_batches(trainer, batch_size: int, count: int) -> list[dict]:
    rows = [trainer.train_dataset[i] for i in range(batch_size * count)]
    return [trainer.data_collator(rows[i * batch_size : (i + 1) * batch_size]) for i in range(count)]


def plain_fp32_loop(model_path: str, batches: list[dict], lr: float, warmup: int) -> tuple[int, float]:
    """(tokens, seconds) over the batches after the warm-up ones."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    tokens, start = 0, None
    for step, batch in enumerate(batches):
        if step == warmup:
            start = time.perf_counter()
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            tokens += int(batch["attention_mask"].sum())
    return tokens, time.perf_counter() - start


def recipe_run(argv: list[str], steps: int, warmup: int, compact: bool) -> tuple[int, float, str, float]:
    """(tokens, seconds, mixed precision, warm-up seconds) for the recipe's own trainer, timed between optimizer
    steps; the warm-up runs from ``train()``'s start to the end of the last untimed step (torch.compile's cost)."""
    from transformers import TrainerCallback

    data_args, training_args, model_args = sft.parse_recipe(argv)
    trainer = sft.build_trainer(data_args, training_args, model_args, sft.load_sft_dataset(data_args))
    score_only_labelled_positions(compact)  # build_trainer turned it on; the "all positions" run turns it off
    step_ends: list[float] = []
    batch_tokens: list[int] = []
    collate = trainer.data_collator

    def counting_collator(rows):
        batch = collate(rows)
        batch_tokens.append(int(batch["attention_mask"].sum()))
        return batch

    class StepClock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            step_ends.append(time.perf_counter())

    trainer.data_collator = counting_collator
    trainer.add_callback(StepClock())
    start = time.perf_counter()
    try:
        trainer.train()
    finally:
        score_only_labelled_positions(True)
    assert len(step_ends) == warmup + steps, f"expected {warmup + steps} steps, timed {len(step_ends)}"
    tokens = sum(batch_tokens[warmup : warmup + steps])
    precision = "fp32" if training_args.mixed_precision == "no" else training_args.mixed_precision
    return tokens, step_ends[-1] - step_ends[warmup - 1], precision, step_ends[warmup - 1] - start


def warmup_note(seconds: float | None, steps: int) -> str:
    return "" if seconds is None else f"  warm-up {seconds:.0f} s for {steps} step(s)"


def limit_tokens_per_s(shape: ModelShape, batches: list[dict], limit: ComputeLimit) -> float:
    """Real tokens of ``batches`` / the seconds their steps need at ``limit``'s rates (see the module docstring).

    Labelled positions are those TRL's compact head scores: labels shifted by one (position t predicts token t+1)."""
    tokens, seconds = 0, 0.0
    for batch in batches:
        seq_lens = [int(n) for n in batch["attention_mask"].sum(1)]
        labelled = int((batch["labels"][:, 1:] != -100).sum())
        tokens += sum(seq_lens)
        seconds += limit.seconds_for(train_step_work(shape, seq_lens, labelled))
    return tokens / seconds


def step_limit(shape: ModelShape, batches: list[dict], precision: str) -> ComputeLimit:
    """The limit for these steps in ``precision``, probed at their mean shape: M = tokens a step, SDPA at the mean
    sequence length and the batch size."""
    tokens = sum(int(b["attention_mask"].sum()) for b in batches) // len(batches)
    rows = batches[0]["attention_mask"].shape[0]
    return measure_limit(
        shape, tokens=tokens, seq_len=max(1, tokens // rows), batch=rows, backward=True, precision=precision
    )


@dataclass
class TrainBenchConfig:
    config: str = field(metadata={"help": "The SFT recipe whose setup is measured."})
    steps: int = field(default=4, metadata={"help": "Timed optimizer steps per setup."})
    warmup: int = field(default=1, metadata={"help": "Untimed steps before the timed ones."})
    out: str = field(default="", metadata={"help": "Optional JSON report path (figures, limits, ratios, CPU)."})
    torch_compile: bool = field(
        default=False, metadata={"help": "Also time the recipe under torch.compile (use --warmup 3: it compiles)."}
    )

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise UserError(f"--steps={self.steps}: time at least 1 step")
        if self.warmup < 1:  # the clock starts at the end of the last warm-up step
            raise UserError(f"--warmup={self.warmup}: give at least 1 untimed step (the clock starts after it)")
        if self.out:  # a report path that cannot be written fails now, not after minutes of training
            check_output_file(Path(self.out), COMMAND)


@entry_point("nothing was written (the timed runs train in a temporary folder): rerun the command")
def main(argv: list[str] | None = None) -> None:
    run_bench(parse_config(TrainBenchConfig, argv, "python -m training.bench", __doc__.splitlines()[0]))


def run_bench(args: TrainBenchConfig) -> dict:
    from transformers import AutoConfig

    cpu = cpu_model_name()
    print(f"CPU: {cpu}, torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as out:
        total = args.warmup + args.steps
        recipe_argv = ["--config", args.config, "--output_dir", out, "--max_steps", str(total)]
        recipe_argv += ["--save_strategy", "no", "--logging_steps", str(total), "--report_to", "none"]
        recipe_argv += ["--train_sampling_strategy", "sequential", "--disable_tqdm", "true"]

        data_args, training_args, model_args = sft.parse_recipe(recipe_argv)
        trainer = sft.build_trainer(data_args, training_args, model_args, sft.load_sft_dataset(data_args))
        batch_size = training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps
        batches = collated_batches(trainer, batch_size, total)
        del trainer
        lengths = [int(b["attention_mask"].sum(1).float().mean()) for b in batches]
        print(f"batches: {total} x {batch_size} sequences, mean length {sum(lengths) / len(lengths):.0f} tokens")

        shape = ModelShape.from_config(AutoConfig.from_pretrained(model_args.model_name_or_path))
        timed = batches[args.warmup :]
        # The recipe's precision after settle_cpu_precision: bf16 only where this CPU runs it natively.
        recipe_precision = "bf16" if training_args.bf16 else "fp32"
        setups = [
            ("plain fp32 loop", "fp32", None),
            ("recipe, all positions", recipe_precision, ([], False)),
            ("recipe in fp32", "fp32", (["--bf16", "false"], True)),
            ("recipe", recipe_precision, ([], True)),
        ]
        if args.torch_compile:
            setups.append(("recipe, torch.compile", recipe_precision, (["--torch_compile", "true"], True)))
        results, limits = {}, {}  # name -> (tokens, seconds, precision, warm-up seconds or None), its limit
        for name, precision, recipe in setups:
            if name == "recipe" and recipe_precision == "fp32":  # the same setup as "recipe in fp32": timed once
                print(f"recipe = recipe in fp32 here ({cpu} has no native bf16 or the recipe asks fp32): timed once")
                results[name], limits[name] = results["recipe in fp32"], limits["recipe in fp32"]
                continue
            # probed just before and just after the setup, the best rates kept: the shared machine's load drifts
            before = step_limit(shape, timed, precision)
            print(before.describe())
            if recipe is None:
                tokens, seconds = plain_fp32_loop(
                    model_args.model_name_or_path, batches, training_args.learning_rate, args.warmup
                )
                results[name] = (tokens, seconds, "fp32", None)
            else:
                results[name] = recipe_run(recipe_argv + recipe[0], args.steps, args.warmup, recipe[1])
            after = step_limit(shape, timed, precision)
            print(after.describe())
            limits[name] = best_of([before, after])

    base = results["plain fp32 loop"][0] / results["plain fp32 loop"][1]
    report = {"cpu": cpu, "threads": torch.get_num_threads(), "config": args.config, "steps": args.steps}
    report["batch"] = {"sequences": batch_size, "mean_tokens": round(sum(lengths) / len(lengths), 1)}
    report["setups"] = {}
    for name, (tokens, seconds, precision, warmup_s) in results.items():
        rate = tokens / seconds
        limit_rate = limit_tokens_per_s(shape, timed, limits[name])
        print(
            f"{name:24s} {rate:8.0f} tokens/s  {seconds / args.steps:6.2f} s/step  ({precision}; {tokens} tokens "
            f"in {seconds:.1f} s)  x{rate / base:.2f} vs plain fp32  {rate / limit_rate:4.0%} of the limit "
            f"{limit_rate:.0f} tokens/s ({limits[name].path}){warmup_note(warmup_s, args.warmup)}  [{cpu}]"
        )
        report["setups"][name] = {
            "tokens": tokens,
            "seconds": round(seconds, 3),
            "tokens_per_s": round(rate, 1),
            "s_per_step": round(seconds / args.steps, 3),
            "precision": precision,
            "limit_tokens_per_s": round(limit_rate, 1),
            "share_of_limit": round(rate / limit_rate, 3),
            "limit": limits[name].as_json(),
            "warmup_s": None if warmup_s is None else round(warmup_s, 1),
        }
    recipe_rate = results["recipe"][0] / results["recipe"][1]
    print(f"ratio recipe / plain fp32: {recipe_rate / base:.2f}x (target >= 2x) on {cpu}")
    share = report["setups"]["recipe"]["share_of_limit"]
    print(
        f"recipe: {share:.0%} of this run's limit ({limits['recipe'].path}); target >= 50% on AMX machines, "
        f">= 60% of the bf16 limit on CPUs without AMX [CPU: {cpu}]"
    )
    report["recipe_share_of_limit"] = share
    if args.out:
        write_report(Path(args.out).parent, COMMAND, (Path(args.out).name,), report, {})
    return report


if __name__ == "__main__":
    sys.exit(main())
