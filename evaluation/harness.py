r"""lm-eval (EleutherAI's harness, HF backend) for the general and long-context benchmarks we do not re-implement.

The paper checks that KV finetuning keeps general ability (MMLU, HellaSwag, GSM8K, TriviaQA, NQ-Open) and
reports FLenQA. Users with Hub access run the harness's own task definitions; offline the same code path is
proven on a local task YAML (``tests/test_eval_harness.py``). lm-eval 0.4.13 ships no FLenQA task: pass
your FLenQA task YAML's folder with ``--include-path``.

Weights load as our own suites load them (``evaluation.generation.resolve_placement``): bf16 on GPUs and on CPUs with
native bf16 kernels (AVX512-BF16 / AMX), fp32 elsewhere, where emulated bf16 is ~50x slower than fp32 (0.001 vs
0.05 TFLOP/s on an AVX2-only AMD EPYC). bf16 weights rather than autocast: lm-eval has no autocast switch for CPU, and
decoding re-reads every weight per token. Requests run ``batch_size`` at a time. The summary JSON records the path
taken (device, dtype, the dtype the loaded weights actually have, batch size) beside the CPU model.

    .venv/bin/python -m evaluation lm-eval --model build/models/SmolLM2-135M-Instruct --tasks mmlu,hellaswag \
        --limit 50 --out build/results/lm_eval/base.json
"""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.generation import Placement, resolve_placement
from evaluation.tasks import EvalConfigError
from infra.machine import cpu_model_name, cpu_supports_bf16
from infra.outputs import check_output_file

# The paper's general-ability checks, as lm-eval names them.
GENERAL_TASKS = ("mmlu", "hellaswag", "gsm8k", "triviaqa", "nq_open")


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


def run_lm_eval(
    model: str,
    tasks: list[str],
    out: Path,
    *,
    limit: int | float | None = None,
    include_path: str | None = None,
    batch_size: int = 8,
    chat_template: bool = True,
    device: str = "auto",
    precision: str = "auto",
) -> dict:
    """Run lm-eval's HF backend on ``model`` for ``tasks``; write and return the per-task metrics and the path."""
    import lm_eval
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager

    if not tasks:
        raise EvalConfigError(f"no lm-eval tasks given; e.g. {','.join(GENERAL_TASKS)}")
    check_output_file(Path(out))
    manager = TaskManager(include_path=include_path) if include_path else TaskManager()
    unknown = [t for t in tasks if t not in manager.all_tasks and not Path(t).is_file()]
    if unknown:
        raise EvalConfigError(
            f"unknown lm-eval task(s) {unknown}; list them with `.venv/bin/lm-eval ls tasks` "
            "(add --include-path for your own task YAMLs)"
        )
    placement = resolve_placement(device, precision)
    # Built here rather than by simple_evaluate(model="hf") so the summary can say what the weights really are.
    lm = get_model("hf").create_from_arg_obj(lm_eval_model_args(model, placement), {"batch_size": batch_size})
    raw = lm_eval.simple_evaluate(
        model=lm,
        tasks=list(tasks),
        task_manager=manager,
        limit=limit,
        batch_size=batch_size,
        # Same chat template as training and as the other suites; few-shot turns become chat turns.
        apply_chat_template=chat_template,
        log_samples=False,
    )
    summary = {
        "model": model,
        "tasks": list(tasks),
        "limit": limit,
        "include_path": include_path,
        "lm_eval_version": lm_eval.__version__,
        "placement": placement_record(placement, lm.model, batch_size),
        "results": raw["results"],
        "versions": {k: v for k, v in raw.get("versions", {}).items()},
        "n_samples": raw.get("n-samples", {}),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary
