"""Baseline finetuning data (mdqa, niah): budget, answers where they belong, no eval-half leak, disjoint splits,
determinism, clear errors, and the named configs through the CLI and ``load_dataset``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset

from dataset_builder.baselines import load_source, needle_sentence, one_line
from dataset_builder.config import ConfigError, config_to_dict, load_config
from dataset_builder.publish import parquet_path
from dataset_builder.schema import FEATURES
from dataset_builder.splits import build_splits
from evaluation.tasks import load_task
from infra.project import LIU_DATA_DIR
from sources.nq_halves import split_halves
from sources.nq_open import NQ_ORACLE_FILE, Passage, contains_answer, load_nq_oracle, normalize_answer

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / LIU_DATA_DIR / NQ_ORACLE_FILE
NAMED = ("smollm2_mdqa_600", "smollm2_niah_600")
# Documents are separated by one newline; a passage may itself end with one (Liu et al.'s rendering, unchanged).
DOC_START = re.compile(r"\n(?=Document \[\d+\]\(Title: )")

pytestmark = pytest.mark.skipif(not SOURCE.is_file(), reason=f"needs Liu et al.'s {SOURCE.name}")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The two named baseline configs, built exactly as a user builds them."""
    out = tmp_path_factory.mktemp("baselines") / "dataset"
    cmd = [sys.executable, "-m", "dataset_builder", "build", "--out", str(out), "--configs", *NAMED]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def rows(built) -> dict[str, dict[str, list[dict]]]:
    """Every row of the built files (read with pyarrow: load_dataset itself is tested once, below)."""
    return {
        name: {split: pq.read_table(parquet_path(built, name, split)).to_pylist() for split in ("train", "test")}
        for name in NAMED
    }


@pytest.fixture(scope="module")
def nq() -> dict:
    """The oracle file's questions, split into the halves; answers by question."""
    questions = load_nq_oracle(SOURCE)
    halves = split_halves([q.question for q in questions])
    return {
        "answers": {q.question: q.answers for q in questions},
        "gold": {q.question: q.gold for q in questions},
        "train": {questions[i].question for i in halves["train"]},
        "eval": [questions[i] for i in halves["eval"]],
    }


def all_rows(rows: dict, name: str) -> list[dict]:
    return [row for split in rows[name].values() for row in split]


def mdqa_documents(prompt: str) -> list[str]:
    results = prompt.split("\n\n", 1)[1].rsplit("\n\nQuestion: ", 1)[0]
    return DOC_START.split(results)


