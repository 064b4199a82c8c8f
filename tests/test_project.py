"""The project's conventions (infra/project.py) and the floors of the house: one Hub-id rule, one list splitter, one
reading of the offline flag, used by every command; the source-data floor imports nothing above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from infra.project import hub_offline, is_hub_id, split_list

ROOT = Path(__file__).resolve().parents[1]
UPPER_FLOORS = ("dataset_builder", "evaluation", "training", "model_cards", "hub_release")


@pytest.mark.parametrize("name", ["HuggingFaceTB/SmolLM2-135M-Instruct", "me/kv", "build/dataset"])
def test_an_org_slash_name_is_a_hub_id(name):
    assert is_hub_id(name)  # build/dataset is shaped like one: callers check Path(name).exists() first


@pytest.mark.parametrize("name", ["SmolLM2", "a/b/c", "./me/kv", "/me/kv", "~/kv", "me/", "/kv", ""])
def test_a_path_or_a_bare_name_is_not_a_hub_id(name):
    assert not is_hub_id(name)


@pytest.mark.parametrize(
    "values",
    [
        "mdqa_10docs,nq_closed",
        ["mdqa_10docs,nq_closed"],
        ["mdqa_10docs", "nq_closed"],
        [" mdqa_10docs, ", "nq_closed,,"],
    ],
)
def test_a_list_splits_the_same_written_any_way(values):
    assert split_list(values) == ["mdqa_10docs", "nq_closed"]


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes ", "On"])
def test_the_offline_flag_is_read_as_huggingface_hub_reads_it(monkeypatch, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hub_offline()


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_an_unset_or_false_offline_flag_is_online(monkeypatch, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert not hub_offline()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert not hub_offline()


def test_training_honours_every_spelling_of_the_offline_flag(monkeypatch):
    """training.sft used to read only "1": HF_HUB_OFFLINE=true sent a missing dataset to the Hub instead of saying
    it is not local and the Hub is offline."""
    from training import sft

    monkeypatch.setenv("HF_HUB_OFFLINE", "true")
    with pytest.raises(
        sft.SetupError, match=r"nobody/no-such-dataset does not exist locally \(and the Hub is offline"
    ):
        sft.read_splits("nobody/no-such-dataset", None)


def test_a_push_is_refused_under_every_spelling_of_the_offline_flag(monkeypatch):
    from infra.hub import HubError, ensure_online

    monkeypatch.setenv("HF_HUB_OFFLINE", "yes")
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set"):
        ensure_online("push the dataset")


def test_a_model_cards_base_model_written_twice_is_refused(tmp_path):
    """The base model's card names the finetune's base_model; a key written twice is ambiguous, so it is refused."""
    from training import sft

    (tmp_path / "README.md").write_text("---\nbase_model: a/b\nbase_model: c/d\n---\n# card\n")
    with pytest.raises(sft.SetupError, match="'base_model' is written twice"):
        sft.hub_base_model(str(tmp_path))
    (tmp_path / "README.md").write_text("---\nbase_model: a/b\nlicense: mit\n---\n# card\n")
    assert sft.hub_base_model(str(tmp_path)) == "a/b"


def imported_packages(path: Path) -> dict[str, int]:
    """Top-level package of every import in ``path`` → the line of its first import."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.setdefault(node.module.split(".")[0], node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], node.lineno)
    return found


def test_the_source_floor_imports_nothing_above_it():
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {package}"
        for path in sorted((ROOT / "sources").glob("*.py"))
        for package, line in imported_packages(path).items()
        if package in UPPER_FLOORS
    ]
    assert upward == []


def test_the_dataset_builder_and_training_read_the_evaluation_in_one_place_only():
    """Beside evaluation, not above it: the one import is the MDQA baseline's prompt (train prompts are the eval
    prompts, byte for byte). Reports (model_cards/) read results from a floor above both."""
    imports = [
        str(path.relative_to(ROOT))
        for folder in ("dataset_builder", "training")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "evaluation" in imported_packages(path)
    ]
    assert imports == ["dataset_builder/baselines.py"]
