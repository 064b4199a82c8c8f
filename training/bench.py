"""Training tokens/s on CPU: a plain fp32 PyTorch loop vs the embedded recipe's setup, on the same batches.

    HF_HUB_OFFLINE=1 .venv/bin/python -m training.bench \
        --config training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml

Three setups train the same model on the same batches (the recipe's batch size, in dataset order):

- ``plain fp32 loop``: ``model(**batch).loss`` (full logits over the 49K vocabulary at every position, fp32),
  ``backward``, ``AdamW.step`` — what a first training script looks like;
- ``recipe, all positions``: the recipe's SFTTrainer (bf16 autocast where supported) with TRL's CPU default of
  scoring every position in the LM head;
- ``recipe in fp32``: the recipe's trainer scoring only the answer, without bf16 (what CPUs without native bf16 get);
- ``recipe``: the same, scoring only the labelled answer positions (``training/cpu_speed.py``), as ``make train`` runs.

Tokens/s counts every non-padding token in the batch (prompt + answer), i.e. the tokens the forward and backward
pass process. The first ``--warmup`` steps are excluded (allocator and oneDNN warm-up). The CPU model is printed on
every line: these numbers only mean something next to the CPU they came from.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field

import torch

from infra.cli import parse_config
from training import sft
from training.cpu_speed import cpu_model_name, score_only_labelled_positions


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


def recipe_run(argv: list[str], steps: int, warmup: int, compact: bool) -> tuple[int, float, str]:
    """(tokens, seconds, mixed precision) for the recipe's own trainer, timed between optimizer steps."""
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
    try:
        trainer.train()
    finally:
        score_only_labelled_positions(True)
    assert len(step_ends) == warmup + steps, f"expected {warmup + steps} steps, timed {len(step_ends)}"
    tokens = sum(batch_tokens[warmup : warmup + steps])
    precision = "fp32" if training_args.mixed_precision == "no" else training_args.mixed_precision
    return tokens, step_ends[-1] - step_ends[warmup - 1], precision


@dataclass
class BenchConfig:
    config: str = field(metadata={"help": "The SFT recipe whose setup is measured."})
    steps: int = field(default=4, metadata={"help": "Timed optimizer steps per setup."})
    warmup: int = field(default=1, metadata={"help": "Untimed steps before the timed ones."})


def main(argv: list[str] | None = None) -> None:
    args = parse_config(BenchConfig, argv, "python -m training.bench", __doc__.splitlines()[0])

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

        results = {}
        tokens, seconds = plain_fp32_loop(
            model_args.model_name_or_path, batches, training_args.learning_rate, args.warmup
        )
        results["plain fp32 loop"] = (tokens, seconds, "fp32")
        setups = [("recipe, all positions", [], False), ("recipe in fp32", ["--bf16", "false"], True)]
        for name, extra, compact in [*setups, ("recipe", [], True)]:
            results[name] = recipe_run(recipe_argv + extra, args.steps, args.warmup, compact)

    base = results["plain fp32 loop"][0] / results["plain fp32 loop"][1]
    for name, (tokens, seconds, precision) in results.items():
        rate = tokens / seconds
        print(
            f"{name:24s} {rate:8.0f} tokens/s  {seconds / args.steps:6.2f} s/step  ({precision}; {tokens} tokens "
            f"in {seconds:.1f} s)  x{rate / base:.2f} vs plain fp32  [{cpu}]"
        )
    recipe_rate = results["recipe"][0] / results["recipe"][1]
    print(f"ratio recipe / plain fp32: {recipe_rate / base:.2f}x (target >= 2x) on {cpu}")


if __name__ == "__main__":
    main()
