"""The Hub-layout folder: load_dataset round trip, valid card, byte-identical rebuilds, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset
from huggingface_hub import DatasetCard

from dataset_builder.builder import load_variant
from dataset_builder.config import ConfigError, load_config
from dataset_builder.hub import plan_upload, push_folder, sha256_file
from dataset_builder.publish import build_folder
from dataset_builder.schema import OPENAI_SYSTEM

ROOT = Path(__file__).resolve().parents[1]


def small_config(tmp_path: Path, name: str, **overrides) -> str:
    """A YAML file with a named config's parameters at test-sized splits."""
    values = yaml.safe_load((ROOT / "dataset_builder" / "configs" / f"{name}.yaml").read_text())
    values.update({"name": f"{name}_small", "train_size": 12, "test_size": 6, **overrides})
    path = tmp_path / f"{name}_small.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ds")
    configs = [
        small_config(tmp, "smollm2_kv_600"),
        small_config(tmp, "multi_subkey_kv"),
        small_config(tmp, "simple_kv_sweep", train_size=0, test_size=11),
    ]
    return build_folder(tmp / "dataset", configs)


def test_load_dataset_round_trip_for_two_configs(folder):
    simple = load_dataset(str(folder), "smollm2_kv_600_small")
    multi = load_dataset(str(folder), "multi_subkey_kv_small")
    assert {k: v.num_rows for k, v in simple.items()} == {"train": 12, "test": 6}
    assert {k: v.num_rows for k, v in multi.items()} == {"train": 12, "test": 6}
    row = multi["train"][0]
    assert row["task"] == "multi_subkey_kv" and row["messages"][1]["role"] == "assistant"
    assert row["prompt"] == row["messages"][:1] and row["completion"] == row["messages"][1:]
    sweep = load_dataset(str(folder), "simple_kv_sweep_small")
    assert list(sweep) == ["test"]
    # Depth d of 85 dictionaries lands on index round(84 d); the row stores the depth it really has.
    assert sweep["test"]["gold_index"] == [round(i / 10 * 84) for i in range(11)]
    assert sweep["test"]["gold_depth"] == [round(i / 10 * 84) / 84 for i in range(11)]


def test_card_yaml_is_valid_and_lists_every_config_and_file(folder):
    card = DatasetCard.load(folder / "README.md")
    data = card.data.to_dict()
    names = {c["config_name"] for c in data["configs"]}
    assert names == {"smollm2_kv_600_small", "multi_subkey_kv_small", "simple_kv_sweep_small"}
    info = {c["config_name"]: {s["name"]: s["num_examples"] for s in c["splits"]} for c in data["dataset_info"]}
    assert info["multi_subkey_kv_small"] == {"train": 12, "test": 6}
    assert data["license"] == "apache-2.0"
    parquet = folder / "data" / "smollm2_kv_600_small" / "train-00000-of-00001.parquet"
    assert sha256_file(parquet) in card.text, "the card records each file's sha256"
    for section in ("## Examples", "## Fields", "## Configs", "### Parameters of every config", "## Citation"):
        assert section in card.text


def test_openai_and_messages_exports(folder):
    lines = (folder / "openai" / "smollm2_kv_600_small" / "train.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == 12
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][0]["content"] == OPENAI_SYSTEM
    plain = json.loads((folder / "messages" / "smollm2_kv_600_small" / "test.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in plain["messages"]] == ["user", "assistant"]


def test_rebuild_is_byte_identical(folder, tmp_path):
    config = str(folder / "configs" / "multi_subkey_kv_small.yaml")
    again = build_folder(tmp_path / "again", [config], force=True)
    for split in ("train", "test"):
        name = f"data/multi_subkey_kv_small/{split}-00000-of-00001.parquet"
        assert sha256_file(again / name) == sha256_file(folder / name)


def test_up_to_date_configs_are_reused_and_others_kept(folder, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    before = sha256_file(copy / "data" / "multi_subkey_kv_small" / "train-00000-of-00001.parquet")
    build_folder(copy, [str(copy / "configs" / "smollm2_kv_600_small.yaml")])
    assert "smollm2_kv_600_small: up to date, reused" in capsys.readouterr().out
    assert sha256_file(copy / "data" / "multi_subkey_kv_small" / "train-00000-of-00001.parquet") == before


def test_failed_build_leaves_nothing_behind(tmp_path):
    good = small_config(tmp_path, "smollm2_kv_600")
    too_small = small_config(tmp_path, "simple_kv", max_tokens=300)
    with pytest.raises(ConfigError, match="raise max_tokens to at least"):
        build_folder(tmp_path / "out", [good, too_small])
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "no temporary folder left"


def test_cli_bad_config_exits_nonzero_with_one_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dataset_builder", "build", "--out", str(tmp_path / "o"), "--configs", "nope"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown config 'nope'; named configs are:")
    assert not (tmp_path / "o").exists()


def test_push_without_token_prints_the_plan(folder, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    summary = push_folder(folder, "org/kv", "dataset")
    out = capsys.readouterr().out
    assert summary.startswith("dry run:") and "would upload" in out and "README.md" in out
    assert len(plan_upload(folder)) == len([p for p in folder.rglob("*") if p.is_file()])


def test_datasets_builder_makes_a_custom_variant(tmp_path):
    ds = load_variant("smollm2_kv_600", cache_dir=str(tmp_path / "cache"), train_size=8, test_size=4, num_dicts=6)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 8, "test": 4}
    assert set(ds["train"]["num_dicts"]) == {6}
    assert load_config("smollm2_kv_600").num_dicts == 10
