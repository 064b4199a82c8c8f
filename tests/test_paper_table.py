"""The paper table from results files: paired McNemar p-values, position gaps, the KV-phrasing probe, files written.

Results folders are written by the evaluation's own writer (``evaluation.results``) from hand-made predictions,
so every number the table prints is known here in advance.
"""

from __future__ import annotations

import json

import pytest
from fixture_data import write_general_run

from evaluation.data import EvalExample
from evaluation.metrics import mcnemar_p
from evaluation.results import build_results, write_results
from evaluation.tasks import load_task
from model_cards import paper_table
from model_cards.__main__ import main as reports_main


def table_main(argv: list[str]) -> int:
    return reports_main(["paper-table", *argv])


def card_main(argv: list[str]) -> int:
    return reports_main(["card", *argv])


KV_ANSWER = "The value of key 12 is 34 and it is in Dictionary [2]."
# What evaluation.runner.model_record adds for a model trained here (read from its trainer_state.json).
TRAINING = {"synthetic": {"training": {"global_step": 100, "train_runtime_s": 120.0}}}


def examples_for(task_name: str, n: int) -> list[EvalExample]:
    task = load_task(task_name)
    if task.suite == "synthetic_kv":
        return [
            EvalExample(f"kv{i}", f"smollm2_kv_8 depth {i % 2:.2f}", "p", ["34"], {"value": 34, "dict": "2"}, "c")
            for i in range(n)
        ]
    positions = [str(p) for p in task.positions] if task.positions else ["closed-book"]
    return [EvalExample(f"q{i}@{p}", p, "p", ["paris"]) for i in range(n) for p in positions]


def write_model(folder, predict) -> None:
    """One results folder: every table task, predictions from ``predict(task_name, example)``."""
    for name in {c.task for c in paper_table.COLUMNS} | set(paper_table.NON_KV_TASKS):
        task = load_task(name)
        examples = examples_for(name, 10)
        predictions = [predict(name, ex) for ex in examples]
        results, scores = build_results(
            task,
            examples,
            predictions,
            model={"path_or_id": str(folder), **TRAINING.get(folder.name, {})},
            data_files=[],
            variant="test",
            limit=10,
            generation={"precision": "fp32", "max_new_tokens": task.max_new_tokens, "decoding": "greedy"},
            seconds=1.0,
            commit="abc",
        )
        write_results(folder, results, examples, predictions, scores)


def base_predict(task, ex):
    if task.startswith("synthetic"):
        return "I do not know"
    return "paris" if ex.id.startswith(("q0", "q1", "q2")) else "london"


def tuned_predict(task, ex):
    if task.startswith("synthetic"):
        return KV_ANSWER
    if task == "nq_closed":  # loses 2 of the base's 3 right answers, with the KV phrasing: format leakage
        return "paris" if ex.id.startswith("q0") else "The answer is in Dictionary [3]."
    if task == "mdqa_20docs":  # right everywhere but at the middle position
        return "london" if ex.position == "10" else "paris"
    return base_predict(task, ex)


@pytest.fixture()
def results(tmp_path):
    root = tmp_path / "results"
    write_model(root / "base", base_predict)
    write_model(root / "synthetic", tuned_predict)
    return root


