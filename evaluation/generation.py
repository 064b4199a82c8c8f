"""Greedy, batched generation with the model's own chat template (the one training uses).

Prompts are sorted by length and batched with left padding so each batch pads little; a sequence stops at
EOS or at the first stop string found after its leading whitespace (a chat model may open with a newline,
which must not end the answer). bf16 autocast is used on CPUs with native bf16 (avx512_bf16 / AMX).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList

from dataset_builder.machine import cpu_supports_bf16

PRECISIONS = ("auto", "bf16", "fp32")


def resolve_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if torch.cuda.is_available() or cpu_supports_bf16() else "fp32"
    return precision


def load_model(model: str):
    """A model folder / Hub id, or a ``.gguf`` file (dequantised by transformers) for the embedded model."""
    kwargs = {}
    path = Path(model)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} not found")
        model, kwargs = str(path.parent), {"gguf_file": path.name}
    elif not path.exists() and model.count("/") != 1:
        raise FileNotFoundError(f"model {model} is neither a folder nor a Hub id; build it: make model")
    tokenizer = AutoTokenizer.from_pretrained(model, **kwargs)
    lm = AutoModelForCausalLM.from_pretrained(model, **kwargs)
    lm.eval()
    tokenizer.padding_side = "left"  # decoder-only batching: new tokens must follow the real last token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return lm, tokenizer


def render_chat(tokenizer, user_message: str) -> str:
    """The training chat template applied to one user turn, ending where the assistant's answer begins."""
    messages = [{"role": "user", "content": user_message}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def truncate_at_stop(text: str, stop: list[str]) -> str:
    """The answer up to the first stop string after its leading whitespace, stripped."""
    body = text.lstrip()
    cut = min((i for i in (body.find(s) for s in stop if s) if i >= 0), default=len(body))
    return body[:cut].strip()


class StopOnStrings(StoppingCriteria):
    """Per-sequence stop: True once the generated text (after leading whitespace) contains a stop string."""

    def __init__(self, tokenizer, prompt_len: int, stop: list[str]):
        self.tokenizer, self.prompt_len, self.stop = tokenizer, prompt_len, [s for s in stop if s]

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len :], skip_special_tokens=True)
        done = [any(s in t.lstrip() for s in self.stop) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int
    stop: list[str]
    batch_size: int = 8
    precision: str = "auto"


def _autocast(precision: str):
    if precision == "bf16":
        return torch.autocast("cpu" if not torch.cuda.is_available() else "cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def generate_batch(model, tokenizer, chats: list[str], settings: GenerationSettings) -> list[str]:
    """Greedy continuations of already-templated ``chats`` in one padded batch (raw text, special tokens dropped)."""
    enc = tokenizer(chats, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    prompt_len = enc["input_ids"].shape[1]
    with _autocast(resolve_precision(settings.precision)):
        out = model.generate(
            **enc,
            do_sample=False,
            max_new_tokens=settings.max_new_tokens,
            stopping_criteria=StoppingCriteriaList([StopOnStrings(tokenizer, prompt_len, settings.stop)]),
            pad_token_id=tokenizer.pad_token_id,
        )
    return tokenizer.batch_decode(out[:, prompt_len:], skip_special_tokens=True)


def generate_answers(
    model,
    tokenizer,
    prompts: list[str],
    settings: GenerationSettings,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Answers for user messages ``prompts`` in input order; batches are formed longest-first to limit padding."""
    chats = [render_chat(tokenizer, p) for p in prompts]
    lengths = [len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in chats]
    order = sorted(range(len(chats)), key=lambda i: -lengths[i])
    answers: list[str] = [""] * len(chats)
    for start in range(0, len(order), settings.batch_size):
        idx = order[start : start + settings.batch_size]
        raw = generate_batch(model, tokenizer, [chats[i] for i in idx], settings)
        for i, text in zip(idx, raw, strict=True):
            answers[i] = truncate_at_stop(text, settings.stop)
        if progress:
            progress(len(idx))
    return answers
