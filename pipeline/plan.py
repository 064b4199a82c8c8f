"""A plan: what one run of the stage runner builds, trains, evaluates and reports (``plans/<name>.yaml``).

The YAML's keys are exactly the fields of :class:`Plan` (an unknown or doubled key is an error naming the fix):

    datasets: [smollm2_kv_600]          # dataset builder configs to build into dataset_dir ("all" = every one)
    models:                             # label -> what the model is; the first is the base every other is paired with
      base: {}                          # {} = base_model itself, evaluated untrained
      synthetic:                        # a recipe (+ recipe keys overriding it, as on the command line)
        recipe: training/recipes/smollm2-135m-instruct/sft/smollm2_kv_600_full.yaml
    eval:                               # task -> n: questions per gold position, or all
      nq_closed: 40
    batch_size: 8                       # the evaluation setting: recorded in every results file
    precision: auto

``n`` has one meaning for every task: questions per gold position. A positional task asks each question at each of
its positions (MDQA, Liu KV: examples = n x positions; a KV sweep: n rows per depth); a task without fixed positions
(closed-book NQ, a random-depth KV test set) has one, so n questions in all. ``all`` = every question the task has.
The runner passes it to ``python -m evaluation run`` as ``--limit n``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from evaluation.general import LOCAL_TASKS
from infra.cli import UserError, read_yaml_mapping
from infra.project import (
    DATASET_DIR,
    DATASET_REPO_ID,
    EMBEDDED_MODEL_DIR,
    LIU_DATA_DIR,
    MODEL_REPO_ID,
    RESULTS_DIR,
)

ALL = "all"
# evaluation.generation.MAX_BATCH_TOKENS, the default token budget of `python -m evaluation run` (8,192 padded prompt
# tokens per generate call); repeated here so reading a plan imports no torch.
DEFAULT_MAX_BATCH_TOKENS = 8192
PRECISIONS = ("auto", "bf16", "fp32")


class PlanError(UserError):
    """A plan file or one of its values is wrong; the message names the key and the fix."""


@dataclass
class Plan:
    """What a plan YAML holds (keys are exactly these fields)."""

    models: dict[str, dict[str, Any]] = field(
        metadata={"help": "label -> {} (the base model) or {recipe: <yaml>, <recipe key>: value}; base first."}
    )
    eval: dict[str, Any] = field(metadata={"help": "task -> n (questions per gold position) or all."})
    batch_size: int = field(metadata={"help": "Evaluation: at most this many prompts per generate call."})
    datasets: Any = field(default_factory=list, metadata={"help": "Dataset builder configs to build, or all."})
    max_batch_tokens: int = field(
        default=DEFAULT_MAX_BATCH_TOKENS, metadata={"help": "Evaluation: at most this many padded prompt tokens."}
    )
    precision: str = field(default="auto", metadata={"help": "Evaluation weights: auto | bf16 | fp32."})
    dataset_dir: str = field(default=DATASET_DIR, metadata={"help": "Dataset builder output (Hub layout)."})
    base_model: str = field(default=EMBEDDED_MODEL_DIR, metadata={"help": "The converted embedded base model."})
    results_dir: str = field(default=RESULTS_DIR, metadata={"help": "One results folder per model label."})
    data_dir: str = field(default=LIU_DATA_DIR, metadata={"help": "Liu et al.'s files (MDQA, KV, NQ-Open)."})
    replay_dir: str | None = field(
        default=None, metadata={"help": "Replay rows from the base's answers (python -m training.replay) go here."}
    )
    paper_table: str | None = field(default=None, metadata={"help": "Write table.{md,json,png} of every model here."})
    frontier: str | None = field(default=None, metadata={"help": "Write frontier.{md,json,png} of every model here."})
    general: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": "The general benchmarks through lm-eval: {tasks: [...], n, mmlu_per_subject, seed, out} "
            "(python -m evaluation lm-eval over the local copies; out/<label> per model)."
        },
    )
    seed_spread: str | None = field(
        default=None, metadata={"help": "Write spread.{md,json} (each <row>_seed<k> group vs the base) here."}
    )
    card: str | None = field(default=None, metadata={"help": "Render the model card of card_model here."})
    card_model: str | None = field(default=None, metadata={"help": "The label the card describes (vs the base)."})
    card_paper_table: str | None = field(
        default=None, metadata={"help": "A paper table.json whose section joins the card when it exists."}
    )
    card_frontier: str | None = field(
        default=None, metadata={"help": "A frontier.json whose section joins the card when it exists."}
    )
    card_seed_spread: str | None = field(
        default=None, metadata={"help": "A seed spread.json whose section joins the card when it exists."}
    )
    release_dir: str | None = field(
        default=None, metadata={"help": "Stage dataset_dir and the card's model here, validate, push (HF_TOKEN)."}
    )
    model_repo: str = field(default=MODEL_REPO_ID, metadata={"help": "Hub model repo of the release and the card."})
    dataset_repo: str = field(default=DATASET_REPO_ID, metadata={"help": "Hub dataset repo of the release."})

    def __post_init__(self) -> None:
        check_type("models", self.models, dict, "a mapping of label -> {} or {recipe: ...}")
        if not self.models:
            raise PlanError("models is empty; list the base model first (base: {}), then the recipes to train")
        for label, spec in self.models.items():
            check_label(label)
            check_type(f"models.{label}", spec, dict, "a mapping ({} for the base model, else recipe: <yaml>)")
            if spec and not isinstance(spec.get("recipe"), str):
                raise PlanError(f"models.{label} has no recipe; give recipe: <training recipe YAML> (or {{}} = base)")
            if spec and not Path(spec["recipe"]).is_file():
                raise PlanError(
                    f"models.{label}.recipe {spec['recipe']} does not exist; name a YAML in training/recipes/"
                )
        bases = [label for label, spec in self.models.items() if not spec]
        if bases != [self.base_label]:
            raise PlanError(
                f"models: the base model ({{}}) must be listed once and first, got {bases or 'none'} first "
                f"{self.base_label!r}; every other model is compared with it"
            )
        check_type("eval", self.eval, dict, "a mapping of task -> n (questions per gold position) or all")
        if not self.eval:
            raise PlanError("eval is empty; list the tasks to evaluate, e.g. nq_closed: 40")
        for task, n in self.eval.items():
            if not (n == ALL or (isinstance(n, int) and not isinstance(n, bool) and n >= 1)):
                raise PlanError(
                    f"eval.{task}: n={n!r}; give the questions per gold position as an integer >= 1, or all"
                )
        if self.datasets != ALL:
            check_type("datasets", self.datasets, list, "a list of dataset builder configs, or all")
        check_int("batch_size", self.batch_size)
        check_int("max_batch_tokens", self.max_batch_tokens)
        if self.precision not in PRECISIONS:
            raise PlanError(f"precision={self.precision!r}; use one of {', '.join(PRECISIONS)}")
        if (self.card is None) != (self.card_model is None):
            raise PlanError("card and card_model go together: the folder to write and the label it describes")
        if self.card_model is not None and self.card_model not in self.trained_labels:
            raise PlanError(
                f"card_model {self.card_model!r} is not a trained model of this plan: {self.trained_labels}"
            )
        if self.release_dir is not None and self.card is None:
            raise PlanError("release_dir needs card and card_model: the release stages the card's model")
        if self.general is not None:
            check_general(self.general)
        for key in ("dataset_dir", "base_model", "results_dir", "data_dir", "model_repo", "dataset_repo"):
            check_type(key, getattr(self, key), str, "a path or id")

    @property
    def base_label(self) -> str:
        return next(iter(self.models))

    @property
    def general_out(self) -> str | None:
        """The folder of the general benchmarks' lm-eval runs (one per label), or None without ``general``."""
        return self.general["out"] if self.general else None

    @property
    def trained_labels(self) -> list[str]:
        return [label for label, spec in self.models.items() if spec]

    def limit(self, task: str) -> int | None:
        """``python -m evaluation run --limit`` of ``task``: n itself (same meaning), or None for all."""
        n = self.eval[task]
        return None if n == ALL else n