def test_table_pairs_examples_and_reports_deltas_gaps_and_leakage(results, tmp_path):
    out = tmp_path / "table"
    assert table_main(["--results", str(results), "--models", "base,synthetic", "--out", str(out)]) == 0
    table = json.loads((out / "table.json").read_text())
    tuned = table["models"]["synthetic"]
    kv = tuned["cells"]["KV value, 8/20 dicts"]
    assert (kv["score"], kv["delta"], kv["n"]) == (1.0, 1.0, 10)
    assert kv["mcnemar_p"] == pytest.approx(mcnemar_p(10, 0))  # 10 discordant pairs, all one way: p = 2/1024
    nq = tuned["cells"]["NQ closed-book"]
    assert (nq["score"], nq["delta"]) == (pytest.approx(0.1), pytest.approx(-0.2))
    assert nq["mcnemar_p"] == pytest.approx(mcnemar_p(0, 2))  # two right answers lost, none gained: p = 0.5
    assert tuned["position_gap"]["mdqa_20docs"] == pytest.approx(1.0)  # 100% at 1 and 20, 0% at 10
    assert table["models"]["base"]["position_gap"]["mdqa_20docs"] == pytest.approx(0.0)
    # leakage: 9 of the 10 closed-book answers (all but q0) use the KV phrasing, none of the MDQA / Liu answers
    n_non_kv = tuned["kv_phrasing"]["n"]
    assert tuned["kv_phrasing"]["leaked"] == 9 and table["models"]["base"]["kv_phrasing"]["leaked"] == 0
    assert n_non_kv == 10 * 3 + 10 * 5 + 10 * 3 + 10  # mdqa_10docs x3, mdqa_20docs x5, liu_kv_10keys x3 positions, NQ
    # the position curve (the paper's Figure 5): every position, right everywhere but the middle one
    curve = paper_table.position_curve(table, "synthetic")
    assert [(pos, score) for pos, score, _, _ in curve] == [(1, 1.0), (5, 1.0), (10, 0.0), (15, 1.0), (20, 1.0)]
    assert all(low <= score <= high for _, score, low, high in curve)
    assert (out / "positions.png").stat().st_size > 0
    markdown = (out / "table.md").read_text()
    assert "| synthetic | 100.0 [" in markdown and "-20.0, p=0.500" in markdown
    # compute: each suite's recorded generation time (1 s each here) and the training time the results recorded
    compute = table["models"]["base"]["compute"]
    assert compute["train_s"] is None and set(compute["eval_s"].values()) == {1.0} and len(compute["eval_s"]) == 5
    assert table["models"]["synthetic"]["compute"]["train_s"] == 120.0
    assert "base 0.0 + 0.1, synthetic 2.0 + 0.1; 2 min in all" in markdown
    assert (out / "table.png").stat().st_size > 10_000


def test_missing_model_or_mismatched_examples_are_refused(results, tmp_path, capsys):
    out = tmp_path / "table"
    assert table_main(["--results", str(results), "--models", "base,mdqa", "--out", str(out)]) == 2
    assert "no results for mdqa" in capsys.readouterr().err
    # a finetuned model evaluated on other examples than the base cannot be paired
    (results / "synthetic" / "nq_closed.samples.jsonl").write_text(
        json.dumps(
            {
                "id": "other",
                "position": "closed-book",
                "prediction": "x",
                "answers": [],
                "scores": {"best_subspan_em": 0.0},
            }
        )
        + "\n"
    )
    assert table_main(["--results", str(results), "--models", "base,synthetic", "--out", str(out)]) == 2
    assert "cover different examples" in capsys.readouterr().err


def test_model_card_carries_the_comparison_rendered_from_the_table(results, tmp_path):
    table_dir = tmp_path / "table"
    assert table_main(["--results", str(results), "--models", "base,synthetic", "--out", str(table_dir)]) == 0
    card = tmp_path / "card"
    argv = ["--base_results", str(results / "base"), "--finetuned_results", str(results / "synthetic")]
    argv += ["--out", str(card), "--model_id", "org/m", "--paper_table", str(table_dir / "table.json")]
    assert card_main(argv) == 0
    text = (card / "README.md").read_text()
    assert "## Does the paper's effect reproduce?" in text and "| synthetic | 100.0 [" in text
    # the verdict line names what moved at p < 0.05 and the leakage share, from the same table
    assert (
        "- **synthetic** vs base: KV value, 8/20 dicts +100.0 (p=0.00195)" in text and "in 7.5% of non-KV" in text
    )  # 9 of 120
    assert (card / "paper_table.png").is_file() and (card / "paper_table.json").is_file()
    assert card_main([*argv[:-1], str(tmp_path / "missing.json"), "--force"]) == 2


