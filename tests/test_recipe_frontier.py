"""Choosing a recipe on validation data only: the NQ parts, replay rows, mixing them into training, the frontier.

Results folders are written by the evaluation's own writer from hand-made predictions, so every number the frontier
table prints is known here in advance; training is checked on the tiny random Llama of test_training_sft.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fixture_data import recipe_args, synthetic_kv_rows

from evaluation.data import EvalExample
from evaluation.nq_closed import build_closed_book_examples
from evaluation.results import build_results, write_results
from evaluation.tasks import load_task
from infra.project import LIU_DATA_DIR
from model_cards import frontier
from sources.nq_halves import select_half, split_halves
from sources.nq_open import CLOSED_BOOK_PROMPT, NQ_ORACLE_FILE, load_nq_oracle
from training import replay, sft

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml"
KV_ANSWER = "The value of key 12 is 34 and it is in Dictionary [2]."


def test_nq_parts_follow_the_documented_rule_and_never_overlap():
    questions = [q.question for q in load_nq_oracle(Path(LIU_DATA_DIR) / NQ_ORACLE_FILE)]
    parts = {name: {questions[i] for i in idx} for name, idx in split_halves(questions).items()}
    ranked = sorted(questions, key=lambda q: hashlib.sha256(q.encode()).hexdigest())  # the docstring's rule
    assert parts["train"] == set(ranked[:1000]) and parts["eval"] == set(ranked[1000:])
    assert parts["replay"] == set(ranked[:500]) and parts["val"] == set(ranked[500:1000])
    assert parts["replay"] | parts["val"] == parts["train"]
    assert not parts["replay"] & parts["val"] and not parts["train"] & parts["eval"]
    assert load_task("nq_closed_val").nq_half == "val" and load_task("nq_closed_replay").nq_half == "replay"


def test_replay_knows_each_prompt_of_the_replay_task_by_its_nq_part():
    """training.replay rebuilds the replay task's prompts from sources.nq_open (training imports no evaluation
    module): the evaluation's prompt of a question of each part must map to that part, so a changed template in
    evaluation/tasks/nq_closed.yaml fails here, not as a replay run that refuses every sample."""
    task = load_task("nq_closed_replay")
    assert (task.prompt_template, task.data_file) == (CLOSED_BOOK_PROMPT, NQ_ORACLE_FILE)
    questions = load_nq_oracle(Path(LIU_DATA_DIR) / NQ_ORACLE_FILE)
    part_of = replay.nq_part_of_prompts(LIU_DATA_DIR)
    for part in ("replay", "val", "eval"):
        half = select_half(questions, [q.question for q in questions], part)
        assert {part_of[e.prompt] for e in build_closed_book_examples(task, half, limit=20)} == {part}


def write_task(folder: Path, task_name: str, examples: list[EvalExample], predictions: list[str]) -> None:
    task = load_task(task_name)
    results, scores = build_results(
        task,
        examples,
        predictions,
        model={"path_or_id": str(folder)},
        data_files=[],
        variant="test",
        limit=None,
        generation={"precision": "fp32", "max_new_tokens": task.max_new_tokens, "decoding": "greedy"},
        seconds=1.0,
        commit="abc",
    )
    write_results(folder, results, examples, predictions, scores)


def closed_book_examples(n: int) -> list[EvalExample]:
    return [EvalExample(f"nq{i}", "closed-book", f"Question: q{i}?\nAnswer:", ["paris"]) for i in range(n)]


def replay_quarter_examples(n: int) -> list[EvalExample]:
    """Closed-book examples of the first ``n`` replay-quarter questions: the only prompts replay rows may have."""
    questions = [q.question for q in load_nq_oracle(Path(LIU_DATA_DIR) / NQ_ORACLE_FILE)]
    chosen = [questions[i] for i in split_halves(questions)["replay"][:n]]
    return [EvalExample(f"nq{i}", "closed-book", f"Question: {q}\nAnswer:", ["paris"]) for i, q in enumerate(chosen)]


def test_replay_rows_are_the_prompt_and_the_models_own_answer(tmp_path, capsys):
    examples = replay_quarter_examples(3)
    write_task(tmp_path / "base", "nq_closed_replay", examples, ["London, I think", "  ", "paris"])
    samples = tmp_path / "base" / "nq_closed_replay.samples.jsonl"
    assert replay.main(["--samples", str(samples), "--out", str(tmp_path / "replay")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "replay" / "train.jsonl").read_text().splitlines()]
    # the gold answer ("paris") is never the target unless the model said it; the blank answer is dropped
    assert rows == [
        {"messages": [{"role": "user", "content": examples[i].prompt}, {"role": "assistant", "content": answer}]}
        for i, answer in [(0, "London, I think"), (2, "paris")]
    ]


def test_replay_refuses_a_file_without_prompts_and_writes_nothing(tmp_path, capsys):
    samples = tmp_path / "old.samples.jsonl"
    samples.write_text(json.dumps({"id": "nq0", "prediction": "x"}) + "\n")
    assert replay.main(["--samples", str(samples), "--out", str(tmp_path / "replay")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "'prompt'" in err
    assert not (tmp_path / "replay").exists()


@pytest.mark.integration
def test_mixed_rows_join_the_train_split_and_are_trained_on(tiny_model, tiny_dataset, tmp_path):
    mix = tmp_path / "replay.jsonl"
    chats = [
        [{"role": "user", "content": f"Question: q{i}?\nAnswer:"}, {"role": "assistant", "content": f"a{i}"}]
        for i in range(5)
    ]
    mix.write_text("".join(json.dumps({"messages": c}) + "\n" for c in chats))
    argv = recipe_args(tiny_model, tiny_dataset, tmp_path / "out", mix_dataset_name=mix, mix_rows=3)
    data_args, training_args, model_args = sft.parse_recipe(argv)
    train = sft.load_sft_dataset(data_args)["train"]
    assert len(train) == 16 + 3
    mixed = [row["completion"][0]["content"] for row in train.select(range(16, 19))]
    assert len(set(mixed)) == 3 and set(mixed) <= {f"a{i}" for i in range(5)}
    assert train[0]["completion"][0]["content"] == synthetic_kv_rows(16, seed=0)[0]["messages"][1]["content"]
    # the same draw whatever the training seed
    reseeded = sft.parse_recipe(
        recipe_args(tiny_model, tiny_dataset, tmp_path / "o", mix_dataset_name=mix, mix_rows=3, seed=7)
    )
    assert sft.load_sft_dataset(reseeded[0])["train"][16:]["completion"] == train[16:]["completion"]


@pytest.mark.integration
def test_mixed_chat_rows_longer_than_max_length_are_skipped_not_refused(tiny_model, tiny_dataset, tmp_path):
    """A Hub chat set has rows longer than a CPU recipe's max_length: the draw skips them, and the run trains."""
    mix = tmp_path / "chat.jsonl"
    long_chat = [{"role": "user", "content": "word " * 400}, {"role": "assistant", "content": "long"}]
    short = [[{"role": "user", "content": f"q{i}?"}, {"role": "assistant", "content": f"a{i}"}] for i in range(3)]
    mix.write_text("".join(json.dumps({"messages": c}) + "\n" for c in [long_chat, *short, long_chat]))
    max_length = 256  # the tiny KV rows fit; a 400-word prompt does not
    mixing = {"mix_dataset_name": mix, "mix_rows": 3, "max_length": max_length, "max_steps": 2}
    argv = recipe_args(tiny_model, tiny_dataset, tmp_path / "out", **mixing)
    assert sft.main(argv) == 0  # check_rows_fit would refuse a long mixed row: none was drawn
    data_args, training_args, model_args = sft.parse_recipe(argv)
    count = sft.chat_token_counter(str(tiny_model))
    assert count(sft.as_prompt_completion({"messages": long_chat}, "chat")) > max_length
    train = sft.load_sft_dataset(data_args, fits=lambda row: count(row) <= max_length)["train"]
    assert sorted(row["completion"][0]["content"] for row in train.select(range(16, 19))) == ["a0", "a1", "a2"]
    with pytest.raises(sft.SetupError, match="mix_rows=4 but only 3 of the 5 train rows"):
        data_args.mix_rows = 4
        sft.load_sft_dataset(data_args, fits=lambda row: count(row) <= max_length)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [({"mix_rows": 9}, "mix_rows=9 but"), ({"mix_rows": 0}, "set both"), ({"mix_dataset_name": None}, "set both")],
)
def test_bad_mixing_is_one_clear_error(tiny_model, tiny_dataset, tmp_path, capsys, overrides, expected):
    mix = tmp_path / "replay.jsonl"
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    mix.write_text(json.dumps({"messages": chat}) + "\n")
    settings = {"mix_dataset_name": mix, "mix_rows": 1, **overrides}
    argv = recipe_args(
        tiny_model, tiny_dataset, tmp_path / "out", **{k: v for k, v in settings.items() if v is not None}
    )
    assert sft.main(argv) == 2
    err = capsys.readouterr().err  # datasets' progress bar may precede the error
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0] and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def write_point(folder: Path, kv_right: int, closed_right: list[int], leak: bool = False) -> None:
    """synthetic_kv_val: 10 prompts (5 of 8 dictionaries, 5 of 20), the first ``kv_right`` right; nq_closed_val: 20
    questions, right exactly at ``closed_right``; wrong closed-book answers in the KV phrasing when ``leak``."""
    kv = [
        EvalExample(
            f"kv{i}", f"smollm2_kv_{8 if i < 5 else 20}_val depth 0.00", "p", ["34"], {"value": 34, "dict": "2"}
        )
        for i in range(10)
    ]
    write_task(folder, "synthetic_kv_val", kv, [KV_ANSWER if i < kv_right else "no idea" for i in range(10)])
    wrong = "It is in Dictionary [3]." if leak else "london"
    answers = ["paris" if i in closed_right else wrong for i in range(20)]
    write_task(folder, "nq_closed_val", closed_book_examples(20), answers)


