"""The seed-spread report: per row group and column, each seed's paired change from the base, mean and min-max, and
whether the effect exceeds the spread (every seed's change on one side of zero)."""

from __future__ import annotations

import json

import pytest
from fixture_data import write_fixture_results, write_general_run

from evaluation.metrics import mcnemar_p
from model_cards.__main__ import main as reports_main
from model_cards.seed_spread import seeds_of

# task -> the positions its examples carry (write_fixture_results writes 10 examples per position)
POSITIONS = {
    "synthetic_kv_ood": ["smollm2_kv_8 depth 0.00"],
    "mdqa_10docs": ["1", "5", "10"],
    "mdqa_20docs_at10": ["10"],
    "nq_closed": ["closed-book"],
}


def write_row(folder, kv_hits: int, nq_hits: int) -> None:
    """Right answers of 10 per position: KV and NQ as given, MDQA 5 everywhere."""
    for task, positions in POSITIONS.items():
        hits = kv_hits if task == "synthetic_kv_ood" else nq_hits if task == "nq_closed" else 5
        write_fixture_results(folder, task, {p: hits for p in positions}, model=folder.name)


@pytest.fixture()
def results(tmp_path):
    root = tmp_path / "results"
    write_row(root / "base", kv_hits=1, nq_hits=5)
    # KV: +50, +70, +90 points: every seed gains; NQ: -10, 0, +10 points: the seeds disagree
    for seed, (kv, nq) in enumerate([(6, 4), (8, 5), (10, 6)]):
        write_row(root / f"synthetic_seed{seed}", kv_hits=kv, nq_hits=nq)
    return root


def test_spread_reports_mean_range_and_whether_the_effect_exceeds_it(results, tmp_path):
    out = tmp_path / "spread"
    models = "base,synthetic_seed0,synthetic_seed1,synthetic_seed2"
    assert reports_main(["seed-spread", "--results", str(results), "--models", models, "--out", str(out)]) == 0
    table = json.loads((out / "spread.json").read_text())
    kv = table["groups"]["synthetic"]["KV value, 8/20 dicts"]
    assert kv["seeds"] == 3 and kv["score_range"] == [0.6, 1.0] and kv["score_mean"] == pytest.approx(0.8)
    assert kv["delta_range"] == [pytest.approx(0.5), pytest.approx(0.9)] and kv["exceeds_spread"]
    # each seed's change is the exact paired test on the same prompts (the first k of 10 right in both: no losses)
    assert kv["per_seed"]["synthetic_seed0"]["mcnemar_p"] == pytest.approx(mcnemar_p(5, 0))
    nq = table["groups"]["synthetic"]["NQ closed-book"]
    assert nq["delta_range"] == [pytest.approx(-0.1), pytest.approx(0.1)] and not nq["exceeds_spread"]
    mdqa = table["groups"]["synthetic"]["MDQA 20 docs @10"]
    assert mdqa["delta_mean"] == 0 and not mdqa["exceeds_spread"], "no change is not an effect"
    text = (out / "spread.md").read_text()
    assert "| synthetic (3 seeds) | 80.0 [60.0-100.0]<br>+70.0 [+50.0, +90.0] ✓" in text
    assert "synthetic, NQ closed-book: mean change +0.0 points over 3 seeds" in text and "does not exceed" in text


