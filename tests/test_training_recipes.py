"""Every SFT recipe parses strictly with training/sft.py's own parser; every accelerate config loads with accelerate's.

A recipe key that TRL renames (``max_seq_length`` -> ``max_length``, ``torch_dtype`` -> ``dtype``) fails here, in CI,
instead of at the start of a GPU job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from training import sft

ROOT = Path(__file__).resolve().parents[1] / "training"
RECIPES = sorted((ROOT / "recipes").glob("*/sft/*.yaml"))
ACCELERATE = sorted((ROOT / "accelerate").glob("*.yaml"))


def parse(recipe: Path):
    # use_cpu: the Mistral recipes ask for bf16, which TrainingArguments only accepts on a GPU or with use_cpu
    return sft.parse_recipe(["--config", str(recipe), "--use_cpu", "true"])


def test_the_recipe_set_is_complete():
    names = {p.relative_to(ROOT / "recipes").as_posix() for p in RECIPES}
    assert "smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml" in names
    for config in ("simple_kv", "simple_kv_template", "multi_subkey_kv"):
        for method in ("full", "lora"):
            assert f"mistral-7b-instruct-v0.1/sft/{config}_{method}.yaml" in names
    assert any(n.startswith("mistral-7b-instruct-v0.2/sft/simple_kv_24k_") for n in names)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_recipe_parses_strictly_and_names_its_outputs(recipe):
    data_args, training_args, model_args = parse(recipe)
    raw = yaml.safe_load(recipe.read_text())
    assert training_args.completion_only_loss is True  # answer-only loss, the paper's setup
    assert data_args.dataset_config in recipe.stem
    # <base-model>-<dataset-config>-sft-<full|lora>, from the file name and the model
    method = "lora" if model_args.use_peft else "full"
    assert recipe.stem.endswith(f"_{method}")
    expected = sft.default_hub_model_id(data_args, model_args)
    assert raw["hub_model_id"] == expected and Path(raw["output_dir"]).name == expected
    assert (recipe.parents[1] / "README.md").is_file()
    assert f"--config training/recipes/{recipe.parts[-3]}/sft/" in (recipe.parents[1] / "README.md").read_text()


def test_renamed_trl_field_fails(tmp_path):
    recipe = tmp_path / "old.yaml"
    recipe.write_text(RECIPES[0].read_text() + "max_seq_length: 4096\ntorch_dtype: bfloat16\n")
    with pytest.raises(sft.SetupError, match=r"unknown recipe keys \['max_seq_length', 'torch_dtype'\]"):
        parse(recipe)


def test_a_recipe_reaches_the_authors_other_data_seeds():
    """The README's command: the 4K recipe on data seed 1, with its own output names."""
    from dataset_builder.config import load_config

    readme = (ROOT / "recipes/mistral-7b-instruct-v0.1/README.md").read_text()
    recipe = ROOT / "recipes/mistral-7b-instruct-v0.1/sft/simple_kv_full.yaml"
    name = "Mistral-7B-Instruct-v0.1-simple_kv_seed1-sft-full"
    argv = ["--dataset_config", "simple_kv_seed1", "--output_dir", f"build/models/{name}", "--hub_model_id", name]
    assert " \\\n    ".join(["--dataset_config simple_kv_seed1", f"--output_dir build/models/{name}"]) in readme
    data_args, training_args, model_args = sft.parse_recipe(["--config", str(recipe), "--use_cpu", "true", *argv])
    assert data_args.dataset_config == "simple_kv_seed1" and load_config("simple_kv_seed1").seed == 1
    assert sft.default_hub_model_id(data_args, model_args) == name == Path(training_args.output_dir).name


def test_cli_overrides_the_recipe():
    recipe = ROOT / "recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml"
    _, training_args, _ = sft.parse_recipe(["--config", str(recipe), "--max_steps", "3", "--learning_rate", "1e-3"])
    assert (training_args.max_steps, training_args.learning_rate) == (3, 1e-3)


@pytest.mark.parametrize("config", ACCELERATE, ids=lambda p: p.name)
def test_accelerate_config_loads(config):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    loaded = load_config_from_file(str(config))  # rejects unknown top-level keys
    expected = {
        "single_gpu.yaml": ("NO", 1, 1),
        "multi_gpu_ddp.yaml": ("MULTI_GPU", 8, 1),
        "fsdp.yaml": ("FSDP", 8, 1),
        "deepspeed_zero3.yaml": ("DEEPSPEED", 8, 1),
        "multi_node.yaml": ("DEEPSPEED", 16, 2),
    }[config.name]
    assert (loaded.distributed_type.value, loaded.num_processes, loaded.num_machines) == expected
    # The nested fsdp_/deepspeed_ keys become `accelerate launch` options; a misspelt one would be silently dropped.
    options = {action.dest for action in launch_command_parser()._actions}
    nested = {**(loaded.fsdp_config or {}), **(loaded.deepspeed_config or {})}
    assert set(nested) <= options, set(nested) - options
    if loaded.distributed_type.value == "DEEPSPEED":
        assert loaded.deepspeed_config["zero_stage"] == 3