def test_frontier_table_pairs_each_point_with_the_base_and_marks_the_target(tmp_path):
    # as the plan declares them: where each trains is not what it trains, so only learning_rate is shown
    points = {
        "drifts": {"recipe": str(RECIPE), "output_dir": "x/drifts", "learning_rate": 2e-4},
        "keeps": {"recipe": str(RECIPE), "output_dir": "x/keeps", "learning_rate": 5e-5},
    }
    results = tmp_path / "results"
    write_point(results / "base", kv_right=1, closed_right=[0, 1, 2])
    write_point(results / "drifts", kv_right=10, closed_right=[0], leak=True)  # loses 2 of 20: -10 points
    write_point(results / "keeps", kv_right=10, closed_right=[0, 1, 2, 3])  # gains one
    table = frontier.summarize(results, points)
    drifts, keeps = table["points"]["drifts"], table["points"]["keeps"]
    assert drifts["kv_value"]["score"] == 1.0 and drifts["kv_value_8"]["n"] == 5
    assert drifts["closed_book"]["delta"] == pytest.approx(-0.10) and drifts["kv_phrasing"] == pytest.approx(19 / 20)
    assert keeps["closed_book"]["delta"] == pytest.approx(0.05) and keeps["kv_phrasing"] == 0
    assert not drifts["meets_target"] and keeps["meets_target"] and not table["points"]["base"]["meets_target"]
    assert table["chosen"] == "keeps"
    frontier.write_frontier(results, points, tmp_path)
    md = (tmp_path / "frontier.md").read_text()
    assert (
        "| keeps | learning_rate=5e-05 | 100.0 / 100.0 (100.0) | 20.0 [8.1-41.6] | +5.0, p=1.000 | 0.0 | yes |" in md
    )
    assert (tmp_path / "frontier.png").stat().st_size > 0
    assert "Chosen (meets the target with the smallest closed-book cost, then the best KV value): keeps." in md