def niah_paragraphs(prompt: str) -> list[str]:
    body = prompt.split("\n\n", 1)[1].rsplit("\n\nQuestion: ", 1)[0]
    return body.split("\n\n")


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_named_configs_build_with_the_cli_and_load(built, rows):
    for name in NAMED:
        ds = load_dataset(str(built), name)
        assert {split: d.num_rows for split, d in ds.items()} == {"train": 800, "test": 178}
        assert ds["train"].features == FEATURES, "the KV schema, so the same training code reads it"
        row = ds["train"][0]
        assert row["task"] == name.split("_")[1] and row["gold_value"] == -1
        assert row["prompt"] == row["messages"][:1] and row["completion"] == row["messages"][1:]


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_every_row_fits_its_budget_and_stores_its_measured_length(rows, smollm2_counter):
    for name in NAMED:
        cfg = load_config(name)
        for row in all_rows(rows, name):
            user, answer = (m["content"] for m in row["messages"])
            assert row["num_tokens"] == smollm2_counter.count_example(user, answer) <= cfg.max_tokens, row["id"]


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_mdqa_gold_document_holds_the_answer_and_no_distractor_does(rows, nq):
    template = load_task("mdqa").document_template
    for row in all_rows(rows, "smollm2_mdqa_600"):
        question, answer = row["gold_key"], row["messages"][1]["content"]
        docs = mdqa_documents(row["messages"][0]["content"])
        assert len(docs) == row["num_dicts"] and row["gold_dict"] == str(row["gold_index"] + 1)
        assert row["gold_depth"] == (row["gold_index"] / (row["num_dicts"] - 1) if row["num_dicts"] > 1 else 0.0)
        gold = nq["gold"][question]
        assert docs[row["gold_index"]] == template.format(
            index=row["gold_index"] + 1, title=gold.title, text=gold.text
        )
        assert answer in nq["answers"][question] and normalize_answer(answer) in normalize_answer(gold.text)
        for i, doc in enumerate(docs):
            prefix = f"Document [{i + 1}](Title: "
            assert doc.startswith(prefix)
            if i != row["gold_index"]:  # "<title>) <text>" normalises as contains_answer's "<title> <text>" does
                assert not contains_answer(Passage("", doc[len(prefix) :]), nq["answers"][question]), (row["id"], i)


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_niah_needle_holds_the_answer_and_no_haystack_passage_does(rows, nq):
    for row in all_rows(rows, "smollm2_niah_600"):
        question, answer, prompt = row["gold_key"], row["messages"][1]["content"], row["messages"][0]["content"]
        paragraphs = niah_paragraphs(prompt)
        assert len(paragraphs) == row["num_dicts"] and row["gold_dict"] == ""
        assert "Document [" not in prompt and "Title:" not in prompt, "no titles or document numbers"
        needle = paragraphs[row["gold_index"]]
        gold_text = one_line(nq["gold"][question].text)
        assert needle == one_line(needle_sentence(nq["gold"][question].text, answer)) and needle in gold_text
        assert answer in nq["answers"][question] and normalize_answer(answer) in normalize_answer(needle)
        for i, text in enumerate(paragraphs):
            if i != row["gold_index"]:
                assert not contains_answer(Passage("", text), nq["answers"][question]), (row["id"], text[:60])
    niah = all_rows(rows, "smollm2_niah_600")
    needles = [niah_paragraphs(r["messages"][0]["content"])[r["gold_index"]] for r in niah]
    whole = sum(n == one_line(nq["gold"][r["gold_key"]].text) for n, r in zip(needles, niah, strict=True))
    assert whole < len(needles) / 5, "the needle is one sentence, the whole passage only for one-sentence passages"


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_no_eval_half_question_or_gold_passage_in_any_row(rows, nq):
    for name in NAMED:
        assert {row["gold_key"] for row in all_rows(rows, name)} <= nq["train"]
        # One string holding every prompt and answer: one substring search per eval-half question and passage.
        text = "\n\x00\n".join(m["content"] for row in all_rows(rows, name) for m in row["messages"])
        for q in nq["eval"]:
            assert q.question not in text, (name, q.question)
            assert q.gold.text not in text and one_line(q.gold.text) not in text, (name, q.gold.title)


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_train_and_test_use_disjoint_questions_in_file_order(rows):
    source = load_source(load_config("smollm2_mdqa_600"))
    usable = [q.question for q in source.questions]
    for name in NAMED:
        train = [row["gold_key"] for row in rows[name]["train"]]
        test = [row["gold_key"] for row in rows[name]["test"]]
        assert not set(train) & set(test) and len(set(train)) == len(train)
        assert train == usable[:800] and test == usable[800:978]


