"""The one typed config behind every dataset variant, and its strict YAML parser.

A named config is ``dataset_builder/configs/<name>.yaml`` whose keys are exactly the fields of
:class:`KVConfig`; an unknown key, a wrong type or an impossible value raises :class:`ConfigError`
naming the field and the fix. The same parser reads user YAML files and CLI overrides.

Four tasks share it: the paper's synthetic ``simple_kv`` and ``multi_subkey_kv`` (generate.py), and the factual
baselines ``mdqa`` and ``niah`` (baselines.py). A field that does not apply to a task is ignored for it (its help
says which tasks read it), is not validated for it, and is left out of the config's snapshot.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.cli import UserError, read_yaml_mapping
from infra.project import LIU_DATA_DIR
from sources.nq_open import NQ_ORACLE_FILE

NAMED_CONFIG_DIR = Path(__file__).parent / "configs"
KV_TASKS = ("simple_kv", "multi_subkey_kv")
# Factual long-context finetuning data the paper contrasts with its synthetic data (baselines.py).
BASELINE_TASKS = ("mdqa", "niah")
TASKS = KV_TASKS + BASELINE_TASKS
# Read by the KV tasks only; mdqa and niah ignore them.
KV_ONLY_FIELDS = (
    "pairs_per_dict",
    "gold_dict_size",
    "key_digits",
    "value_digits",
    "subkeys_per_key",
    "gold_key_subkeys",
    "num_common_subkeys",
    "prob_has_common",
    "prob_per_common",
    "answer_template",
    "shuffle_names",
    "pair_with",
)
# Read by mdqa and niah only; the KV tasks ignore it.
BASELINE_ONLY_FIELDS = ("source_file",)
# Liu et al.'s NQ-Open oracle file, seen from the repository root (the shared read-only copy; never copied here).
DEFAULT_SOURCE_FILE = f"{LIU_DATA_DIR}/{NQ_ORACLE_FILE}"
# authors: the authors' rule (generate_dataset.py, get_idx_select_0 / get_idx_select_top5 and lines 74-91): exactly
# int(frac_first * n) rows of an n-row split get the first dictionary, exactly int(frac_top * n) other rows a position
# drawn from range(int(AUTHORS_TOP_RANGE * n)), the rest uniform. uniform: each row draws those branches on its own
# (a Bernoulli frac_first / frac_top, "top" = the first top_k), the rule the SmolLM2 configs were built with.
POSITION_POLICIES = ("authors", "uniform", "grid")
# The authors' "top" range is a fraction of the split's sample count, not of the dictionaries: generate_dataset.py
# draws random.choice(range(int(num_train * 0.05))), i.e. positions 0-16 for 350 train rows (int(17.5) = 17) and 0-6
# for 150 test rows (int(7.5) = 7). 0.05 is written there as a constant, not read from frac_0.
AUTHORS_TOP_RANGE = 0.05
# Built-in tokenizer names; anything else must be a local Hugging Face tokenizer folder. cl100k_base: GPT-3.5 Turbo's
# encoding, counted on the OpenAI chat fine-tuning format (tokens.py).
BUILTIN_TOKENIZERS = ("mistral-v1", "smollm2", "cl100k_base")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
# The config the dataset card marks `default: true` (what `load_dataset(repo)` loads without a config name): the
# paper's own Mistral-7B training set, which is what a reader of the card comes for; smollm2_kv_600 is only this
# project's CPU-sized variant of it.
DEFAULT_CONFIG = "simple_kv"


class ConfigError(UserError):
    """A dataset config that cannot be built; the message names the field and the fix."""


def _field(default: Any, help: str, **kwargs: Any) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass(frozen=True)
class KVConfig:
    """Every knob of the paper's two key-value retrieval tasks (Xiong et al. 2024, section 2) and of the two
    factual baselines (mdqa, niah). A help text opening with tasks ("KV only:", "multi_subkey_kv:", "mdqa/niah
    only:") marks a field the other tasks ignore.

    The field names are the KV tasks' words, kept for the baselines because published configs and every row's
    ``num_dicts`` column use them: for mdqa, ``num_dicts`` counts documents; for niah, paragraphs (each includes the
    gold one)."""

    name: str = _field("custom", "Config name: lower-case letters, digits, underscores. Names the Hub config.")
    description: str = _field("", "One line for the dataset card.")
    task: str = _field(
        "simple_kv",
        "simple_kv (integer keys), multi_subkey_kv (tuple keys, harder), or the factual baselines mdqa "
        "(multi-document QA) and niah (needle in a haystack), built from source_file.",
    )
    source_file: str = _field(
        DEFAULT_SOURCE_FILE,
        "mdqa/niah only: Liu et al.'s nq-open-oracle-dev.jsonl.gz; a relative path is looked up from the current "
        "directory, then from the repository root.",
    )
    num_dicts: int | None = _field(
        85,
        "Dictionaries per prompt (mdqa: documents, gold included; niah: paragraphs, the needle's own included); "
        "null = as many as fit max_tokens.",
    )
    pairs_per_dict: list[int] = _field([3, 4], "KV only: [min, max] key-value pairs in each distractor dictionary.")
    gold_dict_size: int = _field(3, "KV only: pairs in the gold key's dictionary (must lie in pairs_per_dict).")
    key_digits: list[int] = _field([3, 4], "KV only: [min, max] digits of each key (of each multi_subkey_kv subkey).")
    value_digits: list[int] = _field([3, 4], "KV only: [min, max] digits of each value.")
    subkeys_per_key: list[int] = _field([3, 4], "multi_subkey_kv: [min, max] integers in each distractor key.")
    gold_key_subkeys: int = _field(3, "multi_subkey_kv: integers in the gold key.")
    num_common_subkeys: int = _field(2, "multi_subkey_kv: integers shared with distractors (< gold_key_subkeys).")
    prob_has_common: float = _field(0.5, "multi_subkey_kv: probability a distractor key draws from the common set.")
    prob_per_common: float = _field(0.5, "multi_subkey_kv: probability of each common integer, given the above.")
    answer_template: bool = _field(False, "KV only: append 'Answer in the following template: ...' to the question.")
    shuffle_names: bool = _field(False, "KV only: name dictionaries by a random permutation of 1..n, not in order.")
    max_tokens: int = _field(4096, "Budget for the full chat-formatted example, answer included.")
    tokenizer: str = _field(
        "mistral-v1",
        "mistral-v1, smollm2, cl100k_base (GPT-3.5 Turbo, OpenAI chat format), or a local tokenizer folder.",
    )
    position_policy: str = _field(
        "uniform",
        "authors (the authors' exact per-split counts), uniform (per-row draws with frac_first/frac_top/top_k) "
        "or grid (fixed depths).",
    )
    frac_first: float = _field(
        0.05,
        "authors: exactly int(frac_first * rows) rows of a split have the gold dictionary first; uniform: each row "
        "with this probability (dictionary, document, needle).",
    )
    frac_top: float = _field(
        0.03,
        "authors: exactly int(frac_top * rows) other rows have it in range(int(0.05 * rows)); uniform: each row with "
        "this probability among the first top_k.",
    )
    top_k: int = _field(5, "uniform only: how many leading positions frac_top covers (authors: from the row count).")
    pair_with: str = _field(
        "",
        "KV only: a named config this one is paired with: same haystacks, gold and positions row by row, only the "
        "question text differing (answer_template). Every other field must equal that config's.",
    )
    depths: list[float] = _field([], "grid: gold depths in [0, 1] (0 = first dictionary, 1 = last).")
    train_size: int = _field(
        350, "Train samples (0 only for grid test sets). mdqa/niah: the first train_size usable train-half questions."
    )
    test_size: int = _field(
        150, "Test samples (grid: a multiple of len(depths), spread evenly). mdqa/niah: the next test_size questions."
    )
    seed: int = _field(
        0,
        "Data seed; train and test use independent streams derived from it and the config name (pair_with's name "
        "for a paired config). The authors generated seeds 0, 1, 2 (run.sh): the *_seed1 / *_seed2 configs.",
    )

    def __post_init__(self) -> None:
        validate(self)

    @property
    def splits(self) -> dict[str, int]:
        sizes = {"train": self.train_size, "test": self.test_size}
        return {split: n for split, n in sizes.items() if n > 0}


def _fail(name: str, problem: str, fix: str) -> None:
    raise ConfigError(f"config field '{name}': {problem}; {fix}")


def _check_range(cfg: KVConfig, name: str, low: int) -> None:
    value = getattr(cfg, name)
    if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        _fail(name, f"expected [min, max] integers, got {value!r}", "write it as a two-item list like [3, 4]")
    if value[0] < low:
        _fail(name, f"minimum {value[0]} is below {low}", f"use a minimum of at least {low}")
    if value[0] > value[1]:
        _fail(name, f"range {value!r} is inverted", f"swap it to [{value[1]}, {value[0]}]")


def _check_prob(cfg: KVConfig, name: str) -> None:
    value = getattr(cfg, name)
    if not 0.0 <= value <= 1.0:
        _fail(name, f"{value} is outside [0, 1]", "use a probability between 0 and 1")


def key_space(digits: list[int]) -> int:
    """How many integers have between digits[0] and digits[1] digits: 3–4 digits → 9,900."""
    return 10 ** digits[1] - 10 ** (digits[0] - 1)


def validate(cfg: KVConfig) -> None:
    """Everything that can be checked without a tokenizer or the source file; the token budget is checked when rows
    are generated (generate.py, baselines.py), the source file when it is read (baselines.py)."""
    if not _NAME_RE.match(cfg.name):
        _fail("name", f"{cfg.name!r} is not a valid config name", "use lower-case letters, digits and underscores")
    if cfg.task not in TASKS:
        _fail("task", f"unknown task {cfg.task!r}", f"use one of {', '.join(TASKS)}")
    if cfg.position_policy not in POSITION_POLICIES:
        _fail("position_policy", f"unknown policy {cfg.position_policy!r}", f"use one of {POSITION_POLICIES}")
    if cfg.num_dicts is not None and cfg.num_dicts <= 0:
        _fail("num_dicts", f"{cfg.num_dicts} is not positive", "use a positive count, or null to fill max_tokens")
    if cfg.max_tokens <= 0:
        _fail("max_tokens", f"{cfg.max_tokens} is not positive", "give the token budget, e.g. 4096")
    for name in ("frac_first", "frac_top"):
        _check_prob(cfg, name)
    if cfg.frac_first + cfg.frac_top > 1.0:
        _fail("frac_top", f"frac_first + frac_top = {cfg.frac_first + cfg.frac_top} > 1", "lower one of them")
    if cfg.top_k <= 0:
        _fail("top_k", f"{cfg.top_k} is not positive", "use a positive number of leading positions")
    if cfg.pair_with and (cfg.pair_with == cfg.name or not _NAME_RE.match(cfg.pair_with)):
        _fail("pair_with", f"{cfg.pair_with!r} is not another config's name", "name the plain twin, e.g. simple_kv")
    if cfg.pair_with and cfg.num_dicts is None:
        # A budget-filled prompt's dictionary count depends on the question's length, so twins could not share it.
        _fail("pair_with", "needs a fixed num_dicts (null fills the budget per prompt)", "set num_dicts")
    if cfg.task in KV_TASKS:
        validate_kv(cfg)
    elif not cfg.source_file:
        _fail(
            "source_file", "is empty", f"give the path of Liu et al.'s NQ-Open oracle file, e.g. {DEFAULT_SOURCE_FILE}"
        )
    if cfg.position_policy == "grid":
        if not cfg.depths or not all(0.0 <= d <= 1.0 for d in cfg.depths):
            _fail("depths", f"grid needs depths in [0, 1], got {cfg.depths!r}", "list depths like [0, 0.5, 1]")
        if cfg.test_size % len(cfg.depths):
            _fail("test_size", f"{cfg.test_size} is not a multiple of {len(cfg.depths)} depths", "round it")
    elif cfg.depths:
        _fail(
            "depths",
            f"set but position_policy is {cfg.position_policy!r}",
            "set position_policy: grid, or drop depths",
        )
    if cfg.position_policy == "authors":
        if cfg.task not in KV_TASKS:
            _fail("position_policy", f"'authors' is the KV generator's rule, not {cfg.task}'s", "use uniform or grid")
        for split, n in cfg.splits.items():
            if int(n * cfg.frac_top) and not int(n * AUTHORS_TOP_RANGE):
                _fail(
                    "position_policy",
                    f"the authors' top range int({AUTHORS_TOP_RANGE} x {n} {split} rows) is empty",
                    "use at least 20 rows per split, frac_top: 0, or position_policy: uniform",
                )
    if cfg.train_size < 0 or cfg.test_size <= 0:
        _fail("train_size/test_size", f"sizes {cfg.train_size}/{cfg.test_size}", "use train ≥ 0 and test > 0")
    if cfg.train_size == 0 and cfg.position_policy != "grid":
        _fail("train_size", "0 train samples", "give a positive size (only grid test sets may have no train split)")


def validate_kv(cfg: KVConfig) -> None:
    """The fields only the synthetic KV tasks read (the baselines ignore them, so they are not checked there)."""
    for name in ("pairs_per_dict", "key_digits", "value_digits", "subkeys_per_key"):
        _check_range(cfg, name, low=1)
    if not cfg.pairs_per_dict[0] <= cfg.gold_dict_size <= cfg.pairs_per_dict[1]:
        _fail(
            "gold_dict_size",
            f"{cfg.gold_dict_size} lies outside pairs_per_dict {cfg.pairs_per_dict}",
            "choose a size inside that range",
        )
    for name in ("prob_has_common", "prob_per_common"):
        _check_prob(cfg, name)
    if cfg.task == "multi_subkey_kv":
        if not 0 <= cfg.num_common_subkeys < cfg.gold_key_subkeys:
            _fail(
                "num_common_subkeys",
                f"{cfg.num_common_subkeys} common integers for a gold key of {cfg.gold_key_subkeys}",
                "use fewer common integers than the gold key has, or no distractor could differ from it",
            )
        if cfg.gold_key_subkeys < 1:
            _fail("gold_key_subkeys", f"{cfg.gold_key_subkeys} is not positive", "use at least 1")
        if key_space(cfg.key_digits) < 4 * cfg.subkeys_per_key[1]:
            _fail("key_digits", f"{cfg.key_digits} allows too few distinct integers per key", "allow more digits")
    max_pairs = None if cfg.num_dicts is None else cfg.num_dicts * cfg.pairs_per_dict[1]
    if max_pairs is not None and cfg.task == "simple_kv" and key_space(cfg.key_digits) < 2 * max_pairs:
        # Keys are unique within a prompt; below 2x headroom the rejection sampler crawls.
        _fail(
            "key_digits",
            f"{key_space(cfg.key_digits)} possible keys cannot give {max_pairs} unique keys with headroom",
            f"allow more key digits or fewer dictionaries (need at least {2 * max_pairs} possible keys)",
        )


def task_fields(task: str) -> tuple[str, ...]:
    """The fields a task reads, in declaration order."""
    ignored = BASELINE_ONLY_FIELDS if task in KV_TASKS else KV_ONLY_FIELDS
    return tuple(name for name in FIELD_NAMES if name not in ignored)


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(KVConfig))


def config_from_dict(values: dict[str, Any], source: str = "config") -> KVConfig:
    """Strict: unknown keys and wrong types are errors; YAML keys are exactly the dataclass fields."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: expected a mapping of config fields, got {type(values).__name__}")
    unknown = sorted(set(values) - set(FIELD_NAMES))
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {unknown}; valid fields are: {', '.join(FIELD_NAMES)}")
    for f in dataclasses.fields(KVConfig):
        if f.name in values:
            _check_type(f.name, f.type, values[f.name], source)
    return KVConfig(**values)


