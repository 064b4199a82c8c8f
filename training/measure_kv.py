"""Before/after check for a finetune: greedy answers on held-out synthetic KV test prompts, value and dictionary right.

    HF_HUB_OFFLINE=1 .venv/bin/python -m training.measure_kv \
        --model build/models/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full --config smollm2_kv_600 --limit 100

Prompts are the first ``--limit`` rows of the config's test split (never trained on), rendered with the model's own
chat template (the one training used), generated greedily in left-padded batches. Scoring is the evaluation
package's ``synthetic_kv_match`` (value right / dictionary right / both), so these numbers agree with
``python -m evaluation run --suites synthetic_kv``; this script exists to check one config quickly after training.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field

import torch

from evaluation.metrics import synthetic_kv_match
from infra.cli import USER_ERRORS, fail, parse_config
from infra.dataset_files import read_dataset
from infra.machine import cpu_model_name, cpu_supports_bf16
from infra.model_folder import check_model
from infra.outputs import check_output_file


def generate(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int) -> list[str]:
    tokenizer.padding_side = "left"  # decoder-only: pad on the left so every prompt ends where generation starts
    chats = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    answers = []
    use_bf16 = cpu_supports_bf16()
    for start in range(0, len(chats), batch_size):
        batch = tokenizer(
            chats[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False
        )
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
        answers += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return [a.strip().split("\n")[0] for a in answers]


@dataclass
class MeasureConfig:
    model: str = field(metadata={"help": "Model folder or Hub id."})
    dataset: str = field(default="build/dataset", metadata={"help": "Dataset folder (or Hub id) with the config."})
    config: str = field(default="smollm2_kv_600", metadata={"help": "Dataset config whose test split is scored."})
    limit: int = field(default=100, metadata={"help": "First N test rows."})
    batch_size: int = field(default=16, metadata={"help": "Prompts per generate call."})
    max_new_tokens: int = field(default=32, metadata={"help": "The answer sentence is ~25 SmolLM2 tokens."})
    out: str | None = field(default=None, metadata={"help": "Write the summary and every prediction to this JSON."})

    def __post_init__(self) -> None:
        check_model(self.model)
        if self.out:
            check_output_file(self.out)  # before generating, not after


def measure(cfg: MeasureConfig) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    test = read_dataset(cfg.dataset, cfg.config, split="test")
    rows = list(test.select(range(min(cfg.limit, len(test)))))
    model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    start = time.perf_counter()
    answers = generate(model, tokenizer, [r["prompt"][0]["content"] for r in rows], cfg.batch_size, cfg.max_new_tokens)
    seconds = time.perf_counter() - start
    scores = [synthetic_kv_match(a, r["gold_value"], r["gold_dict"]) for a, r in zip(answers, rows, strict=True)]
    summary = {
        "model": cfg.model,
        "config": cfg.config,
        "n": len(rows),
        **{k: sum(s[k] for s in scores) / len(scores) for k in ("value", "dictionary", "both")},
        "seconds": round(seconds, 1),
        "cpu": cpu_model_name(),
        "precision": "bf16 autocast" if cpu_supports_bf16() else "fp32",
    }
    print(json.dumps(summary))
    for answer, row in list(zip(answers, rows, strict=True))[:3]:
        print(f"  gold {row['gold_value']} [{row['gold_dict']}] <- {answer!r}")
    if cfg.out:
        predictions = [{"id": r["id"], "answer": a, **s} for a, r, s in zip(answers, rows, scores, strict=True)]
        with open(cfg.out, "w") as handle:
            json.dump({"summary": summary, "predictions": predictions}, handle, indent=1)
    return summary


def main(argv: list[str] | None = None) -> int:
    try:
        measure(parse_config(MeasureConfig, argv, "python -m training.measure_kv", __doc__.splitlines()[0]))
    except USER_ERRORS as err:
        return fail(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