def small_yaml(tmp_path: Path, name: str, **overrides) -> str:
    values = {**yaml.safe_load((ROOT / "dataset_builder" / "configs" / f"{name}.yaml").read_text()), **overrides}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_same_config_gives_the_same_rows(smollm2_counter):
    for name in NAMED:
        cfg = load_config(name, {"train_size": 8, "test_size": 4})
        assert build_splits(cfg, smollm2_counter) == build_splits(cfg, smollm2_counter)


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_fixed_count_and_grid_positions(smollm2_counter):
    for name, n in (("smollm2_mdqa_600", 5), ("smollm2_niah_600", 4)):
        overrides = {"num_dicts": n, "max_tokens": 2048, "position_policy": "grid", "depths": [0.0, 0.5, 1.0]}
        cfg = load_config(name, {**overrides, "train_size": 0, "test_size": 6})
        test = build_splits(cfg, smollm2_counter)["test"]
        assert [r["num_dicts"] for r in test] == [n] * 6
        assert [r["gold_index"] for r in test] == [round(d * (n - 1)) for d in (0.0, 0.5, 1.0)] * 2
        assert all(r["num_tokens"] <= 2048 for r in test)


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_bad_source_file_is_one_clear_error(tmp_path, smollm2_counter):
    missing = small_yaml(tmp_path, "smollm2_mdqa_600", source_file=str(tmp_path / "nope.jsonl.gz"))
    cmd = [sys.executable, "-m", "dataset_builder", "build", "--out", str(tmp_path / "o"), "--configs", missing]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: config field 'source_file':") and "point it at" in result.stderr
    assert not (tmp_path / "o").exists()
    junk = tmp_path / "junk.jsonl.gz"
    junk.write_text("not gzip")
    with pytest.raises(ConfigError, match="config field 'source_file': .* is not Liu et al.'s NQ-Open oracle JSONL"):
        build_splits(load_config("smollm2_niah_600", {"source_file": str(junk)}), smollm2_counter)
    with pytest.raises(ConfigError, match=r"'train_size/test_size': 900 \+ 200 .* has 978 usable .* lower train_size"):
        build_splits(load_config("smollm2_niah_600", {"train_size": 900, "test_size": 200}), smollm2_counter)
    with pytest.raises(ConfigError, match="'source_file': is empty"):
        load_config("smollm2_mdqa_600", {"source_file": ""})


def test_fields_a_task_does_not_read_are_ignored_and_left_out_of_its_snapshot():
    # key_digits [4, 3] would be an error for a KV task; mdqa does not read it.
    mdqa = load_config("smollm2_mdqa_600", {"key_digits": [4, 3]})
    assert "key_digits" not in config_to_dict(mdqa) and config_to_dict(mdqa)["source_file"] == mdqa.source_file
    assert "source_file" not in config_to_dict(load_config("smollm2_kv_600"))
    with pytest.raises(ConfigError, match="'key_digits'"):
        load_config("smollm2_kv_600", {"key_digits": [4, 3]})


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_card_describes_the_baselines(built):
    card = (built / "README.md").read_text()
    assert "## Baseline configs: factual long-context data" in card
    for needle in (
        "nq-open-oracle-dev.jsonl.gz",
        "Train\nhalf only",
        "SHA-256",
        "MIT",
        "CC BY-SA 3.0",
        "- cc-by-sa-3.0",
    ):
        assert needle in card, needle
    assert "| `smollm2_mdqa_600` | mdqa | fill (mean 4.3) documents | 600 (smollm2) | uniform | 800/178 |" in card
    assert "| `smollm2_niah_600` | niah | fill (mean 5.4) paragraphs |" in card
    assert "key, value digits" not in card, "no KV columns for the baselines"
    assert "Write a high-quality answer for the given question" in card, "an mdqa example"
    assert "Read the following text and answer the question that comes after it." in card, "a niah example"


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_the_kv_configs_of_the_comparison(smollm2_counter):
    """The answer-template twin differs from smollm2_kv_600 only in the template; the held-out sets build, differ
    from their validation twins, and hold 8 / 20 dictionaries within their budget."""
    plain, template = (config_to_dict(load_config(n)) for n in ("smollm2_kv_600", "smollm2_kv_600_template"))
    differing = {k for k in plain if plain[k] != template[k]}
    assert differing == {"name", "description", "answer_template"} and template["answer_template"]
    for n in (8, 20):
        test, val = (
            build_splits(load_config(name, {"test_size": 10}), smollm2_counter)["test"]
            for name in (f"smollm2_kv_{n}", f"smollm2_kv_{n}_val")
        )
        assert {r["num_dicts"] for r in test + val} == {n} and max(r["num_tokens"] for r in test + val) <= 1280
        assert [r["gold_depth"] for r in test[:5]] == [round(d * (n - 1)) / (n - 1) for d in (0, 0.25, 0.5, 0.75, 1)]
        assert not {r["prompt"][0]["content"] for r in test} & {r["prompt"][0]["content"] for r in val}
