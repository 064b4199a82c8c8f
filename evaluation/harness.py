r"""lm-eval (EleutherAI's harness, HF backend) for the general and long-context benchmarks we do not re-implement.

The paper checks that KV finetuning keeps general ability (MMLU, HellaSwag, GSM8K, TriviaQA, NQ-Open) and
reports FLenQA. Users with Hub access run the harness's own task definitions; offline the same code path is
proven on a local task YAML (``tests/test_eval_harness.py``). lm-eval 0.4.13 ships no FLenQA task: pass
your FLenQA task YAML's folder with ``--include-path``.

    .venv/bin/python -m evaluation lm-eval --model build/models/SmolLM2-135M-Instruct --tasks mmlu,hellaswag \
        --limit 50 --out build/results/lm_eval/base.json
"""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.generation import Placement, resolve_placement
from evaluation.tasks import EvalConfigError
from infra.outputs import check_output_file

# The paper's general-ability checks, as lm-eval names them.
GENERAL_TASKS = ("mmlu", "hellaswag", "gsm8k", "triviaqa", "nq_open")


def lm_eval_model_args(model: str, placement: Placement, gpu_count: int | None = None) -> dict:
    """lm-eval HF backend arguments for the same placement as our own suites (``evaluation.generation``).

    On GPUs: bf16 weights; with more than one GPU, ``parallelize=True`` (lm-eval's ``device_map="auto"``) spreads the
    layers over all of them. On a CPU: fp32 weights (lm-eval has no autocast switch), as before.
    """
    import torch

    if placement.device == "cpu":
        return {"pretrained": model, "dtype": "float32", "device": "cpu"}
    gpu_count = torch.cuda.device_count() if gpu_count is None else gpu_count
    args = {"pretrained": model, "dtype": placement.dtype, "device": "cuda"}
    return {**args, "parallelize": True} if gpu_count > 1 else args


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
) -> dict:
    """Run lm-eval's HF backend on ``model`` for ``tasks``; write and return the per-task metrics."""
    import lm_eval
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
    raw = lm_eval.simple_evaluate(
        model="hf",
        model_args=lm_eval_model_args(model, resolve_placement(device, "auto")),
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
        "results": raw["results"],
        "versions": {k: v for k, v in raw.get("versions", {}).items()},
        "n_samples": raw.get("n-samples", {}),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary
