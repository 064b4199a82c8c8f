"""This CPU's limit for the model's own work, measured in the same run as the figure it is compared with.

A tokens/s figure means nothing across machines (an Intel Xeon with AMX runs bf16 matmuls at 1.7-3.0 TFLOP/s, an
AVX2-only AMD EPYC at ~0.05 fp32 TFLOP/s under load), so every benchmark here divides its figure by a limit measured
by the same command: two probes at the model's shapes, read from its config, in the precision the measured path uses,

- the matmul rate of one decoder layer's linear layers (q, k, v, o, gate, up, down) for M tokens: forward only
  (prefill), or forward + both backward GEMMs (training);
- the causal SDPA rate at the sequence length and batch of the measured work (forward, or forward + backward);

and the FLOP arithmetic of a training step or a prompt's prefill, which those rates turn into seconds. The limit
is the work the step must do at the rates the kernels reach here; a figure's ratio to it says how much of the
machine the code uses.

    .venv/bin/python -c "from infra.compute_limit import *; print(measure_limit(ModelShape(576, 1536, 9, 3, 64, \
30, 49152), tokens=2048, seq_len=512, batch=4, backward=True))"
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from infra.machine import cpu_model_name, cpu_supports_bf16


@dataclass(frozen=True)
class ModelShape:
    """The decoder shapes that decide the FLOPs (a Llama-style model: GQA attention, gated MLP)."""

    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    layers: int
    vocab: int

    def __post_init__(self) -> None:
        for name in ("hidden", "intermediate", "heads", "kv_heads", "head_dim", "layers", "vocab"):
            if getattr(self, name) < 1:
                raise ValueError(f"ModelShape.{name}={getattr(self, name)} must be >= 1; read it from the config")
        if self.heads % self.kv_heads:
            raise ValueError(f"ModelShape.heads={self.heads} is not a multiple of kv_heads={self.kv_heads}")

    @classmethod
    def from_config(cls, config) -> ModelShape:
        """From a transformers config (``AutoConfig.from_pretrained(folder)`` or ``model.config``)."""
        heads = config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        return cls(
            config.hidden_size,
            config.intermediate_size,
            heads,
            kv_heads,
            head_dim,
            config.num_hidden_layers,
            config.vocab_size,
        )

    def linear_shapes(self) -> tuple[tuple[int, int], ...]:
        """(in, out) of one layer's linears: q, k, v, o projections, then the MLP's gate, up and down."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return ((h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h))

    def matmul_params(self) -> int:
        """Weights every token multiplies through: all layers' linears (the embedding is a lookup, the LM head is
        counted apart because the compact head runs it on labelled positions only). SmolLM2-135M: 30 x 3,538,944."""
        return self.layers * sum(a * b for a, b in self.linear_shapes())


# --- FLOP arithmetic (pure) ------------------------------------------------------------------------------------------


def attention_flops(shape: ModelShape, seq_len: int) -> int:
    """Forward FLOPs of causal attention over one sequence, all layers.

    Query i attends to keys 0..i: S(S+1)/2 (query, key) pairs per head. Each pair costs head_dim multiply-adds in QK^T
    and head_dim in PV, i.e. 4 x head_dim FLOPs, so a layer is heads x 4d x S(S+1)/2 = 2 heads d S(S+1). GQA shares
    K/V between heads but not this work. SmolLM2-135M at S = 3,000: 2 x 9 x 64 x 3,000 x 3,001 = 10.4 GFLOP a layer.
    """
    return 2 * shape.heads * shape.head_dim * seq_len * (seq_len + 1) * shape.layers


def lm_head_flops(shape: ModelShape, rows: int) -> int:
    """Forward FLOPs of the LM head over ``rows`` positions: 2 x hidden x vocab each (576 x 49,152: 57 MFLOP)."""
    return 2 * shape.hidden * shape.vocab * rows


@dataclass(frozen=True)
class Work:
    """FLOPs of a piece of work, split by the kernel that runs them (each has its own measured rate)."""

    matmul: int
    attention: int

    @property
    def total(self) -> int:
        return self.matmul + self.attention