def test_release_card_carries_the_paper_table_once_make_paper_table_has_run(results, tmp_path):
    import shutil

    from pipeline.plan import Plan
    from pipeline.runner import run_plan

    table_dir = tmp_path / "table"
    assert table_main(["--results", str(results), "--models", "base,synthetic", "--out", str(table_dir)]) == 0
    release_results = tmp_path / "release_results"  # what the release's eval stages write: base/ and finetuned/
    shutil.copytree(results / "base", release_results / "base")
    shutil.copytree(results / "synthetic", release_results / "finetuned")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("output_dir: unused\n")

    def plan(cards: str, table: str) -> Plan:
        return Plan(
            models={"base": {}, "finetuned": {"recipe": str(recipe)}},
            eval={"nq_closed": 10},
            batch_size=8,
            base_model=str(tmp_path / "base"),
            results_dir=str(release_results),
            card=str(tmp_path / cards),
            card_model="finetuned",
            card_paper_table=table,
            card_frontier=str(tmp_path / "no_frontier.json"),  # not run: its section is left out, not an error
            model_repo="org/m",
        )

    card = tmp_path / "cards" / "README.md"
    assert run_plan(plan("cards", str(table_dir / "table.json")), only=["card"]) == ["card"]
    assert "## Does the paper's effect reproduce?" in card.read_text() and (card.parent / "paper_table.png").is_file()
    assert "How the recipe was chosen" not in card.read_text()
    assert run_plan(plan("cards", str(table_dir / "table.json")), only=["card"]) == [], "same inputs: done"
    run_plan(plan("cards2", str(tmp_path / "no_table.json")), only=["card"])
    assert "## Does the paper's effect reproduce?" not in (tmp_path / "cards2" / "README.md").read_text()