def test_labels_group_by_their_seed_suffix_and_one_without_is_refused(results, tmp_path, capsys):
    assert seeds_of(["synthetic_seed0", "mdqa_seed0", "synthetic_seed1"]) == {
        "synthetic": ["synthetic_seed0", "synthetic_seed1"],
        "mdqa": ["mdqa_seed0"],
    }
    (results / "synthetic").mkdir()
    argv = ["seed-spread", "--results", str(results), "--models", "base,synthetic", "--out", str(tmp_path / "o")]
    assert reports_main(argv) == 2
    assert "model label 'synthetic' has no _seed<k> suffix" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_general_columns_join_the_spread_paired_with_the_base_on_the_same_items(results, tmp_path):
    general = tmp_path / "general"
    write_general_run(general / "base", {"hellaswag": [1, 1, 0, 0], "triviaqa": [0, 0, 0, 0]})
    # HellaSwag: -50, -25, -50 points (every seed loses); TriviaQA: +25, 0, 0 (one seed gains, two do not)
    runs = [(0, [0, 0, 0, 0], [1, 0, 0, 0]), (1, [1, 0, 0, 0], [0] * 4), (2, [0] * 4, [0] * 4)]
    for seed, hellaswag, triviaqa in runs:
        write_general_run(general / f"synthetic_seed{seed}", {"hellaswag": hellaswag, "triviaqa": triviaqa})
    out = tmp_path / "spread"
    models = "base,synthetic_seed0,synthetic_seed1,synthetic_seed2"
    argv = ["seed-spread", "--results", str(results), "--models", models, "--out", str(out), "--general", str(general)]
    assert reports_main(argv) == 0
    table = json.loads((out / "spread.json").read_text())
    assert table["columns"][-2:] == ["hellaswag", "triviaqa"] and table["base_cells"]["hellaswag"]["score"] == 0.5
    hellaswag, triviaqa = (table["groups"]["synthetic"][c] for c in ("hellaswag", "triviaqa"))
    assert hellaswag["delta_range"] == [-0.5, -0.25] and hellaswag["exceeds_spread"]
    assert hellaswag["per_seed"]["synthetic_seed0"]["mcnemar_p"] == pytest.approx(mcnemar_p(0, 2))
    assert triviaqa["delta_range"] == [0.0, 0.25] and not triviaqa["exceeds_spread"]
    text = (out / "spread.md").read_text()
    assert "synthetic, hellaswag: mean change -41.7 points over 3 seeds (range -50.0 to -25.0): exceeds" in text


def test_a_seed_without_its_general_run_is_one_error_naming_the_stage(results, tmp_path, capsys):
    general = tmp_path / "general"
    for label in ("base", "synthetic_seed0", "synthetic_seed1"):
        write_general_run(general / label, {"hellaswag": [1, 0]})
    models = "base,synthetic_seed0,synthetic_seed1,synthetic_seed2"
    out = tmp_path / "spread"
    argv = ["seed-spread", "--results", str(results), "--models", models, "--out", str(out), "--general", str(general)]
    assert reports_main(argv) == 2
    err = capsys.readouterr().err
    assert "synthetic_seed2/summary.json is missing; run the general stage" in err and err.count("\n") == 1
    assert not out.exists()


def test_the_card_carries_the_spread_once_make_seed_spread_has_run(results, tmp_path, capsys):
    spread_dir, card = tmp_path / "spread", tmp_path / "card"
    models = "base,synthetic_seed0,synthetic_seed1,synthetic_seed2"
    assert reports_main(["seed-spread", "--results", str(results), "--models", models, "--out", str(spread_dir)]) == 0
    argv = ["card", "--base-results", str(results / "base"), "--finetuned-results", str(results / "synthetic_seed0")]
    argv += ["--model-id", "x/y", "--out", str(card)]
    assert reports_main([*argv, "--seed-spread", str(spread_dir / "spread.json")]) == 0
    text = (card / "README.md").read_text()
    assert "## Larger than another seed?" in text
    assert "| synthetic (3 seeds) | 80.0 [60.0-100.0]<br>+70.0 [+50.0, +90.0] ✓" in text
    assert "synthetic, NQ closed-book: mean change +0.0 points over 3 seeds" in text
    assert json.loads((card / "seed_spread.json").read_text()) == json.loads((spread_dir / "spread.json").read_text())
    # a spread that was never written is one error naming its make target; the card is not (re)written
    missing = [*argv[:-1], str(tmp_path / "card2"), "--seed-spread", str(tmp_path / "none/spread.json")]
    assert reports_main(missing) == 2
    err = capsys.readouterr().err
    assert "none/spread.json not found; run `make seed-spread`" in err and not (tmp_path / "card2").exists()
