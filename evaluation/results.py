"""Score examples and write one results file per task: the only thing a model card is rendered from.

Layout of ``<out>/<task>.json``::

    {"task": "mdqa_10docs", "suite": "mdqa", "task_version": 1, "variant": "...", "primary_metric": "...",
     "overall": {"best_subspan_em": {"score": 0.31, "n": 90, "ci95": [0.22, 0.41]}},
     "by_position": {"1": {"best_subspan_em": {...}}, "5": {...}, "10": {...}},
     "model": {...}, "data_files": [{"path": ..., "sha256": ...}], "harness": {"version": ..., "git_commit": ...},
     "limit": 30, "eval_setting": {"batch_size": 8, "max_batch_tokens": 8192, "precision": "bf16"},
     "generation": {...}, "timing": {...}}

``eval_setting`` is what the answers depend on beyond the model and the prompts: greedy bf16 answers change with
the batch (padding changes the matmul shapes), so two results files are only compared when it is the same
(:func:`check_one_setting`; the paper table, the frontier and the card refuse a mix).

Predictions go beside it in ``<task>.samples.jsonl`` so any number can be audited line by line.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

from evaluation.data import EvalExample
from evaluation.metrics import best_subspan_em, substring_match, synthetic_kv_match, wilson_interval
from evaluation.tasks import EvalConfigError, TaskConfig
from infra.machine import cpu_model_name
from infra.outputs import OutputError, claim_folder, record_files, safe_name, sha256_file, write_atomically

# The marker of a results folder: only this command adds files to it (infra/outputs.py, claim_folder).
COMMAND = "python -m evaluation run"
# 2: adds "by_config" (scores per Hub dataset config, for the card's model-index). A reader refuses other schemas.
RESULTS_SCHEMA = 2
# The evaluation setting a results file records; every other generation field is the task's own (max_new_tokens,
# stop strings) or follows from these (device, dtype).
EVAL_SETTING_KEYS = ("batch_size", "max_batch_tokens", "precision")
PRIMARY_METRIC = {
    "best_subspan_em": "best_subspan_em",
    "substring_match": "substring_match",
    "synthetic_kv_match": "both",
}


def score_example(task: TaskConfig, example: EvalExample, prediction: str) -> dict[str, float]:
    if task.metric == "best_subspan_em":
        return best_subspan_em(prediction, example.answers, task.qa_scoring)
    if task.metric == "substring_match":
        return substring_match(prediction, example.answers)
    return synthetic_kv_match(prediction, example.gold["value"], example.gold["dict"])


def summarise(scores: list[dict[str, float]]) -> dict[str, dict]:
    """Mean, n and 95% Wilson interval of every metric over ``scores``."""
    out = {}
    for name in scores[0] if scores else []:
        hits, n = sum(s[name] for s in scores), len(scores)
        low, high = wilson_interval(hits, n)
        out[name] = {"score": hits / n, "n": n, "ci95": [round(low, 4), round(high, 4)]}
    return out


def aggregate(examples: list[EvalExample], scores: list[dict[str, float]]) -> dict:
    positions: dict[str, list[dict[str, float]]] = {}
    configs: dict[str, list[dict[str, float]]] = {}
    for ex, s in zip(examples, scores, strict=True):
        positions.setdefault(ex.position, []).append(s)
        if ex.config:
            configs.setdefault(ex.config, []).append(s)
    return {
        "overall": summarise(scores),
        "by_position": {k: summarise(v) for k, v in positions.items()},
        "by_config": {k: summarise(v) for k, v in configs.items()},  # empty when the data has no Hub configs
    }


REPO_ROOT = Path(__file__).resolve().parent.parent


def git_commit(repo: Path = REPO_ROOT) -> str:
    """HEAD of the checkout, "+dirty" if the evaluation code has uncommitted edits; "unknown" outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "evaluation"], cwd=repo, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def describe_files(paths: list[Path]) -> list[dict]:
    return [{"path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in paths]


def build_results(
    task: TaskConfig,
    examples: list[EvalExample],
    predictions: list[str],
    *,
    model: dict,
    data_files: list[Path],
    variant: str,
    limit: int | None,
    generation: dict,
    seconds: float,
    commit: str | None = None,
) -> tuple[dict, list[dict[str, float]]]:
    """The results record and the per-example scores behind it."""
    from evaluation import __version__

    scores = [score_example(task, ex, p) for ex, p in zip(examples, predictions, strict=True)]
    return {
        "schema": RESULTS_SCHEMA,
        "task": task.name,
        "suite": task.suite,
        "task_version": task.version,
        "description": task.description,
        "variant": variant,
        "primary_metric": PRIMARY_METRIC[task.metric],
        **aggregate(examples, scores),
        "model": model,
        "data_files": describe_files(data_files),
        "harness": {"name": "evaluation", "version": __version__, "git_commit": commit or git_commit()},
        "limit": limit,
        "eval_setting": {key: generation.get(key) for key in EVAL_SETTING_KEYS},
        "generation": generation,
        "timing": {
            "seconds": round(seconds, 2),
            "samples_per_s": round(len(examples) / seconds, 3) if seconds else None,
            "cpu": cpu_model_name(),
        },
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }, scores


def write_results(out_dir: Path, results: dict, examples: list[EvalExample], predictions: list[str], scores) -> Path:
    """``<task>.samples.jsonl`` then ``<task>.json``, each written whole (temporary file + rename) and listed in the
    folder's marker: a killed run leaves the previous pair or none, never a results file without its samples."""
    name = safe_name(results["task"], "task name")
    claim_folder(out_dir, COMMAND)  # a no-op once the run has claimed it (RunConfig checked it before any compute)
    rows = (
        {
            "id": ex.id,
            "position": ex.position,
            "prompt": ex.prompt,  # the user message, before the chat template
            "prediction": pred,
            "answers": ex.answers,
            "scores": s,
        }
        for ex, pred, s in zip(examples, predictions, scores, strict=True)
    )
    write_atomically(out_dir / f"{name}.samples.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    write_atomically(out_dir / f"{name}.json", json.dumps(results, indent=2) + "\n")
    record_files(out_dir, [f"{name}.samples.jsonl", f"{name}.json"])
    return out_dir / f"{name}.json"


def load_results(folder: Path) -> dict[str, dict]:
    """Every ``<task>.json`` results file in ``folder``, keyed by task name; strict, because a card rendered from a
    misspelled folder or from files of another schema would show empty columns and still look finished."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvalConfigError(
            f"results folder {folder} does not exist; check the path (python -m evaluation run --out writes it)"
        )
    out = {}
    for path in sorted(p for p in folder.glob("*.json") if not p.name.startswith(".")):  # not the marker
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise EvalConfigError(f"{path} is not a JSON results file ({err}); move it out of {folder}") from err
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema != RESULTS_SCHEMA or "task" not in data:
            raise EvalConfigError(
                f"{path} has results schema {schema!r}, this code reads schema {RESULTS_SCHEMA}; re-run "
                f"python -m evaluation run for that model, or move the file out of {folder}"
            )
        try:  # a card and a table name files after it: "../x" would write outside their --out
            safe_name(data["task"], "task name")
        except OutputError as err:
            raise EvalConfigError(f"{path}: {err}; this is not a file `python -m evaluation run` wrote") from err
        out[data["task"]] = data
    if not out:
        raise EvalConfigError(f"no results files in {folder}; run python -m evaluation run --out {folder}")
    return out


def read_samples(folder: Path, task: str) -> dict[str, dict]:
    """Per-example records of one task, keyed by example id (the pairing key of the McNemar test)."""
    path = Path(folder) / f"{task}.samples.jsonl"
    if not path.is_file():
        raise EvalConfigError(f"{path} is missing; re-run python -m evaluation run for that model")
    return {row["id"]: row for row in map(json.loads, path.read_text().splitlines())}


def eval_setting(results: dict) -> dict:
    """The evaluation setting a results record was measured under (files written before ``eval_setting`` was
    recorded carry the same keys in ``generation``)."""
    recorded = results.get("eval_setting")
    if isinstance(recorded, dict):
        return {key: recorded.get(key) for key in EVAL_SETTING_KEYS}
    return {key: results.get("generation", {}).get(key) for key in EVAL_SETTING_KEYS}


def describe_setting(setting: dict) -> str:
    return ", ".join(f"{key} {setting[key]}" for key in EVAL_SETTING_KEYS)


def check_one_setting(results_by_label: dict[str, dict[str, dict]]) -> dict:
    """The one evaluation setting every results record of every label (model) was measured under; a mix is refused,
    naming who differs, because bf16 answers depend on the batch: a comparison across settings measures the setting
    as much as the model. ``results_by_label``: label -> task -> results record."""
    seen: dict[str, list[str]] = {}
    settings = {}
    for label, results in results_by_label.items():
        for task, record in sorted(results.items()):
            setting = eval_setting(record)
            key = describe_setting(setting)
            settings[key] = setting
            seen.setdefault(key, []).append(f"{label}/{task}")
    if len(seen) > 1:
        shown = "; ".join(f"{', '.join(who[:3])}{' ...' if len(who) > 3 else ''}: {key}" for key, who in seen.items())
        raise EvalConfigError(
            f"these results were measured under different evaluation settings ({shown}); evaluate every model "
            "with one plan (python -m pipeline run plans/<plan>.yaml) before comparing them"
        )
    return next(iter(settings.values()), {})
