"""What makes SFT fast on a CPU: bf16 autocast where the CPU has bf16 instructions, and an LM head that scores only
the positions that carry loss.

Measured by ``python -m training.bench`` (``make bench-train``); used by ``training/sft.py`` for every recipe.

1. bf16 autocast. ``SFTConfig(bf16=True, use_cpu=True)`` makes accelerate run the forward under
   ``torch.autocast("cpu", dtype=torch.bfloat16)``; the weights and the optimizer stay fp32. oneDNN runs bf16 matmuls
   natively only with AVX512-BF16 or AMX; elsewhere bf16 is emulated and slower than fp32, so we fall back to fp32
   with a printed notice instead of silently running slower.
2. Compact LM head. TRL's SFTTrainer computes the loss through a fused, chunked LM head that never materialises the
   ``(batch, seq, 49,152)`` logits. On CUDA it projects only the positions whose label is not -100; elsewhere it
   projects every position (a fixed shape avoids recompiles on XLA/Neuron), and on CPU its torch fallback then runs
   several fp32 passes over every ``tokens x 49,152`` tile, forward and backward. A KV-retrieval answer is ~25 of
   ~530 tokens, so that is ~20x more LM-head work than needed. Measured by ``make bench-train`` on 2 AMD EPYC cores:
   16.1 s per step of 4 x 528 tokens with every position scored, 7.4 s with only the answer (bf16 in both). Eager CPU
   code does not recompile, so the compact path is safe there; we enable it by widening TRL's device test to "cpu".
"""

from __future__ import annotations

import torch

from infra.machine import cpu_model_name, cpu_supports_bf16  # noqa: F401  (re-exported for callers)


def settle_cpu_precision(args) -> None:
    """Turn a recipe's ``bf16: true`` off, with a notice, when training on a CPU without native bf16."""
    on_cpu = args.use_cpu or not torch.cuda.is_available()
    if args.bf16 and on_cpu and not cpu_supports_bf16():
        print(f"notice: {cpu_model_name()} has no native bf16 (AVX512-BF16/AMX); training in fp32 instead of bf16")
        args.bf16 = False
        args.mixed_precision = "no"  # TrainingArguments copied bf16 into this in __post_init__


def score_only_labelled_positions(enabled: bool = True) -> None:
    """Make TRL's fused LM head project only labelled positions on CPU too (see the module docstring, point 2).

    TRL decides "compact or every position" with ``trl.trainer.utils._use_triton(device)`` (CUDA/XPU with Triton).
    The chunked log-prob kernel keeps its own reference to that function, so it still uses its torch fallback on
    CPU; only the choice of rows changes. ``enabled=False`` restores TRL's behaviour (the benchmark compares both).
    """
    import trl.trainer.utils as trl_utils

    trl_original = getattr(trl_utils._use_triton, "trl_original", trl_utils._use_triton)
    if not enabled:
        trl_utils._use_triton = trl_original
        return

    def use_compact_rows(device: torch.device) -> bool:
        return device.type == "cpu" or trl_original(device)

    use_compact_rows.trl_original = trl_original
    trl_utils._use_triton = use_compact_rows
