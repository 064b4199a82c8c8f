"""Declared evaluation tasks: ``evaluation/tasks/<name>.yaml`` whose keys are exactly ``TaskConfig``'s fields.

A task is declared, not coded (as in lm-eval's ``nq_open.yaml``): prompt template, stop strings,
``max_new_tokens``, metric, version. A variant is a short ``include:`` delta over its parent, e.g.
``mdqa_10docs.yaml`` = ``include: mdqa.yaml`` + ``num_docs: 10`` + ``positions: [1, 5, 10]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from evaluation.metrics import QA_SCORINGS
from infra.cli import UserError, read_yaml_mapping
from infra.outputs import OutputError, safe_name
from sources.nq_halves import NQ_PARTS
from sources.nq_open import Passage

TASK_DIR = Path(__file__).parent / "tasks"
SUITES = ("synthetic_kv", "mdqa", "liu_kv", "nq_closed")
METRICS = ("synthetic_kv_match", "best_subspan_em", "substring_match")


class EvalConfigError(UserError):
    """A task or run setting is wrong; the message names the field and the fix."""


def _field(default: Any, help: str) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TaskConfig:
    name: str = _field("", "Task name; results land in <out>/<name>.json.")
    suite: str = _field("", f"Which builder makes its examples: one of {', '.join(SUITES)}.")
    version: int = _field(0, "Bump when prompt, data selection or metric change; recorded with every number.")
    description: str = _field("", "One line for the results file and the model card.")
    prompt_template: str = _field("", "Python format string for the user message; fields depend on the suite.")
    document_template: str = _field("", "mdqa: format of one search result ({index}, {title}, {text}).")
    stop: list[str] = _field([], "Generation stops at the first of these (checked after leading whitespace).")
    max_new_tokens: int = _field(32, "Generation budget; an answer is a short span or one sentence.")
    metric: str = _field("", f"One of {', '.join(METRICS)}.")
    qa_scoring: str = _field(
        "liu",
        "best_subspan_em: liu = Liu et al.'s reading (first line of the raw response; a gold answer normalising to "
        "empty matches); lenient = leading whitespace dropped first, an empty gold never matches (metrics.py).",
    )
    positions: list[int] = _field([], "mdqa: gold document positions; liu_kv: gold pair positions (1-based).")
    num_docs: int = _field(0, "mdqa: documents per prompt (gold + num_docs - 1 distractors).")
    num_pairs: int = _field(0, "liu_kv: key-value pairs per prompt after subsampling (0 = keep all 75).")
    data_file: str = _field("", "File under --data-dir this task reads (mdqa, liu_kv, nq_closed).")
    dataset_configs: list[str] = _field([], "synthetic_kv: dataset configs to read (test split); '*_sweep' = all.")
    nq_half: str = _field(
        "eval",
        "mdqa, nq_closed: which part of the NQ questions (sources/nq_halves.py): eval for reported numbers; "
        "val (a quarter, inside the train half) for choosing a recipe; replay (the train half's other quarter) "
        "for prompts a recipe may train on; train = replay + val (the baseline finetuning data come from it).",
    )
    variant: str = _field("", "Which data variant produced a number (recorded beside it on the card).")

    def __post_init__(self) -> None:
        if not self.name:
            raise EvalConfigError("task field 'name' is empty; set it to the YAML file's stem")
        try:  # the name becomes <out>/<name>.json: a name like ../../x would write outside --out
            safe_name(self.name, "task name")
        except OutputError as err:
            raise EvalConfigError(f"{err}; rename the task") from err
        if self.suite not in SUITES:
            raise EvalConfigError(f"task {self.name}: suite={self.suite!r} unknown; use one of {', '.join(SUITES)}")
        if self.metric not in METRICS:
            raise EvalConfigError(f"task {self.name}: metric={self.metric!r} unknown; use one of {', '.join(METRICS)}")
        if self.qa_scoring not in QA_SCORINGS:
            raise EvalConfigError(
                f"task {self.name}: qa_scoring={self.qa_scoring!r} unknown; use one of {', '.join(QA_SCORINGS)}"
            )
        if self.max_new_tokens < 1:
            raise EvalConfigError(f"task {self.name}: max_new_tokens={self.max_new_tokens} must be >= 1")
        if self.version < 1:
            raise EvalConfigError(f"task {self.name}: version must be >= 1 (bump it when the task changes)")
        if self.suite == "mdqa":
            if self.num_docs < 1 or not self.positions:
                raise EvalConfigError(f"task {self.name}: mdqa needs num_docs >= 1 and a positions list")
            bad = [p for p in self.positions if not 1 <= p <= self.num_docs]
            if bad:
                raise EvalConfigError(f"task {self.name}: positions {bad} outside 1..num_docs={self.num_docs}")
        if self.suite == "liu_kv":
            if not self.positions or self.num_pairs < 0:
                raise EvalConfigError(f"task {self.name}: liu_kv needs positions and num_pairs >= 0")
            limit = self.num_pairs or 75
            bad = [p for p in self.positions if not 1 <= p <= limit]
            if bad:
                raise EvalConfigError(f"task {self.name}: positions {bad} outside 1..{limit} pairs")
        if self.suite in ("mdqa", "liu_kv", "nq_closed") and not self.data_file:
            raise EvalConfigError(f"task {self.name}: data_file is empty; name the file under --data-dir")
        if self.nq_half not in NQ_PARTS:
            raise EvalConfigError(f"task {self.name}: nq_half={self.nq_half!r}; use one of {', '.join(NQ_PARTS)}")
        if self.suite == "synthetic_kv" and not self.dataset_configs:
            raise EvalConfigError(f"task {self.name}: dataset_configs is empty; e.g. [smollm2_kv_600, '*_sweep']")

    def render_mdqa_prompt(self, question: str, docs: Sequence[Passage]) -> str:
        """mdqa: the prompt over ``docs`` in order (numbered from 1), from the two templates. The MDQA finetuning
        baseline (dataset_builder/baselines.py) renders its rows with this too, so its prompts are the evaluation's."""
        results = "\n".join(
            self.document_template.format(index=i + 1, title=d.title, text=d.text) for i, d in enumerate(docs)
        )
        return self.prompt_template.format(search_results=results, question=question)


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise EvalConfigError(f"include cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    values = read_yaml_mapping(path, "TaskConfig field", EvalConfigError)
    parent = values.pop("include", None)
    if parent is None:
        return values
    return {**_read_yaml(path.parent / parent, (*seen, path)), **values}


def list_tasks() -> list[str]:
    return sorted(p.stem for p in TASK_DIR.glob("*.yaml"))


def load_task(name_or_path: str) -> TaskConfig:
    """Parse one task strictly: unknown keys (a renamed field) are an error, not silently ignored."""
    path = Path(name_or_path)
    if path.suffix != ".yaml":
        path = TASK_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise EvalConfigError(f"unknown task {name_or_path!r}; declared tasks are: {', '.join(list_tasks())}")
    values = _read_yaml(path)
    known = {f.name for f in fields(TaskConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise EvalConfigError(f"{path}: unknown keys {unknown}; TaskConfig fields are {sorted(known)}")
    return TaskConfig(**values)
