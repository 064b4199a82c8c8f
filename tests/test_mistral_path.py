"""The Mistral path, run for real on a tiny ``MistralForCausalLM`` with the genuine Mistral-7B v0.1 tokenizer.

Every Mistral recipe trains with only the model path, ``max_steps``, ``max_length`` and ``use_cpu`` overridden (the
data are small variants of the recipes' own dataset configs, same names, in a ``build/dataset`` folder of a scratch
working directory, where the recipes' relative paths point). Each run is killed after its first checkpoint and
resumed; LoRA adapters are merged and reloaded; the push dry run prints its plan. The chat template used to train
(the HF tokenizer's) is checked against the dataset's mistral-common token counts on every row of the real configs.
The accelerate DDP and FSDP configs launch 2 CPU processes; evaluation loads the same classes the way it does on GPUs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from fixture_data import kill_run_at
from tiny_mistral import build_mistral_v1_tokenizer, save_tiny_mistral

from training import sft

pytestmark = pytest.mark.integration  # every test here trains, launches or converts a model

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "training" / "recipes").glob("mistral-*/sft/*.yaml"))
SMALL = {"num_dicts": 4, "max_tokens": 512, "train_size": 32, "test_size": 4}  # ~300-token rows
MAX_STEPS = 12  # one past the recipes' save_steps (11), so each run leaves a checkpoint to resume from
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def build_dataset(out: Path, names: list[str], overrides: dict | None) -> Path:
    """``python -m dataset_builder build`` of the named configs (or small same-name variants) into ``out``."""
    from dataset_builder.config import config_to_dict, load_config

    variants = out.parent / f"{out.name}-configs"
    variants.mkdir(parents=True)
    paths = []
    for name in names:
        path = variants / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config_to_dict(load_config(name, overrides))))
        paths.append(str(path))
    cmd = [sys.executable, "-m", "dataset_builder", "build", "--out", str(out), "--configs", *paths]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**ENV, "PYTHONPATH": str(ROOT)}, capture_output=True)
    return out


@pytest.fixture(scope="session")
def tiny_mistral(tmp_path_factory) -> Path:
    return save_tiny_mistral(tmp_path_factory.mktemp("tiny-mistral"))


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """A ``build/dataset`` with small variants of every dataset config a Mistral recipe names."""
    configs = sorted({yaml.safe_load(r.read_text())["dataset_config"] for r in RECIPES})
    return build_dataset(tmp_path_factory.mktemp("data") / "build" / "dataset", configs, SMALL)


@pytest.fixture()
def workdir(small_data, tmp_path, monkeypatch) -> Path:
    """A scratch working directory whose build/dataset is the small data: the recipes run with their own paths."""
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "dataset").symlink_to(small_data)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_TOKEN", raising=False)  # the push step must print its plan, not upload
    return tmp_path


def recipe_argv(recipe: Path, model: Path, **overrides) -> list[str]:
    args = {"model_name_or_path": model, "max_steps": MAX_STEPS, "max_length": 512, "use_cpu": "true", **overrides}
    return ["--config", str(recipe), *[item for k, v in args.items() for item in (f"--{k}", str(v))]]


def answer_logits(folder: Path, batch: dict) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with torch.no_grad():
        return model(**batch).logits


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parts[-3]}/{p.stem}")
def test_mistral_recipe_trains_resumes_saves_and_plans_the_push(recipe, tiny_mistral, workdir, capsys, monkeypatch):
    from transformers import AutoModelForCausalLM

    argv = recipe_argv(recipe, tiny_mistral)
    raw = yaml.safe_load(recipe.read_text())
    out = workdir / raw["output_dir"]

    kill_run_at(argv, MAX_STEPS, monkeypatch)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == [f"checkpoint-{raw['save_steps']}"]
    capsys.readouterr()

    assert sft.main(argv) == 0
    printed = capsys.readouterr().out
    checkpoint = Path(raw["output_dir"]) / f"checkpoint-{raw['save_steps']}"  # as the recipe names it
    assert f"resuming from {checkpoint}" in printed
    state = yaml.safe_load((out / "trainer_state.json").read_text())  # JSON is YAML
    assert state["global_step"] == MAX_STEPS
    assert "would upload" in printed and f"model repo {raw['hub_model_id']}" in printed
    assert not list(out.glob("checkpoint-*"))

    if raw.get("use_peft"):
        assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
        assert not (out / "model.safetensors").exists()
    else:
        model = AutoModelForCausalLM.from_pretrained(out)
        base = AutoModelForCausalLM.from_pretrained(tiny_mistral)
        assert type(model).__name__ == "MistralForCausalLM" and model.config.sliding_window == 64
        changed = [
            name for name, p in model.named_parameters() if not torch.equal(p, base.get_parameter(name).to(p.dtype))
        ]
        assert changed, "training changed no weight"


def test_lora_adapter_merges_and_reloads_with_the_same_outputs(tiny_mistral, workdir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from training import merge_lora

    recipe = ROOT / "training/recipes/mistral-7b-instruct-v0.1/sft/simple_kv_lora.yaml"
    # lr raised so 4 steps move the adapters visibly away from their zero init
    assert sft.main(recipe_argv(recipe, tiny_mistral, max_steps=4, learning_rate=0.05)) == 0
    adapter = workdir / yaml.safe_load(recipe.read_text())["output_dir"]
    merged = workdir / "merged"
    assert merge_lora.main(["--adapter", str(adapter), "--out", str(merged), "--dtype", "float32"]) == 0

    tokenizer = build_mistral_v1_tokenizer()
    batch = tokenizer(["Dictionary [1] {123: 456}"], return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(tiny_mistral, dtype=torch.float32)
    with torch.no_grad():
        base_logits = base(**batch).logits
        peft_logits = PeftModel.from_pretrained(base, adapter)(**batch).logits
    merged_logits = answer_logits(merged, batch)
    assert not torch.allclose(peft_logits, base_logits, atol=1e-4), "the adapter changed nothing"
    assert torch.allclose(merged_logits, peft_logits, atol=1e-4)
    assert not (merged / "adapter_config.json").exists() and (merged / "tokenizer.json").is_file()
    # the evaluation loader reads the adapter folder as it is (transformers' PEFT integration loads the base)
    from evaluation.generation import load_model, resolve_placement

    model, _ = load_model(str(adapter), resolve_placement("cpu", "fp32"))  # fp32, to compare at 1e-4
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits.float(), peft_logits, atol=1e-4)


def test_a_row_longer_than_max_length_stops_the_run_with_one_line(tiny_mistral, workdir, capsys):
    recipe = ROOT / "training/recipes/mistral-7b-instruct-v0.1/sft/simple_kv_full.yaml"
    assert sft.main(recipe_argv(recipe, tiny_mistral, max_length=64)) == 2
    err = capsys.readouterr().err
    # one line (before it, only the datasets progress bars, which rewrite themselves with \r)
    assert err.count("error: ") == 1 and err.endswith("\n") and "Traceback" not in err
    line = err.rsplit("\r", 1)[-1].strip().splitlines()[-1]
    assert line.startswith("error: train row 0 is ") and "longer than max_length 64" in line
    assert not (workdir / "build" / "models").exists() or not any(
        (workdir / "build" / "models").rglob("*.safetensors")
    )


def test_rows_without_an_answer_token_are_refused():
    from datasets import Dataset

    fits = Dataset.from_dict({"input_ids": [[1, 2, 3]], "labels": [[-100, -100, 3]]})
    sft.check_rows_fit(fits, 3, "train")
    with pytest.raises(sft.SetupError, match="train row 0 has no answer token"):
        sft.check_rows_fit(Dataset.from_dict({"input_ids": [[1, 2]], "labels": [[-100, -100]]}), 8, "train")
    with pytest.raises(sft.SetupError, match="train row 0 is 3 tokens, longer than max_length 2"):
        sft.check_rows_fit(fits, 2, "train")


# --- the chat template used to train agrees with the dataset's token counts, on every row of the real configs ---

REAL_CONFIGS = ["simple_kv", "simple_kv_template", "multi_subkey_kv", "multi_subkey_kv_template", "simple_kv_24k"]


@pytest.fixture(scope="session")
def real_data(tmp_path_factory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("real") / "dataset", REAL_CONFIGS, None)


@pytest.mark.parametrize("config", REAL_CONFIGS)
def test_hf_chat_template_matches_mistral_common_on_every_row(config, real_data):
    import pyarrow.parquet as pq
    from mistral_common.protocol.instruct.messages import AssistantMessage, UserMessage
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    from dataset_builder.tokens import mistral_v1_path

    tokenizer = build_mistral_v1_tokenizer()
    reference = MistralTokenizer.from_file(str(mistral_v1_path()), mode=ValidationMode.finetuning)
    rows = []
    for split in ("train", "test"):
        rows += pq.read_table(real_data / "data" / config / f"{split}-00000-of-00001.parquet").to_pylist()
    assert len(rows) == 500
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    mismatched = [r["id"] for r, ids in zip(rows, encoded, strict=True) if len(ids) != r["num_tokens"]]
    assert not mismatched, f"{len(mismatched)} rows differ from the stored mistral-common count, e.g. {mismatched[:3]}"
    for row, ids in list(zip(rows, encoded, strict=True))[:3]:  # and token for token, not just the count
        user, answer = (m["content"] for m in row["messages"])
        request = ChatCompletionRequest(messages=[UserMessage(content=user), AssistantMessage(content=answer)])
        assert ids == reference.encode_chat_completion(request).tokens


# --- accelerate: the DDP and FSDP configs with 2 CPU processes (gloo) ---


def launch(config: str, script: list[str], recipe: Path, model: Path, cwd: Path) -> str:
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(ROOT / "training/accelerate" / config),
    ]
    cmd += ["--num_processes", "2", *script, *recipe_argv(recipe, model, max_steps=4)]
    env = {**ENV, "PYTHONPATH": str(ROOT)}
    env.pop("HF_TOKEN", None)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize(
    ("config", "recipe_name", "expected"),
    [
        ("multi_gpu_ddp.yaml", "simple_kv_full.yaml", "2 process(es) (MULTI_CPU, fsdp=False)"),
        ("multi_gpu_ddp.yaml", "simple_kv_lora.yaml", "2 process(es) (MULTI_CPU, fsdp=False)"),
        ("fsdp.yaml", "simple_kv_full.yaml", "2 process(es) (FSDP, fsdp=True)"),
    ],
)
def test_accelerate_launch_on_two_cpu_processes(config, recipe_name, expected, tiny_mistral, workdir):
    from transformers import AutoModelForCausalLM

    recipe = ROOT / "training/recipes/mistral-7b-instruct-v0.1/sft" / recipe_name
    # fsdp.yaml needs the test launcher that lifts accelerate's GPU-only FSDP gate (tests/fsdp_on_cpu.py)
    script = [str(ROOT / "tests/fsdp_on_cpu.py")] if config == "fsdp.yaml" else ["-m", "training.sft"]
    printed = launch(config, script, recipe, tiny_mistral, workdir)
    assert expected in printed and "global step 4" in printed
    out = workdir / yaml.safe_load(recipe.read_text())["output_dir"]
    state = yaml.safe_load((out / "trainer_state.json").read_text())
    # 4 steps x (1 per process x accumulation x 2 processes) prompts of the 32-row train split
    accumulation = yaml.safe_load(recipe.read_text())["gradient_accumulation_steps"]
    assert state["epoch"] == pytest.approx(4 * accumulation * 2 / 32)
    model = AutoModelForCausalLM.from_pretrained(out)  # a LoRA folder loads through transformers' PEFT integration
    batch = build_mistral_v1_tokenizer()(["Dictionary [1] {123: 456}"], return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(model(**batch).logits).all()
    if not (out / "adapter_config.json").exists():  # the gathered full state dict holds the trained weights
        base = AutoModelForCausalLM.from_pretrained(tiny_mistral)
        assert any(not torch.equal(p, base.get_parameter(n)) for n, p in model.named_parameters())


# --- evaluation: where the model runs ---


def test_placement_puts_a_model_on_the_gpus_in_bf16_and_keeps_the_cpu_path():
    from evaluation.generation import Placement, resolve_placement
    from evaluation.harness import lm_eval_model_args

    gpu = resolve_placement("auto", "auto", cuda_available=True)
    assert gpu == Placement("cuda", "bfloat16", "auto")
    assert gpu.load_kwargs() == {"dtype": "bfloat16", "device_map": "auto"}
    cpu = resolve_placement("cpu", "fp32", cuda_available=True)
    assert cpu == Placement("cpu", "float32", None) and cpu.load_kwargs() == {"dtype": "float32"}
    # a CPU with native bf16 loads bf16 weights too (decoding reads every weight per token: half the bytes)
    assert resolve_placement("auto", "bf16", cuda_available=False) == Placement("cpu", "bfloat16", None)
    with pytest.raises(ValueError, match="device=cuda but torch sees no GPU"):
        resolve_placement("cuda", "auto", cuda_available=False)
    with pytest.raises(ValueError, match="device='tpu'"):
        resolve_placement("tpu", "auto", cuda_available=False)
    # lm-eval gets the same placement: bf16 on GPUs, split over several with parallelize; CPU unchanged
    assert lm_eval_model_args("m", gpu, gpu_count=1) == {"pretrained": "m", "dtype": "bfloat16", "device": "cuda"}
    assert lm_eval_model_args("m", gpu, gpu_count=4)["parallelize"] is True
    assert lm_eval_model_args("m", cpu) == {"pretrained": "m", "dtype": "float32", "device": "cpu"}


def test_gpu_style_loading_runs_the_tiny_mistral_end_to_end(tiny_mistral):
    """bf16 weights with device_map="auto", the GPU placement, exercised on the same classes here (on the CPU)."""
    from evaluation.generation import GenerationSettings, Placement, generate_answers, load_model

    model, tokenizer = load_model(str(tiny_mistral), Placement("cpu", "bfloat16", "auto"))
    assert model.dtype == torch.bfloat16 and type(model).__name__ == "MistralForCausalLM"
    assert model.device.type == "cpu"  # device_map="auto" with no GPU: everything on the CPU
    settings = GenerationSettings(max_new_tokens=4, stop=["\n"], batch_size=2)
    answers = generate_answers(model, tokenizer, ["What is 1 + 1?", "Name a colour.", "Hi"], settings)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)


def test_evaluation_cli_records_the_device_it_ran_on(tiny_mistral, small_data, tmp_path):
    import json

    from evaluation.__main__ import main

    # the synthetic KV suite on the small Mistral data: the declared task with its data config swapped
    task = yaml.safe_load((ROOT / "evaluation/tasks/synthetic_kv.yaml").read_text())
    task_file = tmp_path / "synthetic_kv.yaml"
    task_file.write_text(yaml.safe_dump({**task, "dataset_configs": ["simple_kv"]}))
    out = tmp_path / "results"
    argv = ["run", "--model", str(tiny_mistral), "--suites", str(task_file), "--out", str(out), "--limit", "1"]
    assert main([*argv, "--dataset", str(small_data), "--device", "cpu", "--precision", "fp32"]) == 0
    generation = json.loads((out / "synthetic_kv.json").read_text())["generation"]
    assert (generation["device"], generation["dtype"], generation["device_map"]) == ("cpu", "float32", None)
    assert main([*argv, "--dataset", str(small_data), "--device", "cuda"]) == (0 if torch.cuda.is_available() else 2)