def test_results_of_two_evaluation_settings_are_not_tabulated(results, tmp_path, capsys):
    record = json.loads((results / "synthetic" / "nq_closed.json").read_text())
    record["eval_setting"]["batch_size"] = 64  # as if this one task had been evaluated at another batch size
    (results / "synthetic" / "nq_closed.json").write_text(json.dumps(record))
    assert table_main(["--results", str(results), "--models", "base,synthetic", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "different evaluation settings" in err and "synthetic/nq_closed: batch_size 64" in err
    assert not (tmp_path / "t" / "table.json").exists()


def claim_table(synthetic_closed: tuple[float, float], synthetic_gap: float) -> dict:
    """A table JSON with only what claim_checks reads: closed-book (delta, p) per model and 20-doc gaps."""

    def row(delta: float, p: float, gap: float) -> dict:
        return {"cells": {"NQ closed-book": {"delta": delta, "mcnemar_p": p}}, "position_gap": {"mdqa_20docs": gap}}

    return {
        "base": "base",
        "models": {
            "base": row(0.0, 1.0, 0.30),
            "synthetic": row(*synthetic_closed, synthetic_gap),
            "mdqa": row(-0.04, 0.001, 0.40),
            "niah": row(-0.03, 0.002, 0.40),
        },
    }


def test_claim_checks_say_reproduced_or_not_from_the_numbers():
    kept_and_flatter = paper_table.claim_checks(claim_table((-0.005, 0.5), 0.20))
    assert [line.split(":")[0] for line in kept_and_flatter[:2]] == ["- Reproduced", "- Reproduced"]
    assert "synthetic -0.5 (p=0.5)" in kept_and_flatter[0] and "base 30.0, synthetic 20.0" in kept_and_flatter[1]
    lost_and_steeper = paper_table.claim_checks(claim_table((-0.03, 0.01), 0.40))
    assert [line.split(":")[0] for line in lost_and_steeper[:2]] == ["- Not reproduced", "- Not reproduced"]
    assert lost_and_steeper[-1] == "- Judged without the synthetic_template row(s): this table has not evaluated them."
    assert paper_table.claim_checks({"base": "base", "models": {"base": {}, "synthetic": {}}}) == []


def test_claim_checks_judge_a_table_with_one_factual_row_and_say_which_is_missing():
    table = claim_table((-0.005, 0.5), 0.20)
    del table["models"]["niah"]
    lines = paper_table.claim_checks(table)
    assert lines[0].startswith("- Reproduced") and "mdqa -4.0 (p=0.001)" in lines[0] and "niah" not in lines[0]
    assert lines[-1] == "- Judged without the synthetic_template, niah row(s): this table has not evaluated them."
    table["models"]["mdqa"]["cells"]["NQ closed-book"] = {"delta": 0.01, "mcnemar_p": 0.6}  # the baseline kept it
    assert paper_table.claim_checks(table)[0].startswith("- Not reproduced")


def test_claim_checks_judge_the_template_row_as_a_synthetic_row():
    # plans/paper_table_small_rest.yaml's table: base, synthetic_template and niah, no plain synthetic row
    table = claim_table((-0.005, 0.5), 0.20)
    table["models"]["synthetic_template"] = table["models"].pop("synthetic")
    del table["models"]["mdqa"]
    lines = paper_table.claim_checks(table)
    assert lines[0].startswith("- Reproduced") and "synthetic_template -0.5 (p=0.5), niah -3.0" in lines[0]
    assert lines[1].startswith("- Reproduced") and "base 30.0, synthetic_template 20.0" in lines[1]
    assert lines[-1] == "- Judged without the synthetic, mdqa row(s): this table has not evaluated them."
    # with both synthetic rows, each must keep closed-book NQ and each must flatten the curve
    both = claim_table((-0.005, 0.5), 0.20)
    both["models"]["synthetic_template"] = {
        "cells": {"NQ closed-book": {"delta": -0.05, "mcnemar_p": 0.01}},
        "position_gap": {"mdqa_20docs": 0.35},
    }
    assert [line.split(":")[0] for line in paper_table.claim_checks(both)] == ["- Not reproduced"] * 2
    assert paper_table.claim_checks({"base": "base", "models": {"base": {}, "niah": {}}}) == []


def test_equal_position_gaps_are_not_a_flatter_curve():
    # 60% - 20% and 40% - 0% at n=5 per position: the same 40-point gap, though 0.6 - 0.2 < 0.4 in floats
    def results(scores: list[float]) -> dict:
        by_position = {str(i): {"best_subspan_em": {"score": s}} for i, s in enumerate(scores)}
        return {"mdqa_20docs": {"by_position": by_position, "primary_metric": "best_subspan_em"}}

    base, template = (paper_table.position_gap(results(s), "mdqa_20docs") for s in ([0.2, 0.0, 0.4], [0.2, 0.6, 0.2]))
    assert base == template == 0.4
    table = claim_table((-0.005, 0.5), template)
    table["models"]["base"]["position_gap"]["mdqa_20docs"] = base
    assert paper_table.claim_checks(table)[1].startswith("- Not reproduced: a flatter 20-document position curve")


def test_the_general_block_pairs_each_model_with_the_base_and_joins_the_claim_checks(results, tmp_path):
    general = tmp_path / "general"
    write_general_run(general / "base", {"mmlu": [1] * 5 + [0] * 5, "hellaswag": [1, 1, 0, 0]})
    write_general_run(general / "synthetic", {"mmlu": [1] * 5 + [0] * 5, "hellaswag": [0, 0, 0, 0]})
    out = tmp_path / "table"
    argv = ["--results", str(results), "--models", "base,synthetic", "--out", str(out), "--general", str(general)]
    assert table_main(argv) == 0
    block = json.loads((out / "table.json").read_text())["general"]
    assert block["models"]["synthetic"]["mmlu"] == {"score": 0.5, "n": 10, "delta": 0.0, "mcnemar_p": 1.0}
    hs = block["models"]["synthetic"]["hellaswag"]
    assert hs["delta"] == -0.5 and hs["mcnemar_p"] == pytest.approx(mcnemar_p(0, 2))
    assert (
        "| synthetic | 50.0 (n=10)<br>+0.0, p=1.000 | 0.0 (n=4)<br>-50.0, p=0.500 |" in (out / "table.md").read_text()
    )
    # the claim: synthetic loses no general column at p < 0.05, the baselines may
    table = claim_table((-0.005, 0.5), 0.20)
    table["general"] = {
        "models": {
            "synthetic": {"mmlu": {"delta": -0.01, "mcnemar_p": 0.7}},
            "mdqa": {"mmlu": {"delta": -0.2, "mcnemar_p": 0.001}},
            "niah": {"mmlu": {"delta": 0.0, "mcnemar_p": 1.0}},
        }
    }
    line = [x for x in paper_table.claim_checks(table) if "general benchmarks" in x][0]
    assert line.startswith("- Reproduced") and "synthetic: none; mdqa: mmlu; niah: none" in line
    table["general"]["models"]["synthetic"]["mmlu"] = {"delta": -0.2, "mcnemar_p": 0.01}
    assert [x for x in paper_table.claim_checks(table) if "general benchmarks" in x][0].startswith("- Not reproduced")
