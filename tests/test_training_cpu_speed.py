"""training/cpu_speed.py: the answer-only LM head gives the same loss and gradients as full logits; bf16 fallback."""

from __future__ import annotations

import pytest
import torch

from training import cpu_speed


def tiny_llama():
    from tiny_model import tiny_llama_config
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(tiny_llama_config(1000, tie_word_embeddings=True))


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_compact_lm_head_matches_full_logits_on_cpu(monkeypatch):
    import trl.trainer.utils as trl_utils
    from trl.trainer.utils import add_fused_lm_head

    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)  # restore TRL's function after the test
    model = tiny_llama()
    input_ids = torch.randint(0, 1000, (2, 40))
    labels = input_ids.clone()
    labels[:, :30] = -100  # a prompt of 30 tokens, an "answer" of 10

    reference = model(input_ids=input_ids, labels=labels).loss
    reference.backward()
    reference_grad = model.model.layers[0].self_attn.q_proj.weight.grad.clone()
    model.zero_grad()

    add_fused_lm_head(model, outputs=("log_probs",))
    seen_rows = []
    original_apply = trl_utils._ChunkedLogProbFunction.apply

    def recording_apply(hidden, *args):
        seen_rows.append(hidden.shape[0])
        return original_apply(hidden, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", recording_apply)
    cpu_speed.score_only_labelled_positions()
    fused = model(input_ids=input_ids, labels=labels, fused_lm_head=True).loss
    fused.backward()

    # 2 sequences x 10 labelled next-token positions, instead of 2 x 39 shifted positions
    assert seen_rows == [20]
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        model.model.layers[0].self_attn.q_proj.weight.grad, reference_grad, rtol=1e-4, atol=1e-6
    )

    cpu_speed.score_only_labelled_positions(False)
    assert trl_utils._use_triton(torch.device("cpu")) is False  # TRL's own rule is back


def test_bf16_falls_back_to_fp32_with_a_notice(monkeypatch, capsys):
    class Args:
        bf16, use_cpu, mixed_precision = True, True, "bf16"

    monkeypatch.setattr(cpu_speed, "cpu_supports_bf16", lambda: False)
    args = Args()
    cpu_speed.settle_cpu_precision(args)
    assert (args.bf16, args.mixed_precision) == (False, "no")
    assert "training in fp32" in capsys.readouterr().out

    monkeypatch.setattr(cpu_speed, "cpu_supports_bf16", lambda: True)
    args = Args()
    cpu_speed.settle_cpu_precision(args)
    assert (args.bf16, args.mixed_precision) == (True, "bf16")


def test_cpu_model_name_is_reported():
    name = cpu_speed.cpu_model_name()
    assert name and name != "unknown CPU"


def test_the_cpu_is_named_with_its_family_and_model_so_two_masked_machines_differ():
    """A hypervisor's generic "AMD EPYC" covered a Zen 1 machine and one twice as fast: the numbers tell them apart."""
    from infra.machine import describe_cpu

    lscpu = "Vendor ID:   AuthenticAMD\nModel name:  AMD EPYC\nCPU family:  23\nModel:       1\nStepping: 2\n"
    assert describe_cpu(lscpu, "Model name", "CPU family", "Model") == "AMD EPYC (family 23, model 1)"
    cpuinfo = "processor\t: 0\ncpu family\t: 6\nmodel\t\t: 143\nmodel name\t: Intel(R) Xeon(R) Processor\n" * 2
    intel = "Intel(R) Xeon(R) Processor (family 6, model 143)"
    assert describe_cpu(cpuinfo, "model name", "cpu family", "model") == intel
    assert describe_cpu("Model name: Apple M2\n", "Model name", "CPU family", "Model") == "Apple M2", "no numbers"
    assert describe_cpu("CPU family: 23\n", "Model name", "CPU family", "Model") is None
