"""Before/after check for a finetune: greedy answers on held-out synthetic KV test prompts, value and dictionary right.

    HF_HUB_OFFLINE=1 .venv/bin/python -m training.measure_kv \
        --model build/models/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full --config smollm2_kv_600 --limit 100

Prompts are the first ``--limit`` rows of the config's test split (never trained on), rendered with the model's own
chat template (the one training used), generated greedily in left-padded batches. Scoring is the evaluation
package's ``synthetic_kv_match`` (value right / dictionary right / both), so these numbers agree with
``python -m evaluation run --suites synthetic_kv``; this script exists to check one config quickly after training.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from evaluation.metrics import synthetic_kv_match
from training.cpu_speed import cpu_model_name, cpu_supports_bf16


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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", default="build/dataset")
    parser.add_argument("--config", default="smollm2_kv_600")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)  # the answer sentence is ~25 SmolLM2 tokens
    parser.add_argument("--out", default=None, help="write the summary and every prediction to this JSON file")
    args = parser.parse_args(argv)

    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as cache:  # a fresh cache: datasets keys a local folder's cache by path
        rows = list(load_dataset(args.dataset, args.config, split="test", cache_dir=cache).select(range(args.limit)))
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    start = time.perf_counter()
    answers = generate(
        model, tokenizer, [r["prompt"][0]["content"] for r in rows], args.batch_size, args.max_new_tokens
    )
    seconds = time.perf_counter() - start
    scores = [synthetic_kv_match(a, r["gold_value"], r["gold_dict"]) for a, r in zip(answers, rows, strict=True)]
    summary = {
        "model": args.model,
        "config": args.config,
        "n": len(rows),
        **{k: sum(s[k] for s in scores) / len(scores) for k in ("value", "dictionary", "both")},
        "seconds": round(seconds, 1),
        "cpu": cpu_model_name(),
        "precision": "bf16 autocast" if cpu_supports_bf16() else "fp32",
    }
    print(json.dumps(summary))
    for answer, row in list(zip(answers, rows, strict=True))[:3]:
        print(f"  gold {row['gold_value']} [{row['gold_dict']}] <- {answer!r}")
    if args.out:
        predictions = [{"id": r["id"], "answer": a, **s} for a, r, s in zip(answers, rows, scores, strict=True)]
        with open(args.out, "w") as handle:
            json.dump({"summary": summary, "predictions": predictions}, handle, indent=1)
    return summary


if __name__ == "__main__":
    main()
