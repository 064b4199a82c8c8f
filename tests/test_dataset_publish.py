"""The Hub-layout folder: load_dataset round trip, valid card, byte-identical rebuilds, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset
from huggingface_hub import DatasetCard

from dataset_builder.builder import load_variant
from dataset_builder.config import ConfigError, load_config
from dataset_builder.publish import COMMAND, build_folder
from dataset_builder.schema import OPENAI_SYSTEM
from infra.hub import plan_upload, push_folder
from infra.outputs import MARKER, OutputError, sha256_file

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


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
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


def test_card_names_each_configs_position_rule_pairing_and_seed(folder):
    from dataset_builder.card import position_text

    text = (folder / "README.md").read_text()
    rows = {line.split(" | ")[0].strip("| `"): line for line in text.splitlines() if line.startswith("| `")}
    assert "authors' rule: train 0 first, test 0 first, rest uniform" in rows["multi_subkey_kv_small"]
    assert "per-row draws: each 5% first, 3% in first 5, else uniform" in rows["smollm2_kv_600_small"]
    assert "grid at depths 0, 0.1" in rows["simple_kv_sweep_small"]
    assert rows["simple_kv_sweep_small"].split(" | ")[8] == "1", "the seed column"
    for paragraph in ("**Gold position.**", "**Paired configs.**", "**Seeds.**", "`simple_kv_seed1`"):
        assert paragraph in text
    assert position_text(load_config("simple_kv")) == (
        "authors' rule: train 17 first + 10 in 0-16, test 7 first + 4 in 0-6, rest uniform"
    )
    assert position_text(load_config("multi_subkey_kv_gpt35")) == (
        "authors' rule: train 7 first + 4 in 0-6, test 7 first + 4 in 0-6, rest uniform"
    )


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


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_failed_build_leaves_nothing_behind(tmp_path):
    good = small_config(tmp_path, "smollm2_kv_600")
    too_small = small_config(tmp_path, "simple_kv", max_tokens=300)
    with pytest.raises(ConfigError, match="raise max_tokens to at least"):
        build_folder(tmp_path / "out", [good, too_small])
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "no temporary folder left"


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
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
    visible = [p for p in folder.rglob("*") if p.is_file() and p.name != MARKER]
    assert len(plan_upload(folder, "dataset")) == len(visible) and MARKER not in out  # the marker stays local


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_datasets_builder_makes_a_custom_variant(tmp_path):
    ds = load_variant("smollm2_kv_600", cache_dir=str(tmp_path / "cache"), train_size=8, test_size=4, num_dicts=6)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 8, "test": 4}
    assert set(ds["train"]["num_dicts"]) == {6}
    assert load_config("smollm2_kv_600").num_dicts == 10


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_build_refuses_a_folder_it_did_not_write_unless_forced(tmp_path):
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "model.safetensors").write_text("a user's file")
    with pytest.raises(OutputError, match="is not empty and `python -m dataset_builder build` did not write it"):
        build_folder(mine, [small_config(tmp_path, "smollm2_kv_600")])
    assert [p.name for p in mine.iterdir()] == ["model.safetensors"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".results.")], "nothing was generated"
    build_folder(mine, [small_config(tmp_path, "smollm2_kv_600")], force=True)  # explicit permission
    assert not (mine / "model.safetensors").exists() and json.loads((mine / MARKER).read_text())["command"] == COMMAND


def test_build_refuses_a_file_as_out_and_leaves_it_alone(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    for out in (target, target / "dataset"):
        with pytest.raises(OutputError, match="is a file|which is a file"):
            build_folder(out, [small_config(tmp_path, "smollm2_kv_600")], force=True)
    assert target.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt",
        "smollm2_kv_600_small.yaml",
    ]


def test_two_configs_with_one_name_is_an_error(tmp_path):
    first = small_config(tmp_path, "smollm2_kv_600")
    second = tmp_path / "other.yaml"
    second.write_text(Path(first).read_text().replace("seed: 0", "seed: 1"))
    with pytest.raises(ConfigError, match="two configs are named 'smollm2_kv_600_small'"):
        build_folder(tmp_path / "out", [first, str(second)])
    assert not (tmp_path / "out").exists()


def test_damaged_parquet_is_regenerated_not_reused(folder, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    parquet = copy / "data" / "multi_subkey_kv_small" / "train-00000-of-00001.parquet"
    good = sha256_file(parquet)
    parquet.write_bytes(b"not parquet")
    build_folder(copy, [str(folder / "configs" / "multi_subkey_kv_small.yaml")])
    assert "changed since written; regenerating" in capsys.readouterr().out
    assert sha256_file(parquet) == good  # the same config and seed give the same bytes
    # a damaged config that was not asked for is an error naming the command that regenerates it
    (copy / "data" / "smollm2_kv_600_small" / "test-00000-of-00001.parquet").write_bytes(b"junk")
    with pytest.raises(ConfigError, match=r"changed since they were written .* --configs .*smollm2_kv_600_small.yaml"):
        build_folder(copy, [str(folder / "configs" / "multi_subkey_kv_small.yaml")])


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_stale_temp_folder_of_a_killed_build_is_removed(tmp_path):
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.tmp-{socket.gethostname()}-{dead.stdout.strip()}"
    legacy = tmp_path / f".out.old-{dead.stdout.strip()}"  # the name the builder gave before hosts were recorded
    running = tmp_path / f".out.tmp-{socket.gethostname()}-{os.getppid()}"  # a live build of the same folder
    for folder in (stale, legacy, running):
        (folder / "data").mkdir(parents=True)
    build_folder(tmp_path / "out", [small_config(tmp_path, "smollm2_kv_600")])
    assert not stale.exists() and not legacy.exists() and (tmp_path / "out" / "README.md").is_file()
    assert running.is_dir(), "a folder a live process is writing is not touched"


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_card_marks_the_papers_config_as_default(tmp_path):
    from datasets import get_dataset_config_names, load_dataset_builder

    paper = tmp_path / "simple_kv.yaml"
    paper.write_text(Path(small_config(tmp_path, "simple_kv", train_size=2, test_size=1)).read_text())
    paper.write_text(paper.read_text().replace("name: simple_kv_small", "name: simple_kv"))
    out = build_folder(tmp_path / "ds", [str(paper), small_config(tmp_path, "smollm2_kv_600")])
    configs = DatasetCard.load(out / "README.md").data.to_dict()["configs"]
    assert [c.get("default", False) for c in configs] == [c["config_name"] == "simple_kv" for c in configs]
    assert set(get_dataset_config_names(str(out))) == {"simple_kv", "smollm2_kv_600_small"}
    assert load_dataset_builder(str(out)).config.name == "simple_kv"  # load_dataset(repo) without a config name
