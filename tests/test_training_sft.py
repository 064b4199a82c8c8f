"""training/sft.py end to end on a tiny random Llama: answer-only masking, the loss goes down, resume, bad input.

Everything is generated in tmp dirs (the tokenizer comes from the embedded SmolLM2 GGUF); nothing reads build/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fixture_data import CONFIG, kill_run_at, recipe_args, synthetic_kv_rows

from training import sft

pytestmark = pytest.mark.integration  # every test here trains, launches or converts a model


def make_trainer(argv: list[str]):
    data_args, training_args, model_args = sft.parse_recipe(argv)
    return sft.build_trainer(data_args, training_args, model_args, sft.load_sft_dataset(data_args))


def test_collated_batch_masks_prompt_and_keeps_answer(tiny_model, tiny_dataset, tmp_path):
    trainer = make_trainer(recipe_args(tiny_model, tiny_dataset, tmp_path / "out"))
    tokenizer = trainer.processing_class
    rows = [trainer.train_dataset[i] for i in range(4)]
    batch = trainer.data_collator(rows)
    answers = [r["completion"][0]["content"] for r in synthetic_kv_rows(16, seed=0)[:4]]
    for input_ids, labels, answer in zip(batch["input_ids"], batch["labels"], answers, strict=True):
        kept = (labels != -100).nonzero().flatten()
        # One contiguous span, right after the prompt: the assistant answer, then the end-of-turn token.
        assert kept.numel() > 0 and torch.equal(kept, torch.arange(kept[0], kept[-1] + 1))
        assert torch.equal(labels[kept], input_ids[kept])
        assert tokenizer.decode(input_ids[kept]) == answer + "<|im_end|>\n"
        prompt = tokenizer.decode(input_ids[: kept[0]])
        assert prompt.endswith("<|im_start|>assistant\n") and "Report the value of key" in prompt
        assert (labels[: kept[0]] == -100).all()


def test_training_lowers_loss_on_fixed_batch(tiny_model, tiny_dataset, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "out"
    trainer = make_trainer(recipe_args(tiny_model, tiny_dataset, out))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(8)])
    batch = {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}

    def answer_loss(folder: Path) -> float:
        model = AutoModelForCausalLM.from_pretrained(folder)
        with torch.no_grad():
            return model(**batch).loss.item()

    before = answer_loss(tiny_model)
    assert sft.main(recipe_args(tiny_model, tiny_dataset, out)) == 0
    after = answer_loss(out)
    assert after < before - 1.0, f"answer loss {before:.2f} -> {after:.2f}"
    # The folder is a Hub repo: weights, tokenizer with the chat template, README, loss log; no checkpoints.
    assert {"model.safetensors", "tokenizer.json", "README.md", "trainer_state.json"} <= {
        p.name for p in out.iterdir()
    }
    assert (out / "chat_template.jinja").is_file() or "chat_template" in (out / "tokenizer_config.json").read_text()
    assert not list(out.glob("checkpoint-*"))
    # Running the same command again does not silently retrain over the finished model.
    weights = (out / "model.safetensors").stat().st_mtime
    assert sft.main(recipe_args(tiny_model, tiny_dataset, out)) == 0
    assert (out / "model.safetensors").stat().st_mtime == weights


def test_interrupted_run_resumes_to_the_same_final_step(tiny_model, tiny_dataset, tmp_path, capsys, monkeypatch):
    from transformers import TrainerCallback

    class CountSteps(TrainerCallback):
        steps = 0

        def on_step_end(self, args, state, control, **kwargs):
            CountSteps.steps += 1

    out = tmp_path / "out"
    argv = recipe_args(tiny_model, tiny_dataset, out)
    kill_run_at(argv, 6, monkeypatch)  # checkpoint-4 on disk, steps 5-6 lost
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4"]

    build_trainer = sft.build_trainer

    def build_counting_trainer(*args):
        trainer = build_trainer(*args)
        trainer.add_callback(CountSteps)
        return trainer

    monkeypatch.setattr(sft, "build_trainer", build_counting_trainer)
    assert sft.main(argv) == 0
    assert f"resuming from {out / 'checkpoint-4'}" in capsys.readouterr().out
    assert CountSteps.steps == 8  # steps 5..12: continued from checkpoint-4, not from 0
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 12
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry] == list(range(1, 13))


def test_half_written_checkpoint_is_set_aside_and_the_last_complete_one_resumes(
    tiny_model, tiny_dataset, tmp_path, capsys, monkeypatch
):
    import shutil

    out = tmp_path / "out"
    argv = recipe_args(tiny_model, tiny_dataset, out)
    kill_run_at(argv, 6, monkeypatch)  # checkpoint-4 on disk, steps 5-6 lost
    # A kill while checkpoint-8 was being written: weights on disk, no optimizer or trainer state yet.
    half = out / "checkpoint-8"
    half.mkdir()
    shutil.copy(out / "checkpoint-4" / "model.safetensors", half / "model.safetensors")
    capsys.readouterr()

    assert sft.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"notice: {half} is incomplete" in printed and "set aside as checkpoint-8.incomplete" in printed
    assert f"resuming from {out / 'checkpoint-4'}" in printed
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 12
    assert not list(out.glob("checkpoint-*"))  # the run's own checkpoints, the set-aside one included, are gone


def test_messages_file_trains_on_last_assistant_turn(tiny_model, tmp_path):
    rows = synthetic_kv_rows(4, seed=3)
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps({"messages": r["messages"]}) + "\n" for r in rows))
    argv = recipe_args(tiny_model, path, tmp_path / "out")
    argv[argv.index("--dataset_config") : argv.index("--dataset_config") + 2] = []
    trainer = make_trainer(argv)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    kept = batch["labels"][0] != -100
    assert (
        trainer.processing_class.decode(batch["input_ids"][0][kept])
        == rows[0]["messages"][-1]["content"] + "<|im_end|>\n"
    )


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"dataset_name": "build/no-such-dataset"}, "dataset_name build/no-such-dataset does not exist locally"),
        ({"dataset_config": "no_such_config"}, "is not in"),
        ({"dataset_config": None}, f"dataset_config is not set; {{}} holds the configs {CONFIG}"),
    ],
)
def test_bad_data_gives_one_clear_error(tiny_model, tiny_dataset, tmp_path, capsys, override, expected):
    argv = recipe_args(tiny_model, tiny_dataset, tmp_path / "out")
    for key, value in override.items():
        i = argv.index(f"--{key}")
        argv[i : i + 2] = [] if value is None else [f"--{key}", value]
    assert sft.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert expected.format(tiny_dataset) in err


def test_abbreviated_flag_is_refused_not_taken_for_another_field(tiny_model, tiny_dataset, tmp_path, capsys):
    """argparse's default would read ``--learning_rat`` as ``--learning_rate``: a typo must fail, not train."""
    argv = recipe_args(tiny_model, tiny_dataset, tmp_path / "out") + ["--learning_rat", "1"]
    assert sft.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--learning_rat" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_unknown_recipe_key_fails_with_nonzero_exit(tiny_model, tiny_dataset, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"model_name_or_path: {tiny_model}\ndataset_name: {tiny_dataset}\nmax_seq_length: 512\n")
    result = subprocess.run(
        [sys.executable, "-m", "training.sft", "--config", str(recipe), "--output_dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 2
    assert "error: " in result.stderr and "max_seq_length" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_prints_both_rates_the_ratio_and_the_cpu(tiny_model, tiny_dataset, tmp_path, capsys):
    from training import bench
    from training.cpu_speed import cpu_model_name

    recipe = tmp_path / "recipe.yaml"
    args = recipe_args(tiny_model, tiny_dataset, tmp_path / "unused")
    recipe.write_text("".join(f"{k[2:]}: {v}\n" for k, v in zip(args[::2], args[1::2], strict=True)))
    bench.main(["--config", str(recipe), "--steps", "2", "--warmup", "1"])
    lines = capsys.readouterr().out.splitlines()
    timings = [line for line in lines if "tokens/s" in line]
    assert [t.split("  ")[0].strip() for t in timings] == [
        "plain fp32 loop",
        "recipe, all positions",
        "recipe in fp32",
        "recipe",
    ]
    assert all(f"[{cpu_model_name()}]" in t for t in timings)
    assert any(line.startswith("ratio recipe / plain fp32: ") for line in lines)


@pytest.mark.integration  # inductor compiles the tiny model's C++ kernels (~1 min on 2 cores)
def test_bench_times_the_recipe_under_torch_compile_with_its_warm_up(tiny_model, tiny_dataset, tmp_path, capsys):
    from training import bench

    recipe = tmp_path / "recipe.yaml"
    args = recipe_args(tiny_model, tiny_dataset, tmp_path / "unused")
    recipe.write_text("".join(f"{k[2:]}: {v}\n" for k, v in zip(args[::2], args[1::2], strict=True)))
    out = tmp_path / "bench.json"
    argv = ["--config", str(recipe), "--steps", "1", "--warmup", "2", "--torch_compile", "true", "--out", str(out)]
    assert bench.main(argv) == 0
    compiled = [line for line in capsys.readouterr().out.splitlines() if line.startswith("recipe, torch.compile")]
    assert len(compiled) == 1 and "warm-up" in compiled[0] and "of the limit" in compiled[0]
    report = json.loads(out.read_text())["setups"]
    assert report["recipe, torch.compile"]["warmup_s"] > 0 and report["plain fp32 loop"]["warmup_s"] is None


def test_lora_run_saves_an_adapter_repo(tiny_model, tiny_dataset, tmp_path):
    out = tmp_path / "out"
    argv = recipe_args(tiny_model, tiny_dataset, out, max_steps=2, save_steps=2)
    argv += ["--use_peft", "true", "--lora_r", "4", "--lora_alpha", "8", "--lora_target_modules", "all-linear"]
    assert sft.main(argv) == 0
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    assert "library_name: peft" in (out / "README.md").read_text()
    data_args, _, model_args = sft.parse_recipe(argv)
    assert sft.default_hub_model_id(data_args, model_args) == f"{tiny_model.name}-{CONFIG}-sft-lora"