def train_step_work(shape: ModelShape, seq_lens: list[int], labelled: int) -> Work:
    """FLOPs of one optimizer step over sequences of ``seq_lens`` real tokens with ``labelled`` loss positions.

    Linears: forward 2N per token (N = matmul_params, one multiply-add per weight), backward 4N (the input's gradient
    dX = dY W and the weight's dW = dY^T X, 2N each): 6N per token. The LM head the same 6 x hidden x vocab per row,
    but only on labelled rows, as training/cpu_speed.py's compact head runs it. Attention: the forward above plus a
    backward of 2x it (dP = dO V^T, dV = P^T dO, dQ = dS K, dK = dS^T Q: four matmuls where the forward has two;
    a flash kernel's recomputation of P is its choice, not work the step needs). The optimizer's ~12 FLOPs per
    parameter (135M: 1.6 GFLOP, <0.1% of the step) is memory-bound and left out.
    Recipe step, 4 x 530 tokens, 80 labelled (SmolLM2-135M): linears 6 x 106.2M x 2,120 = 1.351 TFLOP, LM head
    6 x 28.3M x 80 = 0.014 TFLOP, attention 3 x 4 x 9.73 GFLOP = 0.117 TFLOP: 1.48 TFLOP a step.
    """
    matmul = 6 * shape.matmul_params() * sum(seq_lens) + 3 * lm_head_flops(shape, labelled)
    return Work(matmul=matmul, attention=3 * sum(attention_flops(shape, s) for s in seq_lens))


def prefill_work(shape: ModelShape, prompt_lens: list[int]) -> Work:
    """Forward FLOPs of reading the prompts: 2N per token, one LM-head row per prompt (generate keeps only the last
    position's logits), causal attention over each prompt. Decoding the answer's few tokens is memory-bound (every
    weight read per token) and not counted: an eval figure includes it, so its ratio to this limit stays below 1."""
    matmul = 2 * shape.matmul_params() * sum(prompt_lens) + lm_head_flops(shape, len(prompt_lens))
    return Work(matmul=matmul, attention=sum(attention_flops(shape, s) for s in prompt_lens))


# --- probes -------------------------------------------------------------------------------------------------------


def probe_dtype(precision: str = "auto") -> tuple[torch.dtype, str]:
    """The dtype a path computes in and its label: ``auto`` is bf16 where oneDNN has native bf16 kernels
    (AVX512-BF16 / AMX), fp32 elsewhere, where bf16 is emulated and ~50x slower (0.001 vs 0.05 TFLOP/s, AVX2 EPYC)."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision={precision!r}; use one of auto, bf16, fp32")
    if precision == "auto":
        precision = "bf16" if cpu_supports_bf16() else "fp32"
    if precision == "bf16":
        native = "native" if cpu_supports_bf16() else "EMULATED: no AVX512-BF16/AMX"
        return torch.bfloat16, f"bf16 ({native})"
    return torch.float32, "fp32"


def median_seconds(fn: Callable[[], object], reps: int, warmup: int) -> float:
    """Median wall time of ``fn`` over ``reps`` calls after ``warmup`` untimed ones (allocator, oneDNN primitive
    selection); the median, because the other engineers' jobs on a shared machine make single calls jump."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def layer_matmul_seconds(shape: ModelShape, tokens: int, dtype: torch.dtype, backward: bool, reps: int, warmup: int):
    """(seconds, FLOPs) of one layer's seven linears over ``tokens`` rows: X W^T forward, and with ``backward`` the
    dX and dW GEMMs too (3 GEMMs of 2 M in out FLOPs each per linear)."""
    gen = torch.Generator().manual_seed(0)
    pairs = [
        (torch.randn(tokens, i, generator=gen, dtype=dtype), torch.randn(o, i, generator=gen, dtype=dtype) * 0.02)
        for i, o in shape.linear_shapes()
    ]
    flops = (3 if backward else 1) * sum(2 * tokens * i * o for i, o in shape.linear_shapes())
    if backward:
        for x, w in pairs:
            x.requires_grad_(True)
            w.requires_grad_(True)
        grads = [torch.randn(tokens, w.shape[0], generator=gen, dtype=dtype) for _, w in pairs]

        def run():
            for (x, w), g in zip(pairs, grads, strict=True):
                (x @ w.T).backward(g)
                x.grad = w.grad = None
    else:

        @torch.inference_mode()
        def run():
            for x, w in pairs:
                x @ w.T

    return median_seconds(run, reps, warmup), flops


