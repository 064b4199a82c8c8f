"""Model card: rendered only from results files, read back with ModelCard.load, same numbers."""

import json

import pytest
from huggingface_hub import ModelCard

from evaluation.data import EvalExample
from evaluation.results import build_results, load_results, write_results
from evaluation.tasks import load_task
from model_cards.__main__ import main as cards_main
from model_cards.render import PLOT_NAME, inputs_from_folders, write_card


def write_fixture_results(folder, task_name, hits_by_position, model="base"):
    """A real results file (through build_results) where position p has hits_by_position[p] of 10 right."""
    task = load_task(task_name)
    examples, predictions = [], []
    for pos, hits in hits_by_position.items():
        for i in range(10):
            examples.append(EvalExample(f"q{i}@{pos}", pos, "prompt", ["gold answer"]))
            predictions.append("gold answer" if i < hits else "wrong")
    results, scores = build_results(
        task,
        examples,
        predictions,
        model={"path_or_id": model},
        data_files=[],
        variant=task.variant,
        limit=10,
        generation={"precision": "fp32", "max_new_tokens": task.max_new_tokens},
        seconds=1.0,
    )
    write_results(folder, results, examples, predictions, scores)
    return results


@pytest.fixture
def result_folders(tmp_path):
    base, ft = tmp_path / "base", tmp_path / "ft"
    write_fixture_results(base, "mdqa_10docs", {"1": 6, "5": 2, "10": 4})
    write_fixture_results(ft, "mdqa_10docs", {"1": 7, "5": 5, "10": 5}, model="ft")
    write_fixture_results(base, "nq_closed", {"closed-book": 3})
    write_fixture_results(ft, "nq_closed", {"closed-book": 3}, model="ft")
    return base, ft


def test_card_round_trip_has_the_results_numbers(result_folders, tmp_path):
    base, ft = result_folders
    inputs = inputs_from_folders(base, ft, "someone/SmolLM2-135M-kv", datasets=["someone/kv-data"])
    path = write_card(inputs, tmp_path / "card")
    card = ModelCard.load(path)

    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert card.data.license == "apache-2.0" and card.data.datasets == ["someone/kv-data"]
    got = {r.dataset_config: r.metric_value for r in card.data.eval_results}
    ft_results = load_results(ft)
    assert got["mdqa_10docs/5"] == ft_results["mdqa_10docs"]["by_position"]["5"]["best_subspan_em"]["score"] == 0.5
    assert got["mdqa_10docs/overall"] == pytest.approx(17 / 30, abs=1e-4)
    assert got["nq_closed/overall"] == 0.3
    # model-index is what the Hub reads: the YAML header must carry it
    assert "model-index" in card.content.split("---")[1]
    # the table shows base and finetuned side by side for each position
    row = next(line for line in card.text.splitlines() if line.startswith("| mdqa_10docs | 5 |"))
    assert "20.0" in row and "50.0" in row and "+30.0" in row
    assert (tmp_path / "card" / PLOT_NAME).stat().st_size > 1000
    assert f"]({PLOT_NAME})" in card.text
    assert "offline: gold + 9 BM25-closest" in card.text  # the variant behind each number
    assert "python -m training.sft --config" in card.text
    assert "**mdqa_10docs**: finetuned 56.7 vs base 40.0 (+16.7 points, n=30): not distinguishable" in card.text


def test_card_cli_fails_clearly_without_results(tmp_path, capsys):
    rc = cards_main(
        [
            "--base-results",
            str(tmp_path / "a"),
            "--finetuned-results",
            str(tmp_path / "b"),
            "--out",
            str(tmp_path / "o"),
            "--model-id",
            "x/y",
        ]
    )
    assert rc == 2 and "no results files" in capsys.readouterr().err


def test_results_file_records_provenance(result_folders):
    base, _ = result_folders
    data = json.loads((base / "mdqa_10docs.json").read_text())
    assert data["task_version"] == 1 and data["limit"] == 10 and data["harness"]["git_commit"]
    entry = data["by_position"]["1"]["best_subspan_em"]
    assert entry["score"] == 0.6 and entry["n"] == 10 and entry["ci95"][0] < 0.6 < entry["ci95"][1]
    assert len((base / "mdqa_10docs.samples.jsonl").read_text().splitlines()) == 30


def test_findings_use_a_two_proportion_test():
    from model_cards.render import two_proportion_p

    assert two_proportion_p(29, 90, 15, 90) == pytest.approx(0.0152, abs=5e-4)  # 32% vs 17%: significant
    assert two_proportion_p(5, 10, 5, 10) == 1.0
    assert two_proportion_p(0, 10, 0, 10) == 1.0  # no variance: no evidence either way
