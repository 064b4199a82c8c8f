"""Data builders: MDQA (gold where asked, no distractor holds an answer, deterministic), Liu KV, synthetic KV."""

import gzip
import json
import re

import pytest

from evaluation.data import read_jsonl
from evaluation.liu_kv import build_liu_kv_examples
from evaluation.mdqa import (
    Passage,
    build_mdqa_examples,
    contains_answer,
    load_nq_oracle,
    load_original_mdqa,
)
from evaluation.nq_closed import build_closed_book_examples
from evaluation.synthetic_kv import depth_label, load_synthetic_examples, select_configs
from evaluation.tasks import EvalConfigError, TaskConfig, load_task

TOPICS = [
    (
        "Super Bowl LI",
        "Super Bowl LI was won by the New England Patriots over the Atlanta Falcons.",
        "who won super bowl 51",
        ["New England Patriots"],
    ),
    (
        "Super Bowl LII",
        "Super Bowl LII was won by the Philadelphia Eagles over the New England Patriots.",
        "who won super bowl 52",
        ["Philadelphia Eagles"],
    ),
    (
        "Super Bowl LIII",
        "Super Bowl LIII was won by the New England Patriots against the Los Angeles Rams.",
        "who won super bowl 53",
        ["the Patriots"],
    ),
    (
        "Nobel Prize in Physics",
        "The first Nobel Prize in Physics went to Wilhelm Conrad Röntgen in 1901.",
        "who won the first nobel prize in physics",
        ["Wilhelm Conrad Röntgen"],
    ),
    (
        "Deadpool 2",
        "Deadpool 2 was released in the United States on May 18, 2018.",
        "when is the next deadpool movie released",
        ["May 18, 2018"],
    ),
]


def write_oracle(path, n_extra=40):
    rows = []
    for title, text, question, answers in TOPICS:
        rows.append(
            {
                "question": question,
                "answers": answers,
                "ctxs": [{"title": title, "text": text, "hasanswer": True, "isgold": True}],
            }
        )
    for i in range(n_extra):  # filler questions: every question has enough answer-free distractors in its NQ half
        rows.append(
            {
                "question": f"what is filler fact {i}",
                "answers": [f"filler answer {i}"],
                "ctxs": [
                    {
                        "title": f"Filler {i}",
                        "text": f"Filler fact {i} is filler answer {i} about super bowl",
                        "hasanswer": True,
                        "isgold": True,
                    }
                ],
            }
        )
    with gzip.open(path, "wt") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


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


def kv_rows(n=3, pairs=75):
    rows = []
    for r in range(n):
        records = [[f"key-{r}-{i:02d}", f"value-{r}-{i:02d}"] for i in range(pairs)]
        rows.append({"ordered_kv_records": records, "key": records[40][0], "value": records[40][1]})
    return rows


@pytest.mark.parametrize("task_name", ["liu_kv", "liu_kv_10keys"])
def test_liu_kv_gold_first_middle_last_in_valid_json(task_name):
    task = load_task(task_name)
    rows = kv_rows()
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
    a = build_liu_kv_examples(task, kv_rows(1), limit=None, seed=0)
    assert a == build_liu_kv_examples(task, kv_rows(1), limit=None, seed=0)
    key_sets = {frozenset(json.loads(e.prompt.split("JSON data:\n")[1].split("\n\nKey:")[0])) for e in a}
    assert len(key_sets) == 1


def test_read_jsonl_plain_and_gz(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"x": 1}\n\n{"x": 2}\n')
    assert [r["x"] for r in read_jsonl(tmp_path / "a.jsonl")] == [1, 2]


def write_synthetic_dataset(root, configs=("smollm2_kv_600", "smollm2_kv_600_sweep"), rows_per_config=4):
    """A tiny Hub-layout dataset folder with rows in the dataset builder's schema."""
    import datasets

    for config in configs:
        rows = []
        for i in range(rows_per_config):
            # a sweep cycles through fixed depths (as the builder writes it); a test set has random ones
            depth = [0.0, 0.5, 1.0][i % 3] if config.endswith("_sweep") else i / (rows_per_config - 1)
            prompt = f"Dictionary [{i + 1}] {{11: {100 + i}}}\nReport the value of key 11 and the dictionary it is in."
            answer = f"The value of key 11 is {100 + i} and it is in Dictionary [{i + 1}]."
            rows.append(
                {
                    "id": f"{config}-test-{i}",
                    "task": "simple_kv",
                    "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                    "prompt": [{"role": "user", "content": prompt}],
                    "completion": [{"role": "assistant", "content": answer}],
                    "gold_key": "11",
                    "gold_value": 100 + i,
                    "gold_dict": str(i + 1),
                    "gold_index": i,
                    "gold_depth": depth,
                    "num_dicts": rows_per_config,
                    "num_tokens": 40,
                }
            )
        folder = root / "data" / config
        folder.mkdir(parents=True)
        datasets.Dataset.from_list(rows).to_parquet(str(folder / "test-00000-of-00001.parquet"))
    configs_yaml = "".join(
        f"- config_name: {c}\n  data_files:\n  - split: test\n    path: data/{c}/test-*\n" for c in configs
    )
    (root / "README.md").write_text(f"---\nconfigs:\n{configs_yaml}---\n# tiny\n")
    from dataset_builder.publish import COMMAND
    from infra.outputs import mark

    mark(root, COMMAND, kind="dataset")  # as the dataset builder leaves it: a folder its push may upload
    return root


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