def layer_attention_seconds(
    shape: ModelShape, seq_len: int, batch: int, dtype: torch.dtype, backward: bool, reps: int, warmup: int
):
    """(seconds, FLOPs) of one layer's causal SDPA over ``batch`` sequences of ``seq_len``, with GQA K/V as the
    model's (transformers passes ``enable_gqa`` when there is no padding mask)."""
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(batch, shape.heads, seq_len, shape.head_dim, generator=gen, dtype=dtype)
    k, v = (torch.randn(batch, shape.kv_heads, seq_len, shape.head_dim, generator=gen, dtype=dtype) for _ in "kv")
    gqa = shape.kv_heads != shape.heads
    one_layer = ModelShape(shape.hidden, shape.intermediate, shape.heads, shape.kv_heads, shape.head_dim, 1, 1)
    flops = (3 if backward else 1) * batch * attention_flops(one_layer, seq_len)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    if backward:
        for t in (q, k, v):
            t.requires_grad_(True)
        grad = torch.randn(batch, shape.heads, seq_len, shape.head_dim, generator=gen, dtype=dtype)

        def run():
            sdpa(q, k, v, is_causal=True, enable_gqa=gqa).backward(grad)
            q.grad = k.grad = v.grad = None
    else:

        @torch.inference_mode()
        def run():
            sdpa(q, k, v, is_causal=True, enable_gqa=gqa)

    return median_seconds(run, reps, warmup), flops


@dataclass(frozen=True)
class ComputeLimit:
    """Rates measured here, now, at the model's shapes; ``seconds_for`` turns a piece of Work into its floor."""

    cpu: str
    threads: int
    path: str  # e.g. "fp32" or "bf16 (native)": the precision both probes ran in
    backward: bool  # training probes (forward + backward GEMMs) or prefill probes (forward only)
    matmul_tflops: float
    attention_tflops: float
    matmul_tokens: int  # M of the matmul probe
    attention_seq_len: int
    attention_batch: int
    probe_seconds: float  # wall time the probes took, warm-up included

    def seconds_for(self, work: Work) -> float:
        return work.matmul / (self.matmul_tflops * 1e12) + work.attention / (self.attention_tflops * 1e12)

    def describe(self) -> str:
        kind = "fwd+bwd" if self.backward else "fwd"
        return (
            f"limit ({self.path}, {kind}): matmul {self.matmul_tflops:.3g} TFLOP/s at M={self.matmul_tokens}, "
            f"causal SDPA {self.attention_tflops:.3g} TFLOP/s at {self.attention_batch} x {self.attention_seq_len} "
            f"tokens (probes {self.probe_seconds:.1f} s) [CPU: {self.cpu}, {self.threads} threads]"
        )

    def as_json(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def best_of(limits: list[ComputeLimit]) -> ComputeLimit:
    """The fastest rates seen over several probes of the same path (e.g. one before and one after a 10-minute run).

    On a shared machine one probe can land in a burst of other jobs and sit below what the run itself got (a share
    above 100%); the best rate seen is the closer estimate of the limit, so a share against it errs low, not high."""
    if len({(lim.path, lim.backward, lim.cpu) for lim in limits}) != 1:
        raise ValueError("best_of combines probes of one CPU, precision path and direction only")
    matmul = max(lim.matmul_tflops for lim in limits)
    attention = max(lim.attention_tflops for lim in limits)
    seconds = sum(lim.probe_seconds for lim in limits)
    return replace(limits[0], matmul_tflops=matmul, attention_tflops=attention, probe_seconds=seconds)


def measure_limit(
    shape: ModelShape,
    tokens: int,
    seq_len: int,
    batch: int = 1,
    backward: bool = False,
    precision: str = "auto",
    reps: int = 3,
    warmup: int = 1,
) -> ComputeLimit:
    """Both probes in ``precision`` (``auto``: the path this CPU's training and evaluation take, see probe_dtype)."""
    if min(tokens, seq_len, batch, reps) < 1 or warmup < 0:
        raise ValueError(f"tokens={tokens}, seq_len={seq_len}, batch={batch}, reps={reps} must be >= 1")
    dtype, path = probe_dtype(precision)
    start = time.perf_counter()
    mm_s, mm_flops = layer_matmul_seconds(shape, tokens, dtype, backward, reps, warmup)
    at_s, at_flops = layer_attention_seconds(shape, seq_len, batch, dtype, backward, reps, warmup)
    rates = (mm_flops / mm_s / 1e12, at_flops / at_s / 1e12)
    if not all(math.isfinite(r) and r > 0 for r in rates):
        raise RuntimeError(f"probe rates {rates} are not positive: the timer or the kernels misbehaved")
    return ComputeLimit(
        cpu_model_name(),
        torch.get_num_threads(),
        path,
        backward,
        *rates,
        tokens,
        seq_len,
        batch,
        time.perf_counter() - start,
    )
