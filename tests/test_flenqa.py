"""FLenQA for Hub users (evaluation/flenqa/): the authors' prompts and their true/false reading, run through lm-eval
on a local fixture in FLenQA's schema (tests/fixtures/flenqa_sample.jsonl: one PIR, MonoRel and RuleTaker row)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TASK_DIR = ROOT / "evaluation" / "flenqa"
FIXTURE = ROOT / "tests" / "fixtures" / "flenqa_sample.jsonl"


def load_utils():
    spec = importlib.util.spec_from_file_location("flenqa_utils", TASK_DIR / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


utils = load_utils()
ROWS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]


def test_prompts_are_the_authors_per_task_with_and_without_chain_of_thought():
    pir, monorel, ruletaker = ROWS
    assert utils.doc_to_text(pir) == (
        f"{pir['mixin']}\nTrue/False Question: Is Mary in the kitchen?\nAnswer only True or False.\n"
    )
    assert utils.doc_to_text_cot(pir).startswith("Show your steps then answer with ’true’ or ’false’.\n")
    assert utils.doc_to_text(monorel).endswith(
        f"{monorel['mixin']}\nIs Cy older than Ann?\nAnswer only True or False.\n"
    )
    rule = utils.doc_to_text(ruletaker)
    assert "statement Dave is happy. can be derived" in rule and f"Rule: {ruletaker['rule']}\nFacts: " in rule


@pytest.mark.parametrize(
    ("response", "category"),
    [
        ("True", "true"),
        ("False.", "false"),
        ("It is not true that Cy is older.", "false"),
        ("At first false, but step 3 shows it is true", "true"),
        ("I cannot tell.", "other/refused"),
    ],
)
def test_the_answer_is_the_last_true_or_false_as_the_authors_read_it(response, category):
    assert utils.response_category(response) == category


def test_a_label_stored_as_bool_or_string_scores_the_same():
    assert utils.process_results({"label": True}, ["True"]) == {"acc": 1}
    assert utils.process_results({"label": "False"}, ["The answer is true"]) == {"acc": 0}
    assert utils.process_results({"label": "False"}, ["I refuse"]) == {"acc": 0}, "a refusal is wrong"


@pytest.mark.integration  # lm-eval indexes its stock tasks, then generates on the tiny model (~30 s)
def test_the_task_runs_through_lm_eval_on_a_local_fixture(tiny_model, tmp_path):
    from evaluation.harness import run_lm_eval

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "flenqa_local.yaml").write_text(
        f"include: {TASK_DIR / 'flenqa.yaml'}\ntask: flenqa_local\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    eval: {FIXTURE}\n"
    )
    summary = run_lm_eval(
        str(tiny_model), ["flenqa_local"], tmp_path / "out", data="hub", include_path=str(tasks), precision="fp32"
    )
    assert summary["n_samples"]["flenqa_local"]["effective"] == 3
    rows = [json.loads(line) for line in (tmp_path / "out/samples/flenqa_local.jsonl").read_text().splitlines()]
    # each item's score is the authors' reading of the tiny model's own response
    assert [r["acc"] for r in rows] == [utils.process_results(ROWS[r["doc_id"]], [r["response"]])["acc"] for r in rows]