def test_choice_prefers_the_smaller_closed_book_cost_then_the_better_kv_value():
    def row(kv, delta, meets=True):
        return {"kv_value": {"score": kv}, "closed_book": {"delta": delta}, "meets_target": meets}

    points = {
        "base": row(0.07, 0.0, False),
        "a": row(0.96, 0.004),
        "b": row(0.965, -0.006),
        "c": row(1.0, 0.01, False),
    }
    assert frontier.choose(points) == "a"
    assert frontier.choose({**points, "d": row(0.97, 0.004)}) == "d"
    assert frontier.choose({"base": points["base"], "c": points["c"]}) is None


def test_frontier_plan_scores_the_base_builds_replay_rows_then_trains_and_resumes(tmp_path, monkeypatch):
    """The base is scored on the replay quarter, replay rows built, each point trained and scored; a rerun runs only
    what is missing (the fakes write the markers the real commands write)."""
    from evaluation.results import COMMAND as RESULTS_COMMAND
    from evaluation.runner import results_identity
    from infra.outputs import claim_folder, mark, record_files, staged_folder
    from pipeline import stages
    from pipeline.plan import Plan
    from pipeline.runner import run_plan

    calls = []

    def fake_run(args):
        calls.append(args[1])
        if args[1] == "evaluation":  # write what the real command would
            out = Path(args[args.index("--out") + 1])
            setting = {"batch_size": 64, "max_batch_tokens": 8192, "precision": "fp32"}
            claim_folder(out, RESULTS_COMMAND, identity=results_identity(args[args.index("--model") + 1], setting))
            for task in args[args.index("--tasks") + 1].split(","):
                (out / f"{task}.json").write_text('{"limit": null}')
                (out / f"{task}.samples.jsonl").write_text("")
                record_files(out, [f"{task}.json", f"{task}.samples.jsonl"])
        if args[1] == "training.replay":
            with staged_folder(Path(args[args.index("--out") + 1]), replay.COMMAND) as folder:
                (folder / "train.jsonl").write_text("")
        if args[1] == "training.sft":
            data_args, training_args, model_args = sft.parse_recipe(args[2:])
            out = Path(training_args.output_dir)
            out.mkdir(parents=True)
            (out / "trainer_state.json").write_text("{}")
            mark(out, sft.COMMAND, kind="model", identity=sft.run_identity(data_args, training_args, model_args))

    monkeypatch.setattr(stages, "run_step", fake_run)
    points = {name: {"recipe": str(RECIPE), "output_dir": str(tmp_path / "models" / name)} for name in ("a", "b")}
    plan = Plan(
        models={"base": {}, **points},
        eval={"synthetic_kv_val": "all", "nq_closed_val": "all"},
        batch_size=64,
        precision="fp32",
        results_dir=str(tmp_path / "results"),
        replay_dir=str(tmp_path / "replay"),
    )
    run_plan(plan, only=["replay", "train", "eval"])
    assert calls == ["evaluation", "training.replay", "training.sft", "training.sft", *["evaluation"] * 3]
    calls.clear()
    assert run_plan(plan, only=["replay", "train", "eval"]) == [] and calls == []


