"""Data builders: MDQA (gold where asked, no distractor holds an answer, deterministic), Liu KV, synthetic KV."""

import gzip
import json
import re

import pytest
from fixture_data import TOPICS, liu_kv_rows, write_oracle, write_synthetic_dataset

from evaluation.liu_kv import build_liu_kv_examples
from evaluation.mdqa import build_mdqa_examples, load_original_mdqa
from evaluation.nq_closed import build_closed_book_examples
from evaluation.synthetic_kv import depth_label, load_synthetic_examples, select_configs
from evaluation.tasks import EvalConfigError, TaskConfig, load_task
from sources.files import read_jsonl
from sources.nq_open import Passage, contains_answer, load_nq_oracle


@pytest.fixture
def oracle(tmp_path):
    return load_nq_oracle(write_oracle(tmp_path / "nq-open-oracle-dev.jsonl.gz"))


DOC = re.compile(r"^Document \[(\d+)\]\(Title: (.*?)\) (.*)$", re.M)


def test_mdqa_gold_at_asked_position_and_no_distractor_has_an_answer(oracle):
    task = load_task("mdqa_10docs")
    examples = build_mdqa_examples(task, oracle, limit=len(TOPICS))
    assert len(examples) == len(TOPICS) * len(task.positions)
    for ex in examples:
        qi, pos = int(ex.id[2:].split("@")[0]), int(ex.position)
        docs = DOC.findall(ex.prompt)
        assert [int(d[0]) for d in docs] == list(range(1, task.num_docs + 1))
        gold = oracle[qi].gold
        assert (docs[pos - 1][1], docs[pos - 1][2]) == (gold.title, gold.text)
        for i, (_, title, text) in enumerate(docs):
            if i != pos - 1:
                assert not contains_answer(Passage(title, text), ex.answers), (ex.id, title)
        assert ex.prompt.startswith("Write a high-quality answer for the given question using only the provided")
        assert ex.prompt.endswith(f"Question: {oracle[qi].question}\nAnswer:")


def test_mdqa_excludes_passages_with_an_answer_even_when_lexically_closest(oracle):
    # "who won super bowl 51": LII's and LIII's passages are the closest and both mention the Patriots.
    prompt = build_mdqa_examples(load_task("mdqa_10docs"), oracle, limit=1)[0].prompt
    titles = [d[1] for d in DOC.findall(prompt)]
    assert "Super Bowl LII" not in titles and "Super Bowl LIII" not in titles
    # BM25 picks on-topic distractors first: the filler passages mention "super bowl".
    assert titles[1].startswith("Filler")


def test_mdqa_is_deterministic_and_positions_share_distractors(oracle):
    task = load_task("mdqa_10docs")
    first = build_mdqa_examples(task, oracle, limit=3)
    assert first == build_mdqa_examples(task, oracle, limit=3)
    by_pos = {ex.position: {d[1] for d in DOC.findall(ex.prompt)} for ex in first if ex.id.startswith("nq0@")}
    assert len({frozenset(v) for v in by_pos.values()}) == 1


def test_mdqa_reads_liu_original_files(tmp_path):
    task = TaskConfig(**{**load_task("mdqa_10docs").__dict__, "num_docs": 3, "positions": [1, 3]})
    for index in (0, 2):
        ctxs = [{"title": f"T{i}", "text": f"text {i}", "isgold": i == index} for i in range(3)]
        with gzip.open(tmp_path / f"nq-open-3_total_documents_gold_at_{index}.jsonl.gz", "wt") as handle:
            handle.write(json.dumps({"question": "q?", "answers": ["a"], "ctxs": ctxs}) + "\n")
    examples, files = load_original_mdqa(task, str(tmp_path), limit=None)
    assert [ex.position for ex in examples] == ["1", "3"] and len(files) == 2
    assert "Document [3](Title: T2) text 2" in examples[1].prompt


def test_closed_book_prompt_is_question_answer(oracle):
    ex = build_closed_book_examples(load_task("nq_closed"), oracle, limit=2)
    assert ex[0].prompt == "Question: who won super bowl 51\nAnswer:" and ex[0].answers == ["New England Patriots"]
    assert len(ex) == 2


@pytest.mark.parametrize("task_name", ["liu_kv", "liu_kv_10keys"])
def test_liu_kv_gold_first_middle_last_in_valid_json(task_name):
    task = load_task(task_name)
    rows = liu_kv_rows()
    examples = build_liu_kv_examples(task, rows, limit=None)
    assert len(examples) == len(rows) * len(task.positions)
    for ex in examples:
        block = ex.prompt.split("JSON data:\n", 1)[1].split("\n\nKey:", 1)[0]
        data = json.loads(block)  # valid JSON, keys in prompt order
        keys = list(data)
        row = rows[int(ex.id[2:].split("@")[0])]
        assert len(keys) == (task.num_pairs or 75)
        assert keys.index(row["key"]) == int(ex.position) - 1 and data[row["key"]] == row["value"]
        assert ex.prompt.endswith(f'Key: "{row["key"]}"\nCorresponding value:') and ex.answers == [row["value"]]
    positions = {ex.position for ex in examples}
    assert positions == {str(p) for p in task.positions} and min(task.positions) == 1


def test_liu_kv_subsample_is_seeded_and_shared_across_positions():
    task = load_task("liu_kv_10keys")
    a = build_liu_kv_examples(task, liu_kv_rows(1), limit=None, seed=0)
    assert a == build_liu_kv_examples(task, liu_kv_rows(1), limit=None, seed=0)
    key_sets = {frozenset(json.loads(e.prompt.split("JSON data:\n")[1].split("\n\nKey:")[0])) for e in a}
    assert len(key_sets) == 1


def test_read_jsonl_plain_and_gz(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"x": 1}\n\n{"x": 2}\n')
    assert [r["x"] for r in read_jsonl(tmp_path / "a.jsonl")] == [1, 2]


def test_synthetic_kv_reads_dataset_folder_and_labels_depths(tmp_path):
    root = write_synthetic_dataset(tmp_path / "ds", rows_per_config=6)
    examples = load_synthetic_examples(load_task("synthetic_kv"), str(root), limit=1)
    # limit = rows per position: 1 row of the random-depth test set, 1 per depth of the 3-depth sweep
    assert len(examples) == 4
    assert examples[0].gold == {"value": 100, "dict": "1", "task": "simple_kv"}
    assert examples[0].prompt.startswith("Dictionary [1]")
    assert [e.position for e in examples[1:]] == [
        "smollm2_kv_600_sweep depth 0.00",
        "smollm2_kv_600_sweep depth 0.50",
        "smollm2_kv_600_sweep depth 1.00",
    ]


def test_synthetic_config_selection_and_depth_bins():
    assert select_configs(["a", "*_sweep"], ["a", "b", "a_sweep"]) == ["a", "a_sweep"]
    with pytest.raises(EvalConfigError, match="not found"):
        select_configs(["missing"], ["a"])
    assert depth_label("smollm2_kv_600", 0.61) == "smollm2_kv_600 depth 0.50"
