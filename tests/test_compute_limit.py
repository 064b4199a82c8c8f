"""infra/compute_limit.py: the FLOP arithmetic on hand-counted numbers, the shapes read from a real config, and
probes that return usable rates in the precision this CPU's path takes."""

from __future__ import annotations

import math

import pytest
import torch

from infra import compute_limit
from infra.compute_limit import ModelShape, Work, attention_flops, measure_limit, prefill_work, train_step_work

# hidden 8, intermediate 16, 2 query heads sharing 1 KV head of dim 4, 2 layers, vocab 10.
TINY = ModelShape(hidden=8, intermediate=16, heads=2, kv_heads=1, head_dim=4, layers=2, vocab=10)


def test_matmul_params_counted_by_hand():
    # q 8x8=64, k 8x4=32, v 32, o 64, gate 8x16=128, up 128, down 128: 576 a layer, 2 layers
    assert TINY.matmul_params() == 1152


def test_matmul_params_match_the_models_own_linear_weights():
    """from_config reads the right fields: the count equals every decoder nn.Linear weight of a real Llama."""
    from tiny_model import tiny_llama_config
    from transformers import LlamaForCausalLM

    config = tiny_llama_config(100, head_dim=16)  # head_dim != hidden / heads (32 / 4): read, not derived
    model = LlamaForCausalLM(config)
    linears = sum(m.weight.numel() for m in model.model.layers.modules() if isinstance(m, torch.nn.Linear))
    shape = ModelShape.from_config(config)
    assert (shape.head_dim, shape.kv_heads, shape.vocab) == (16, 2, 100)
    assert shape.matmul_params() == linears


def test_causal_attention_flops_count_the_lower_triangle():
    # S = 3: 6 (query, key) pairs per head; 4 x head_dim = 16 FLOPs each; 2 heads, 2 layers: 6 x 16 x 2 x 2
    assert attention_flops(TINY, 3) == 384
    pairs = int(torch.ones(7, 7).tril().sum())  # what a causal mask lets through
    assert attention_flops(TINY, 7) == pairs * 4 * TINY.head_dim * TINY.heads * TINY.layers


def test_training_step_work_by_hand():
    # two sequences of 3 and 5 tokens, 2 labelled positions
    work = train_step_work(TINY, [3, 5], labelled=2)
    # linears 6 x 1152 x 8 tokens = 55,296; LM head fwd 2 x 8 x 10 x 2 rows = 320, x3 with backward = 960
    assert work.matmul == 55_296 + 960
    # attention forward 384 (S=3) + 960 (S=5: 2 x 2 x 4 x 5 x 6 x 2), x3 with backward
    assert work.attention == 3 * (384 + 960)


def test_training_step_work_of_the_cpu_recipe():
    """SmolLM2-135M, 4 x 530 tokens, 80 labelled: the ~1.5 TFLOP a step the issue quotes."""
    smollm2 = ModelShape(576, 1536, 9, 3, 64, 30, 49152)
    assert smollm2.matmul_params() == 30 * 3_538_944
    work = train_step_work(smollm2, [530] * 4, labelled=80)
    assert work.total == pytest.approx(1.48e12, rel=0.01)


def test_prefill_work_by_hand():
    # 2 x 1152 x 8 tokens + one LM-head row per prompt (2 x 8 x 10 x 2); forward attention only
    assert prefill_work(TINY, [3, 5]) == Work(matmul=18_432 + 320, attention=384 + 960)


def test_limit_turns_work_into_seconds_at_the_measured_rates():
    limit = compute_limit.ComputeLimit("cpu", 2, "fp32", True, 1.0, 0.5, 64, 64, 1, 0.1)
    assert limit.seconds_for(Work(matmul=2 * 10**12, attention=10**12)) == pytest.approx(2.0 + 2.0)


def test_best_of_keeps_the_fastest_rate_of_each_kernel():
    before = compute_limit.ComputeLimit("cpu", 2, "fp32", True, 0.02, 0.010, 64, 64, 1, 3.0)
    after = compute_limit.ComputeLimit("cpu", 2, "fp32", True, 0.03, 0.008, 64, 64, 1, 4.0)
    best = compute_limit.best_of([before, after])
    assert (best.matmul_tflops, best.attention_tflops, best.probe_seconds) == (0.03, 0.010, 7.0)
    with pytest.raises(ValueError, match="one CPU, precision path and direction"):
        compute_limit.best_of([before, compute_limit.ComputeLimit("cpu", 2, "bf16 (native)", True, 1, 1, 1, 1, 1, 1)])


def test_bad_shape_names_the_field():
    with pytest.raises(ValueError, match=r"ModelShape.layers=0 must be >= 1"):
        ModelShape(8, 16, 2, 1, 4, 0, 10)
    with pytest.raises(ValueError, match=r"heads=3 is not a multiple of kv_heads=2"):
        ModelShape(8, 16, 3, 2, 4, 1, 10)


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_probe_rates_are_positive_and_labelled_with_this_cpus_path(backward):
    limit = measure_limit(TINY, tokens=32, seq_len=16, batch=2, backward=backward, reps=2)
    assert all(math.isfinite(r) and r > 0 for r in (limit.matmul_tflops, limit.attention_tflops))
    expected = "bf16 (native)" if compute_limit.cpu_supports_bf16() else "fp32"
    assert limit.path == expected and limit.backward is backward
    assert limit.cpu == compute_limit.cpu_model_name() and limit.threads == torch.get_num_threads()
    assert set(limit.as_json()) >= {"cpu", "path", "matmul_tflops", "attention_tflops", "probe_seconds"}


def test_probe_dtype_follows_native_bf16(monkeypatch):
    monkeypatch.setattr(compute_limit, "cpu_supports_bf16", lambda: False)
    assert compute_limit.probe_dtype() == (torch.float32, "fp32")
    assert compute_limit.probe_dtype("bf16") == (torch.bfloat16, "bf16 (EMULATED: no AVX512-BF16/AMX)")
    monkeypatch.setattr(compute_limit, "cpu_supports_bf16", lambda: True)
    assert compute_limit.probe_dtype() == (torch.bfloat16, "bf16 (native)")
    assert compute_limit.probe_dtype("fp32") == (torch.float32, "fp32")
