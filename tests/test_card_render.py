"""Model card: rendered only from results files, read back with ModelCard.load, same numbers."""

import json

import pytest
from fixture_data import write_fixture_results, write_general_run
from huggingface_hub import ModelCard

from evaluation.results import load_results
from evaluation.tasks import load_task
from infra.cli import UserError
from model_cards.__main__ import main as reports_main
from model_cards.card import PLOT_NAME, inputs_from_folders, write_card


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
    got = {(r.dataset_config, r.metric_config): r.metric_value for r in card.data.eval_results}
    ft_results = load_results(ft)
    assert (
        got["mdqa_10docs", "position 5"] == ft_results["mdqa_10docs"]["by_position"]["5"]["best_subspan_em"]["score"]
    )
    assert got["mdqa_10docs", "position 5"] == 0.5
    assert got["mdqa_10docs", "overall"] == pytest.approx(17 / 30, abs=1e-4)
    assert got["nq_closed", "overall"] == 0.3
    # each number links to the results file shipped beside the card, which holds it
    sources = {r.dataset_config: r.source_url for r in card.data.eval_results}
    assert (
        sources["nq_closed"]
        == "https://huggingface.co/someone/SmolLM2-135M-kv/blob/main/eval_results/finetuned/nq_closed.json"
    )
    shipped = json.loads((tmp_path / "card" / "eval_results" / "finetuned" / "nq_closed.json").read_text())
    assert shipped == ft_results["nq_closed"]
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


def card_cli(base, ft, out, *extra):
    return reports_main(
        [
            "card",
            "--base-results",
            str(base),
            "--finetuned-results",
            str(ft),
            "--out",
            str(out),
            "--model-id",
            "x/y",
            *extra,
        ]
    )