def test_model_card_says_how_the_recipe_was_chosen(tmp_path):
    from model_cards.__main__ import main as reports_main

    def card_main(argv):
        return reports_main(["card", *argv])

    results = tmp_path / "frontier" / "results"
    write_point(results / "base", kv_right=1, closed_right=[0, 1, 2])
    write_point(results / "keeps", kv_right=10, closed_right=[0, 1, 2, 3])
    frontier.write_frontier(results, {"keeps": {"recipe": str(RECIPE), "learning_rate": 5e-5}}, tmp_path / "frontier")
    card = tmp_path / "card"
    argv = ["--base_results", str(results / "base"), "--finetuned_results", str(results / "keeps")]
    argv += ["--out", str(card), "--model_id", "org/m", "--frontier", str(tmp_path / "frontier" / "frontier.json")]
    assert card_main(argv) == 0
    text = (card / "README.md").read_text()
    assert "## How the recipe was chosen" in text and "| keeps | learning_rate=5e-05 | 100.0 / 100.0 (100.0) |" in text
    assert (card / "recipe_frontier.png").is_file() and (card / "recipe_frontier.json").is_file()
    (tmp_path / "frontier" / "frontier.png").unlink()  # a table without its plot is refused, in one line
    assert card_main([*argv, "--force"]) == 2
