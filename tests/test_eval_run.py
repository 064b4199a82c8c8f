"""Generation and the `run` command end to end on a tiny random model and fixture data; bad input fails clearly."""

import gzip
import json

import pytest
from fixture_data import liu_kv_rows, write_oracle, write_synthetic_dataset
from tiny_model import save_tiny_model

from evaluation.__main__ import main
from evaluation.generation import (
    GenerationSettings,
    generate_answers,
    load_model,
    render_chat,
    resolve_placement,
    truncate_at_stop,
)

pytestmark = pytest.mark.integration  # every test here runs a tiny model's generation


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def data_dir(tmp_path):
    write_oracle(tmp_path / "nq-open-oracle-dev.jsonl.gz")
    with gzip.open(tmp_path / "kv-retrieval-75_keys.jsonl.gz", "wt") as handle:
        for row in liu_kv_rows(2):
            handle.write(json.dumps(row) + "\n")
    return tmp_path


def test_truncate_at_stop_looks_past_leading_whitespace_and_keeps_it():
    # The stop is searched after the leading whitespace (a chat model may open with a newline), but that whitespace
    # stays: Liu et al.'s first line of this answer is empty, and the metric must see it (evaluation.metrics).
    assert truncate_at_stop("\n  Paris\nis the capital", ["\n"]) == "\n  Paris"
    assert truncate_at_stop("Paris\nis the capital", ["\n"]) == "Paris"
    assert truncate_at_stop("no stop here ", []) == "no stop here"


def test_chat_template_is_the_tokenizers_own(tiny):
    _, tokenizer = load_model(str(tiny))
    assert render_chat(tokenizer, "hi") == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.padding_side == "left"


def test_batched_generation_matches_one_at_a_time(tiny):
    model, tokenizer = load_model(str(tiny), resolve_placement("cpu", "fp32"))  # exact equality needs fp32
    prompts = ["short", "a somewhat longer prompt with more words in it", "mid length prompt"]
    single = generate_answers(model, tokenizer, prompts, GenerationSettings(12, ["\n"], 1))
    batched = generate_answers(model, tokenizer, prompts, GenerationSettings(12, ["\n"], 3))
    assert single == batched  # left padding + attention mask: padding must not change greedy answers


def test_run_writes_results_with_provenance(tiny, data_dir, tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "ds")
    out = tmp_path / "out"
    rc = main(
        [
            "run",
            "--model",
            str(tiny),
            "--suites",
            "mdqa_10docs,liu_kv_10keys,nq_closed,synthetic_kv",
            "--out",
            str(out),
            "--limit",
            "2",
            "--data-dir",
            str(data_dir),
            "--dataset",
            str(dataset),
            "--precision",
            "fp32",
        ]
    )
    assert rc == 0
    mdqa = json.loads((out / "mdqa_10docs.json").read_text())
    assert set(mdqa["by_position"]) == {"1", "5", "10"}
    assert mdqa["overall"]["best_subspan_em"]["n"] == 6 and mdqa["limit"] == 2
    assert (
        mdqa["data_files"][0]["path"].endswith("nq-open-oracle-dev.jsonl.gz")
        and len(mdqa["data_files"][0]["sha256"]) == 64
    )
    assert mdqa["variant"].startswith("offline") and mdqa["harness"]["version"]
    synth = json.loads((out / "synthetic_kv.json").read_text())
    assert set(synth["overall"]) == {"value", "dictionary", "both"} and synth["primary_metric"] == "both"
    # provenance lists exactly the files scored: each selected config's test parquet
    assert sorted(f["path"].split("/data/")[1] for f in synth["data_files"]) == [
        "smollm2_kv_600/test-00000-of-00001.parquet",
        "smollm2_kv_600_sweep/test-00000-of-00001.parquet",
    ]
    assert json.loads((out / "liu_kv_10keys.json").read_text())["overall"]["substring_match"]["n"] == 6
    assert len((out / "nq_closed.samples.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--suites", "no_such_task"], "unknown task 'no_such_task'"),
        (["--suites", "mdqa", "--data-dir", "/nonexistent/data"], "data dir /nonexistent/data not found"),
        (["--suites", "nq_closed", "--limit", "0"], "limit=0"),
    ],
)
def test_bad_input_is_one_clear_error(tiny, args, message, capsys, data_dir):
    argv = ["run", "--model", str(tiny), "--out", "unused", *args]
    if "--data-dir" not in args:
        argv += ["--data-dir", str(data_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_missing_model_and_missing_data_file(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--model",
                str(tmp_path / "nope"),
                "--suites",
                "nq_closed",
                "--out",
                "x",
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "model" in capsys.readouterr().err
    assert (
        main(["run", "--model", "someone/model", "--suites", "nq_closed", "--out", "x", "--data-dir", str(tmp_path)])
        == 2
    )  # data folder exists but the file does not
    assert "nq-open-oracle-dev.jsonl.gz not found" in capsys.readouterr().err


def test_cli_exits_nonzero_from_shell(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "evaluation", "run", "--model", "x", "--suites", "bogus", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "unknown task 'bogus'" in proc.stderr


def test_batches_are_longest_first_and_capped_by_count_and_padded_tokens():
    from evaluation.generation import plan_batches

    lengths = [60, 3000, 70, 65, 2900, 10]
    # 16K-token budget: two 3K prompts share a call (2 x 3000 <= 6000), the short ones fill another
    assert plan_batches(lengths, batch_size=64, max_batch_tokens=6000) == [[1, 4], [2, 3, 0, 5]]
    assert plan_batches(lengths, batch_size=2, max_batch_tokens=10**6) == [[1, 4], [2, 3], [0, 5]]
    # a prompt longer than the budget still runs, alone
    assert plan_batches([9000, 8000], batch_size=8, max_batch_tokens=4000) == [[0], [1]]
    assert sorted(i for b in plan_batches(lengths, 3, 500) for i in b) == list(range(len(lengths)))


def test_results_record_the_training_run_of_a_model_trained_here(tmp_path):
    """Steps and training time travel with the numbers (the paper table's compute line reads them from there)."""
    from evaluation.runner import model_record

    (tmp_path / "config.json").write_text("{}")
    assert "training" not in model_record(str(tmp_path))  # the base model: nothing trained here
    state = {"global_step": 100, "log_history": [{"loss": 1.0, "step": 5}, {"train_runtime": 498.2, "step": 100}]}
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    assert model_record(str(tmp_path))["training"] == {"global_step": 100, "train_runtime_s": 498.2}