def test_card_cli_refuses_a_missing_or_misspelled_results_folder(result_folders, tmp_path, capsys):
    base, ft = result_folders
    assert card_cli(base, tmp_path / "finetund", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: results folder") and "finetund does not exist" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_card_cli_refuses_results_of_another_schema(result_folders, tmp_path, capsys):
    base, ft = result_folders
    old = json.loads((ft / "nq_closed.json").read_text())
    (ft / "nq_closed.json").write_text(json.dumps({**old, "schema": 1}))
    assert card_cli(base, ft, tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "nq_closed.json has results schema 1, this code reads schema 2" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_synthetic_entries_name_their_hub_config_and_revision(tmp_path):
    base, ft = tmp_path / "base", tmp_path / "ft"
    positions = {
        "smollm2_kv_600 depth 0.50": 3,
        "smollm2_kv_600_sweep depth 0.00": 4,
        "smollm2_kv_600_sweep depth 1.00": 8,
    }
    write_fixture_results(base, "synthetic_kv", dict.fromkeys(positions, 0))
    write_fixture_results(ft, "synthetic_kv", positions, model="ft")
    inputs = inputs_from_folders(base, ft, "me/m", datasets=["me/kv"], dataset_revision="0123abcd")
    results = ModelCard.load(write_card(inputs, tmp_path / "card")).data.eval_results
    got = {(r.dataset_config, r.metric_config, r.metric_type): r.metric_value for r in results}
    assert got["smollm2_kv_600", "overall", "both"] == 0.3  # per config, not pooled with the sweep
    assert got["smollm2_kv_600_sweep", "overall", "both"] == 0.6
    assert got["smollm2_kv_600_sweep", "depth 1.00", "both"] == 0.8
    assert {(r.dataset_type, r.dataset_revision, r.dataset_split) for r in results} == {("me/kv", "0123abcd", "test")}


def test_card_out_it_did_not_write_is_refused(result_folders, tmp_path, capsys):
    base, ft = result_folders
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").write_text("the user's own card")
    assert card_cli(base, ft, model) == 2 and "did not write it" in capsys.readouterr().err
    assert (model / "README.md").read_text() == "the user's own card"
    assert card_cli(base, ft, model, "--force") == 0 and (model / PLOT_NAME).is_file()


def test_results_file_records_provenance(result_folders):
    base, _ = result_folders
    data = json.loads((base / "mdqa_10docs.json").read_text())
    assert data["task_version"] == load_task("mdqa_10docs").version  # the declared task's, whatever it is now
    assert data["limit"] == 10 and data["harness"]["git_commit"]
    entry = data["by_position"]["1"]["best_subspan_em"]
    assert entry["score"] == 0.6 and entry["n"] == 10 and entry["ci95"][0] < 0.6 < entry["ci95"][1]
    assert len((base / "mdqa_10docs.samples.jsonl").read_text().splitlines()) == 30


def test_findings_use_the_paired_test_of_the_paper_table(result_folders, tmp_path):
    """Same prompts, so the card pairs them as the paper table does: 5 prompts only the finetuned model gets right,
    none only the base: exact McNemar p = 2 / 2**5 = 0.0625 (an unpaired z-test on 12/30 vs 17/30 would say 0.20)."""
    from evaluation.metrics import mcnemar_p
    from model_cards.card import findings

    base, ft = result_folders
    lines = findings(inputs_from_folders(base, ft, "me/m"))
    mdqa = next(line for line in lines if "**mdqa_10docs**" in line)
    assert mcnemar_p(5, 0) == 0.0625 and "(paired McNemar p=0.06)" in mdqa and "+16.7 points, n=30" in mdqa
    other = tmp_path / "other"  # the finetuned model on other prompts: nothing to pair, so no verdict
    write_fixture_results(other, "mdqa_10docs", {"1": 7, "5": 5, "20": 5}, model="ft")
    with pytest.raises(ValueError, match="do not pair up"):
        findings(inputs_from_folders(base, other, "me/m"))


def test_card_refuses_base_and_finetuned_of_two_evaluation_settings(result_folders, tmp_path, capsys):
    base, ft = result_folders
    record = json.loads((ft / "nq_closed.json").read_text())
    record["eval_setting"] = {**record["eval_setting"], "batch_size": 8, "precision": "bf16"}
    (ft / "nq_closed.json").write_text(json.dumps(record))
    assert card_cli(base, ft, tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "different evaluation settings" in err and "finetuned/nq_closed: batch_size 8" in err
    assert not (tmp_path / "o").exists()


def test_a_table_section_of_another_setting_is_flagged_on_the_card():
    from model_cards.card import setting_note

    card = {"batch_size": 8, "max_batch_tokens": 8192, "precision": "bf16"}
    assert setting_note({"eval_setting": card}, card) == ""
    note = setting_note({"eval_setting": {**card, "batch_size": 64}}, card)
    assert "another evaluation setting (batch_size 64" in note and "(batch_size 8," in note


def test_general_benchmarks_join_the_model_index_under_lm_evals_names_with_their_paired_change(
    result_folders, tmp_path
):
    base, ft = result_folders
    # MMLU: 10 items, base 4 right, finetuned 7 (3 gained, none lost); HellaSwag unchanged
    gb = write_general_run(tmp_path / "general/base", {"mmlu": [1] * 4 + [0] * 6, "hellaswag": [1, 0, 1, 0]})
    gf = write_general_run(tmp_path / "general/ft", {"mmlu": [1] * 7 + [0] * 3, "hellaswag": [1, 0, 1, 0]})
    inputs = inputs_from_folders(base, ft, "someone/SmolLM2-135M-kv", general_dirs=(gb, gf))
    card = ModelCard.load(write_card(inputs, tmp_path / "card"))
    general = {r.task_name: r for r in card.data.eval_results if r.task_name in ("mmlu", "hellaswag")}
    assert general["mmlu"].metric_type == "acc" and general["mmlu"].metric_value == 0.7
    assert general["mmlu"].dataset_type == "cais/mmlu" and general["hellaswag"].metric_value == 0.5
    text = card.text
    assert "| MMLU | acc | 10 | 40.0 | 70.0 | +30.0 (p=0.25) |" in text  # exact McNemar, 3 discordant: 2/8
    assert "| HellaSwag | acc_norm | 4 | 50.0 | 50.0 | +0.0 (p=1) |" in text


def test_a_missing_general_run_is_one_error_naming_the_stage(result_folders, tmp_path):
    base, ft = result_folders
    gb = write_general_run(tmp_path / "general/base", {"mmlu": [1, 0]})
    with pytest.raises(UserError, match=r"general/ft/summary.json is missing; run the general stage"):
        inputs_from_folders(base, ft, "someone/m", general_dirs=(gb, tmp_path / "general/ft"))