GENERAL_KEYS = ("tasks", "n", "mmlu_per_subject", "seed", "out")


def check_general(general: Any) -> None:
    """``general``: which lm-eval columns, the subset (n items per task, k per MMLU subject, its seed), the folder."""
    check_type("general", general, dict, "a mapping {tasks: [mmlu, ...], n: 20, mmlu_per_subject: 1, out: ...}")
    unknown = sorted(set(map(str, general)) - set(GENERAL_KEYS))
    if unknown:
        raise PlanError(f"general: unknown key(s) {unknown}; its keys are {', '.join(GENERAL_KEYS)}")
    tasks = general.get("tasks")
    if not isinstance(tasks, list) or not tasks or not set(tasks) <= set(LOCAL_TASKS):
        raise PlanError(f"general.tasks={tasks!r}; list some of {', '.join(LOCAL_TASKS)}")
    for key in ("n", "mmlu_per_subject"):
        if general.get(key) is not None:
            check_int(f"general.{key}", general[key])
    seed = general.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise PlanError(f"general.seed={seed!r}; give an integer")
    check_type("general.out", general.get("out"), str, "the folder holding one lm-eval run per model label")


def check_type(key: str, value: Any, kind: type, what: str) -> None:
    if not isinstance(value, kind):
        raise PlanError(f"{key} is a {type(value).__name__}; write {what}")


def check_int(key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PlanError(f"{key}={value!r}; give an integer >= 1")


def check_label(label: Any) -> None:
    import re

    if not isinstance(label, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", label) or ".." in label:
        raise PlanError(
            f"model label {label!r} names a results folder: use letters, digits, '_', '-' and '.' (no '/')"
        )


def read_plan(path: Path) -> Plan:
    """The plan a YAML file declares; unknown keys, doubled keys and wrong values are one :class:`PlanError`."""
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"plan {path} does not exist; give one of plans/*.yaml")
    values = read_yaml_mapping(path, "plan key", PlanError)
    known = [f.name for f in fields(Plan)]
    unknown = sorted(set(map(str, values)) - set(known))
    if unknown:
        raise PlanError(f"{path}: unknown key(s) {unknown}; a plan's keys are {', '.join(known)}")
    missing = [f.name for f in fields(Plan) if f.name in ("models", "eval", "batch_size") and f.name not in values]
    if missing:
        raise PlanError(f"{path}: missing key(s) {missing}; every plan declares its models, eval and batch_size")
    try:
        return Plan(**values)
    except PlanError as err:
        raise PlanError(f"{path}: {err}") from err
