"""lm-eval wiring (--data hub): the harness's own HF backend runs our model on a task YAML from --include-path (here a
local one on local data); the stock tasks over the local copies are tested in tests/test_eval_general.py."""

import json

import pytest
from tiny_model import save_tiny_model

from evaluation.generation import Placement
from evaluation.harness import lm_eval_model_args, run_lm_eval
from infra.machine import cpu_model_name, cpu_supports_bf16

GENERATE_TASK = """task: local_nq
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n"]
  do_sample: false
  max_gen_toks: 8
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""

CHOICE_TASK = """task: local_choice
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def write_local_tasks(tmp_path):
    data = tmp_path / "qa.jsonl"
    rows = [
        {"question": f"what is {i} plus {i}", "answer": str(2 * i), "choices": [str(2 * i), str(i)], "label": 0}
        for i in range(4)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "local_nq.yaml").write_text(GENERATE_TASK.format(data=data))
    (tasks / "local_choice.yaml").write_text(CHOICE_TASK.format(data=data))
    return tasks


def read_rows(out, column):
    return [json.loads(line) for line in (out / f"samples/{column}.jsonl").read_text().splitlines()]


@pytest.mark.integration
def test_lm_eval_runs_local_tasks_on_hf_backend(tmp_path):
    model = save_tiny_model(tmp_path / "tiny")
    tasks = write_local_tasks(tmp_path)
    out = tmp_path / "lm_eval"
    summary = run_lm_eval(
        str(model), ["local_nq", "local_choice"], out, data="hub", limit=4, include_path=str(tasks), batch_size=2
    )

    assert summary["n_samples"]["local_nq"]["effective"] == 4
    # each summary number is the mean of the per-item outcomes kept beside it, for all 4 items of each task
    for task, metric in (("local_nq", "exact_match"), ("local_choice", "acc")):
        rows = read_rows(out, task)
        assert sorted(r["doc_id"] for r in rows) == [0, 1, 2, 3]
        assert {r[metric] for r in rows} <= {0.0, 1.0}
        assert summary["results"][task][f"{metric},none"] == pytest.approx(sum(r[metric] for r in rows) / 4)
    assert json.loads((out / "summary.json").read_text())["tasks"] == ["local_nq", "local_choice"]
    # the path this CPU takes, as our own suites take it: bf16 weights only where bf16 is native
    path = json.loads((out / "summary.json").read_text())["placement"]
    expected = "bfloat16" if cpu_supports_bf16() else "float32"
    assert (path["device"], path["dtype"], path["weights_dtype"]) == ("cpu", expected, expected)
    assert (path["batch_size"], path["cpu"], path["native_bf16"]) == (2, cpu_model_name(), cpu_supports_bf16())


@pytest.mark.integration
def test_lm_eval_loads_bf16_weights_when_bf16_is_the_path(tmp_path):
    """What a CPU with AVX512-BF16/AMX gets from precision=auto: lm-eval's model really holds bf16 weights."""
    model = save_tiny_model(tmp_path / "tiny")
    out = tmp_path / "lm_eval"
    tasks = str(write_local_tasks(tmp_path))
    summary = run_lm_eval(str(model), ["local_nq"], out, data="hub", limit=2, include_path=tasks, precision="bf16")
    assert summary["placement"]["weights_dtype"] == "bfloat16"
    assert summary["n_samples"]["local_nq"]["effective"] == 2


def test_cpu_model_args_follow_the_placement_dtype():
    assert lm_eval_model_args("m", Placement("cpu", "bfloat16", None)) == {
        "pretrained": "m",
        "dtype": "bfloat16",
        "device": "cpu",
    }
    assert lm_eval_model_args("m", Placement("cpu", "float32", None))["dtype"] == "float32"


def test_lm_eval_needs_tasks(tmp_path):
    with pytest.raises(ValueError, match="no lm-eval tasks"):
        run_lm_eval("unused", [], tmp_path / "x")


@pytest.mark.integration  # lm-eval indexes its ~10,000 stock task YAMLs first (~15 s)
def test_unknown_lm_eval_task_is_one_clear_error(tmp_path):
    from evaluation.tasks import EvalConfigError

    with pytest.raises(EvalConfigError, match=r"unknown lm-eval task\(s\) \['no_such_task'\]; list them with"):
        run_lm_eval("unused", ["no_such_task"], tmp_path / "x", data="hub")
    assert not (tmp_path / "x").exists()


def test_local_data_refuses_hub_only_flags(tmp_path):
    from evaluation.tasks import EvalConfigError

    with pytest.raises(EvalConfigError, match="--limit and --include-path are for --data hub"):
        run_lm_eval("unused", ["hellaswag"], tmp_path / "x", limit=5)
    assert not (tmp_path / "x").exists()
