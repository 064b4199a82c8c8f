"""The benchmarks' limits: training tokens/s and prefill prompts/s limits are the timed work at the measured rates,
probed at the shape the timed path runs; bad bench flags are one-line errors."""

from __future__ import annotations

import pytest
import torch

from infra.compute_limit import ComputeLimit, ModelShape, prefill_work, train_step_work

TINY = ModelShape(hidden=8, intermediate=16, heads=2, kv_heads=1, head_dim=4, layers=2, vocab=10)


def test_training_limit_is_real_tokens_over_the_steps_floor():
    from training.bench import limit_tokens_per_s

    # one step: rows of 3 and 5 real tokens (right-padded to 5), answers at positions 2 and 4: 2 labelled rows after
    # the shift (position t predicts token t+1), as TRL's compact LM head scores them
    batch = {
        "attention_mask": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]),
        "labels": torch.tensor([[-100, -100, 5, -100, -100], [-100, -100, -100, -100, 6]]),
    }
    work = train_step_work(
        TINY, [3, 5], labelled=2
    )  # 56,256 matmul + 4,032 attention FLOPs (tests/test_compute_limit)
    # rates chosen so each part takes 1 s: 2 s for the step's 8 real tokens
    limit = ComputeLimit("cpu", 2, "fp32", True, work.matmul / 1e12, work.attention / 1e12, 8, 4, 2, 0.0)
    assert limit_tokens_per_s(TINY, [batch, batch], limit) == pytest.approx(16 / 4.0)


def test_prefill_limit_is_probed_at_the_batched_calls_shape():
    from tiny_model import tiny_llama_config
    from transformers import LlamaForCausalLM

    from evaluation.bench import prefill_limit, prefill_probe
    from evaluation.generation import GenerationSettings

    model = LlamaForCausalLM(tiny_llama_config(100))
    lengths = [10, 8, 6, 4]
    settings = GenerationSettings(max_new_tokens=4, stop=[], batch_size=2, max_batch_tokens=1000)
    limit = prefill_probe(model, lengths, settings, "fp32")
    rate, _ = prefill_limit(model, lengths, limit)
    # longest-first batches [10, 8] and [6, 4]: 2 x 10 and 2 x 6 padded tokens, 16 a call on average
    assert (limit.matmul_tokens, limit.attention_seq_len, limit.attention_batch) == (16, 7, 2)
    assert limit.path == "fp32" and not limit.backward
    shape = ModelShape.from_config(model.config)
    assert rate == pytest.approx(4 / limit.seconds_for(prefill_work(shape, lengths)))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--steps", "0"], "error: --steps=0: time at least 1 step"),
        (["--warmup", "0"], "error: --warmup=0: give at least 1 untimed step"),
    ],
)
def test_bad_training_bench_flags_are_one_line_errors(flags, message, capsys):
    from training import bench

    assert bench.main(["--config", "unused.yaml", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_training_bench_report_path_is_checked_before_training(tmp_path, capsys):
    from training import bench

    (tmp_path / "file").write_text("")
    assert bench.main(["--config", "unused.yaml", "--out", str(tmp_path / "file" / "b.json")]) == 2
    assert "is inside" in capsys.readouterr().err