def _is_number(value: Any, kinds: type | tuple[type, ...]) -> bool:
    """``true``/``false`` are ints to Python (True == 1): ``depths: [true, false]`` must not read as [1, 0]."""
    return isinstance(value, kinds) and not isinstance(value, bool)


def _check_type(name: str, annotation: str, value: Any, source: str) -> None:
    base = annotation.replace(" | None", "")
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list[int]": isinstance(value, list) and all(_is_number(v, int) for v in value),
        "list[float]": isinstance(value, list) and all(_is_number(v, (int, float)) for v in value),
    }[base]
    if value is None and "None" in annotation:
        ok = True
    if not ok:
        raise ConfigError(f"{source}: config field '{name}' must be {annotation}, got {value!r}; fix its type")


def named_configs() -> list[str]:
    return sorted(p.stem for p in NAMED_CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str, overrides: dict[str, Any] | None = None) -> KVConfig:
    """A named config (``simple_kv``) or a YAML file path, with optional field overrides."""
    path = Path(name_or_path)
    if not path.suffix:
        path = NAMED_CONFIG_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown config {name_or_path!r}; named configs are: {', '.join(named_configs())}")
    elif not path.is_file():
        raise ConfigError(f"config file {name_or_path} does not exist; give a YAML path or a named config")
    values = read_yaml_mapping(path, "KVConfig field", ConfigError)
    values = {**values, **(overrides or {})}
    return config_from_dict(values, source=str(path))


def config_to_dict(cfg: KVConfig) -> dict[str, Any]:
    """The fields the config reads (its snapshot): a field the task ignores is left out, so a KV config's snapshot is
    what it was before the baselines existed, and a baseline's lists no dictionary knobs."""
    values = dataclasses.asdict(cfg)
    # Nor a field the position policy ignores (top_k under authors), nor an empty pair_with: the snapshot of a config
    # that pairs with nothing is what it was before pairing existed.
    unread = {"top_k"} if cfg.position_policy == "authors" else set()
    unread |= set() if cfg.pair_with else {"pair_with"}
    return {name: values[name] for name in task_fields(cfg.task) if name not in unread}
