"""Greedy, batched generation with the model's own chat template (the one training uses).

Prompts are sorted by length and batched with left padding so each batch pads little; a sequence stops at
EOS or at the first stop string found after its leading whitespace (a chat model may open with a newline,
which must not end the answer).

Where the model runs (``--device auto|cpu|cuda``, see ``resolve_placement``): on a GPU the weights load in bf16 with
``device_map="auto"``, which puts a model that fits on one GPU there and spreads a larger one over every visible GPU
(a 7B model is 14.5 GB in bf16, 29 GB in fp32). On a CPU with native bf16 (AVX512-BF16 / AMX) the weights load in bf16
too, else in fp32. bf16 weights rather than fp32 weights under bf16 autocast: decoding reads every weight once per new
token, and autocast re-casts fp32 weights on every step, so bf16 weights decode 2.3x faster (88 vs 208 ms per step,
5 x 3K-token prompts, SmolLM2-135M, 2 Intel Xeon cores with AMX; `make bench-eval` measures the suites).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList

from infra.machine import cpu_supports_bf16
from infra.model_folder import check_model

PRECISIONS = ("auto", "bf16", "fp32")
# At most this many padded prompt tokens per generate call: 64 closed-book questions (~60 tokens) fit in one call, but
# only two 3K-token MDQA prompts, whose attention and KV cache grow with batch x length. 8,192 ran 20-25% faster than
# 16,384 in bf16 (mdqa_20docs 0.56 vs 0.44 prompts/s, synthetic_kv_ood 2.0 vs 1.5; 2 Intel Xeon cores with AMX):
# past a few thousand tokens per call, prefill slows down.
MAX_BATCH_TOKENS = 8192
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, cuda_available: bool | None = None) -> str:
    """``auto`` is the GPU when torch sees one; asking for ``cuda`` without one is an error, not a silent CPU run."""
    cuda_available = torch.cuda.is_available() if cuda_available is None else cuda_available
    if device not in DEVICES:
        raise ValueError(f"device={device!r}; use one of {', '.join(DEVICES)}")
    if device == "cuda" and not cuda_available:
        raise ValueError("device=cuda but torch sees no GPU (torch.cuda.is_available() is False); use --device cpu")
    if device == "auto":
        return "cuda" if cuda_available else "cpu"
    return device


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """``auto``: bf16 on a GPU and on CPUs with native bf16 kernels, fp32 elsewhere (emulated bf16 is slower)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if device == "cuda" or cpu_supports_bf16() else "fp32"
    return precision


@dataclass(frozen=True)
class Placement:
    """How a model is loaded: the ``from_pretrained`` dtype and device map."""

    device: str  # "cpu" or "cuda": where the inputs go (with a device map, the first layer's GPU)
    dtype: str  # weights dtype passed to from_pretrained
    device_map: str | None  # "auto": one GPU if the model fits, else layers spread over every visible GPU

    @property
    def precision(self) -> str:
        return "bf16" if self.dtype == "bfloat16" else "fp32"

    def load_kwargs(self) -> dict:
        return {"dtype": self.dtype, **({"device_map": self.device_map} if self.device_map else {})}


def resolve_placement(device: str, precision: str, cuda_available: bool | None = None) -> Placement:
    device = resolve_device(device, cuda_available)
    precision = resolve_precision(precision, device)
    dtype = "bfloat16" if precision == "bf16" else "float32"
    return Placement("cuda", dtype, "auto") if device == "cuda" else Placement("cpu", dtype, None)


def load_model(model: str, placement: Placement | None = None):
    """A model folder / Hub id, a LoRA adapter folder (PEFT loads its base), or a ``.gguf`` file (dequantised by
    transformers) for the embedded model; placed as ``placement`` says (default: this machine's ``auto``)."""
    placement = placement or resolve_placement("auto", "auto")
    kwargs = {}
    path = Path(model)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} not found")
        model, kwargs = str(path.parent), {"gguf_file": path.name}
    else:
        check_model(model)  # a folder that is not a model gets its own error, not the tokenizer's misleading one
    tokenizer = AutoTokenizer.from_pretrained(model, **kwargs)
    lm = AutoModelForCausalLM.from_pretrained(model, **kwargs, **placement.load_kwargs())
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
    """The raw answer up to the first stop string after its leading whitespace, trailing whitespace dropped.

    Leading whitespace is kept: Liu et al. score the first line of the raw response, so an answer that opens with a
    newline has an empty first line there (the metric decides, see evaluation.metrics.first_line). Generation still
    runs past that newline, to the next stop, so a lenient reader finds the answer after it.
    """
    lead = len(text) - len(text.lstrip())
    body = text[lead:]
    cut = min((i for i in (body.find(s) for s in stop if s) if i >= 0), default=len(body))
    return (text[:lead] + body[:cut]).rstrip()


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
    batch_size: int = 8  # at most this many prompts per generate call
    max_batch_tokens: int = MAX_BATCH_TOKENS


@torch.inference_mode()
def generate_batch(model, tokenizer, chats: list[str], settings: GenerationSettings) -> list[str]:
    """Greedy continuations of already-templated ``chats`` in one padded batch (raw text, special tokens dropped)."""
    enc = tokenizer(chats, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    prompt_len = enc["input_ids"].shape[1]
    out = model.generate(
        **enc,
        do_sample=False,
        max_new_tokens=settings.max_new_tokens,
        stopping_criteria=StoppingCriteriaList([StopOnStrings(tokenizer, prompt_len, settings.stop)]),
        pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer.batch_decode(out[:, prompt_len:], skip_special_tokens=True)


def plan_batches(lengths: list[int], batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Prompt indices grouped longest-first into batches of at most ``batch_size`` prompts and ``max_batch_tokens``
    padded tokens (count x longest); a prompt longer than the token budget still gets a batch of its own."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        batch = batches[-1] if batches else []
        if batch and len(batch) < batch_size and (len(batch) + 1) * lengths[batch[0]] <= max_batch_tokens:
            batch.append(i)
        else:
            batches.append([i])
    return batches


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
    answers: list[str] = [""] * len(chats)
    for idx in plan_batches(lengths, settings.batch_size, settings.max_batch_tokens):
        raw = generate_batch(model, tokenizer, [chats[i] for i in idx], settings)
        for i, text in zip(idx, raw, strict=True):
            answers[i] = truncate_at_stop(text, settings.stop)
        if progress:
            progress(len(idx))
    return answers
