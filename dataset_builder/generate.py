"""Pure generators for the paper's two synthetic key-value retrieval tasks.

Simple dictionary KV retrieval (prompt as the authors' released template renders it)::

    Do a task using the list of dictionaries below.

    Dictionary [1] {122: 765, 4548: 1475, 4818: 4782}
    Dictionary [2] {526: 290, 9205: 9318, 9278: 1565}

    Above is a list of dictionaries such that each key and value is an integer. Report the value of key 4818 and
    the dictionary it is in.

    -> The value of key 4818 is 4782 and it is in Dictionary [1].

Multi-subkey KV retrieval (our wording; the authors released no template for it)::

    Dictionary [3] {(726, 947, 349, 820): 4130, (141, 986, 163): 2528, (986, 5120, 3301): 771}
    ... Report the key that contains the integers 986, 163, 141 (not necessarily in order), its value, and the
    dictionary it is in.
    -> The key that contains the integers 986, 163, 141 is (141, 986, 163). Its value is 2528 and it is in
       Dictionary [3].

Every row is a pure function of (config, split, row index): its ``random.Random`` is seeded from those three,
so train and test are independent streams, any row can be regenerated alone, and the same config gives the
same rows byte for byte. Under the authors' position rule which rows of a split go first or "top" is itself a seeded
function of (config, split) (``authors_spans``). A config with ``pair_with`` seeds by its twin's name instead, and the
question's template consumes no randomness, so the twins share haystacks, gold and positions row by row. The gold
key and the gold value each occur exactly once in the prompt (distractors that would repeat either are redrawn); for
multi-subkey, exactly one key holds all queried integers.

Speed: a prompt is assembled once from its dictionary lines and tokenized once to confirm the budget
(fixed ``num_dicts``); when ``num_dicts`` is null, each line is counted once to fill the budget, then the
finished example is tokenized once to confirm.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dataset_builder import schema
from dataset_builder.config import AUTHORS_TOP_RANGE, ConfigError, KVConfig, key_space, load_config
from dataset_builder.tokens import TokenCounter

INTRO = "Do a task using the list of dictionaries below."
SIMPLE_QUESTION = (
    "Above is a list of dictionaries such that each key and value is an integer. "
    "Report the value of key {key} and the dictionary it is in."
)
SIMPLE_TEMPLATE = (
    " Answer in the following template:\n"
    "The value of key {key} is <fill-in-value> and it is in Dictionary [<fill-in-dictionary-name>]."
)
SIMPLE_ANSWER = "The value of key {key} is {value} and it is in Dictionary [{name}]."
MULTI_QUESTION = (
    "Above is a list of dictionaries such that each key is a tuple of integers and each value is an integer. "
    "Report the key that contains the integers {query} (not necessarily in order), its value, and the dictionary "
    "it is in."
)
MULTI_TEMPLATE = (
    " Answer in the following template:\n"
    "The key that contains the integers {query} is <fill-in-key>. Its value is <fill-in-value> and it is in "
    "Dictionary [<fill-in-dictionary-name>]."
)
MULTI_ANSWER = (
    "The key that contains the integers {query} is {key}. Its value is {value} and it is in Dictionary [{name}]."
)
# Redraws before a config is declared impossible for its budget (a fitting draw normally comes first time).
MAX_ATTEMPTS = 50

Key = int | tuple[int, ...]
Pairs = list[tuple[Key, int]]


@dataclass(frozen=True)
class Gold:
    """What the question asks for, drawn before the distractors so they can avoid it."""

    key: Key
    value: int
    pairs: Pairs  # the gold dictionary, gold pair included
    query: tuple[int, ...]  # multi-subkey: the gold key's integers in the order the question names them


# ---------------------------------------------------------------- drawing numbers and dictionaries


def draw_int(rng: random.Random, digits: list[int]) -> int:
    """Digit count uniform in [min, max], then the number uniform among those with that many digits.

    ``int(rng.random() * n)`` instead of ``rng.randint``: the same distribution (to 2**-53) at a third of
    the cost, and the 4K config draws ~600 numbers per example.
    """
    size = digits[0] + int(rng.random() * (digits[1] - digits[0] + 1))
    low = 10 ** (size - 1)
    return low + int(rng.random() * 9 * low)


def draw_simple_gold(cfg: KVConfig, rng: random.Random, used_keys: set[Key]) -> Gold:
    key, value = draw_int(rng, cfg.key_digits), draw_int(rng, cfg.value_digits)
    used_keys.add(key)
    pairs = [(key, value)]
    while len(pairs) < cfg.gold_dict_size:
        other = draw_int(rng, cfg.key_digits)
        other_value = draw_int(rng, cfg.value_digits)
        if other in used_keys or other == value or other_value in (key, value):
            continue
        used_keys.add(other)
        pairs.append((other, other_value))
    rng.shuffle(pairs)
    return Gold(key=key, value=value, pairs=pairs, query=(key,))


def draw_simple_pairs(cfg: KVConfig, rng: random.Random, gold: Gold, used_keys: set[Key]) -> Pairs:
    size = rng.randint(cfg.pairs_per_dict[0], cfg.pairs_per_dict[1])
    pairs: Pairs = []
    while len(pairs) < size:
        key, value = draw_int(rng, cfg.key_digits), draw_int(rng, cfg.value_digits)
        # Unique keys across the prompt; neither the gold key nor the gold value may appear a second time.
        if key in used_keys or key == gold.value or value == gold.key or value == gold.value:
            continue
        used_keys.add(key)
        pairs.append((key, value))
    return pairs


def draw_subkey_tuple(cfg: KVConfig, rng: random.Random, size: int, common: list[int], take_common: bool) -> tuple:
    """A key of ``size`` distinct integers, holding each common integer with prob_per_common if take_common."""
    chosen = [c for c in common if take_common and rng.random() < cfg.prob_per_common][:size]
    while len(chosen) < size:
        subkey = draw_int(rng, cfg.key_digits)
        if subkey not in chosen:
            chosen.append(subkey)
    rng.shuffle(chosen)
    return tuple(chosen)


def draw_multi_gold(cfg: KVConfig, rng: random.Random, used_keys: set[Key]) -> tuple[Gold, list[int]]:
    # The common integers are the gold key's own, so a distractor can share some of them but never all.
    gold_key = draw_subkey_tuple(cfg, rng, cfg.gold_key_subkeys, [], take_common=False)
    common = list(gold_key[: cfg.num_common_subkeys])
    value = draw_int(rng, cfg.value_digits)
    used_keys.add(gold_key)
    gold = Gold(key=gold_key, value=value, pairs=[], query=tuple(rng.sample(gold_key, len(gold_key))))
    gold.pairs.append((gold_key, value))
    gold.pairs.extend(draw_multi_pairs(cfg, rng, gold, common, used_keys, cfg.gold_dict_size - 1))
    rng.shuffle(gold.pairs)
    return gold, common


def draw_multi_pairs(
    cfg: KVConfig, rng: random.Random, gold: Gold, common: list[int], used_keys: set[Key], size: int | None = None
) -> Pairs:
    if size is None:
        size = rng.randint(cfg.pairs_per_dict[0], cfg.pairs_per_dict[1])
    gold_set = set(gold.key)
    pairs: Pairs = []
    while len(pairs) < size:
        key_size = rng.randint(cfg.subkeys_per_key[0], cfg.subkeys_per_key[1])
        key = draw_subkey_tuple(cfg, rng, key_size, common, take_common=rng.random() < cfg.prob_has_common)
        value = draw_int(rng, cfg.value_digits)
        if key in used_keys or gold_set.issubset(key) or gold.value in key or value == gold.value or value in gold_set:
            continue
        used_keys.add(key)
        pairs.append((key, value))
    return pairs


# ---------------------------------------------------------------- rendering text


def format_key(key: Key) -> str:
    return str(key)  # int → "4818"; tuple → "(141, 986, 163)", the authors' Python-repr style


def format_dict(pairs: Pairs) -> str:
    return "{" + ", ".join(f"{format_key(k)}: {v}" for k, v in pairs) + "}"


def render_prompt(cfg: KVConfig, lines: list[str], gold: Gold) -> str:
    if cfg.task == "simple_kv":
        question = SIMPLE_QUESTION.format(key=gold.key)
        template = SIMPLE_TEMPLATE.format(key=gold.key)
    else:
        query = ", ".join(map(str, gold.query))
        question = MULTI_QUESTION.format(query=query)
        template = MULTI_TEMPLATE.format(query=query)
    suffix = template if cfg.answer_template else ""
    return f"{INTRO}\n\n" + "\n".join(lines) + f"\n\n{question}{suffix}"


def render_answer(cfg: KVConfig, gold: Gold, name: int) -> str:
    if cfg.task == "simple_kv":
        return SIMPLE_ANSWER.format(key=gold.key, value=gold.value, name=name)
    query = ", ".join(map(str, gold.query))
    return MULTI_ANSWER.format(query=query, key=format_key(gold.key), value=gold.value, name=name)


# ---------------------------------------------------------------- gold position


@dataclass(frozen=True)
class PositionDraw:
    """The random part of the gold position, drawn once so that it maps to an index for any n."""

    branch: float
    spot: float
    depth: float | None  # grid policy: the fixed depth
    span: int | None = None  # authors policy: the row's range, 1 = first, k = range(k); None = any of the n


def authors_spans(cfg: KVConfig, split: str) -> list[int | None]:
    """The authors' rule for one split of n rows (generate_dataset.py, lines 13-28 and 74-91): exactly
    int(n x frac_first) rows, sampled without replacement, get the first dictionary; exactly int(n x frac_top) of the
    others a position in range(int(n x 0.05)) (cut to the prompt's dictionaries if fewer); the rest any position.
    350 train rows: 17 first, 10 in 0-16; 150 test rows: 7 first, 4 in 0-6. Seeded by (config, split), so which rows
    they are is reproducible too."""
    n = cfg.splits[split]
    rng = random.Random(f"{seed_name(cfg)}:{cfg.seed}:{split}:positions")
    first = rng.sample(range(n), int(n * cfg.frac_first))
    chosen = set(first)
    rest = [i for i in range(n) if i not in chosen]
    top = rng.sample(rest, int(n * cfg.frac_top))
    spans: list[int | None] = [None] * n
    for i in first:
        spans[i] = 1
    for i in top:
        spans[i] = int(n * AUTHORS_TOP_RANGE)
    return spans


def draw_position(cfg: KVConfig, rng: random.Random, row_index: int, span: int | None = None) -> PositionDraw:
    if cfg.position_policy == "grid":
        # Interleaved (row i → depths[i mod k]) so any leading subset (--limit) covers every depth evenly.
        return PositionDraw(0.0, 0.0, cfg.depths[row_index % len(cfg.depths)])
    if cfg.position_policy == "authors":
        # The split chose the row's range (authors_spans); the spot inside it is the row's own draw.
        return PositionDraw(0.0, rng.random(), None, span)
    return PositionDraw(rng.random(), rng.random(), None)


def gold_index(cfg: KVConfig, draw: PositionDraw, n: int) -> int:
    if draw.depth is not None:
        return round(draw.depth * (n - 1))
    if cfg.position_policy == "authors":
        return int(draw.spot * (n if draw.span is None else min(draw.span, n)))
    if draw.branch < cfg.frac_first:  # per-row Bernoulli frac_first: gold dictionary first
        return 0
    if draw.branch < cfg.frac_first + cfg.frac_top:  # per-row Bernoulli frac_top: among the first top_k
        return int(draw.spot * min(cfg.top_k, n))
    return int(draw.spot * n)


# ---------------------------------------------------------------- one example


@dataclass(frozen=True)
class Example:
    prompt: str
    answer: str
    gold: Gold
    gold_name: int
    gold_index: int
    num_dicts: int
    num_tokens: int


def draw_example(
    cfg: KVConfig, rng: random.Random, row_index: int, counter: TokenCounter, span: int | None = None
) -> Example | None:
    """One example, or None when this draw exceeds the budget (the caller redraws); ``span``: the authors' rule's
    range for this row (authors_spans)."""
    used_keys: set[Key] = set()
    if cfg.task == "simple_kv":
        gold = draw_simple_gold(cfg, rng, used_keys)

        def draw_pairs() -> Pairs:
            return draw_simple_pairs(cfg, rng, gold, used_keys)

    else:
        gold, common = draw_multi_gold(cfg, rng, used_keys)

        def draw_pairs() -> Pairs:
            return draw_multi_pairs(cfg, rng, gold, common, used_keys)

    position = draw_position(cfg, rng, row_index, span)
    if cfg.num_dicts is not None:
        distractors = [format_dict(draw_pairs()) for _ in range(cfg.num_dicts - 1)]
        line_tokens: list[int] = []
    else:
        distractors, line_tokens = fill_budget(cfg, gold, draw_pairs, counter)
    names = list(range(1, len(distractors) + 2))
    if cfg.shuffle_names:
        rng.shuffle(names)
    gold_text = format_dict(gold.pairs)
    while True:
        n = len(distractors) + 1
        index = gold_index(cfg, position, n)
        bodies = distractors[:index] + [gold_text] + distractors[index:]
        lines = [f"Dictionary [{name}] {body}" for name, body in zip(names, bodies, strict=True)]
        prompt = render_prompt(cfg, lines, gold)
        answer = render_answer(cfg, gold, names[index])
        num_tokens = counter.count_example(prompt, answer)
        if num_tokens <= cfg.max_tokens:
            return Example(prompt, answer, gold, names[index], index, n, num_tokens)
        if cfg.num_dicts is not None or not distractors:
            return None
        # The estimate undercounted (a line alone tokenizes slightly differently than after a newline):
        # drop trailing distractors worth the overshoot, and their names, then recount once more.
        overshoot = num_tokens - cfg.max_tokens
        while overshoot > 0 and distractors:
            distractors.pop()
            overshoot -= line_tokens.pop()
            names.remove(max(names))


def fill_budget(
    cfg: KVConfig, gold: Gold, draw_pairs: Callable[[], Pairs], counter: TokenCounter
) -> tuple[list[str], list[int]]:
    """Distractor dictionaries until the estimated example reaches the budget, with each one's token estimate.

    Estimate = tokens of the example with the gold dictionary alone + tokens of each further line counted
    on its own + 1 for its newline. Lines are drawn and counted in chunks of 32 to amortise tokenizer calls.
    """
    lone = f"Dictionary [1] {format_dict(gold.pairs)}"
    total = counter.count_example(render_prompt(cfg, [lone], gold), render_answer(cfg, gold, 1))
    distractors: list[str] = []
    line_tokens: list[int] = []
    while True:
        chunk = [format_dict(draw_pairs()) for _ in range(32)]
        first_name = len(distractors) + 2
        counts = counter.count_texts([f"Dictionary [{first_name + i}] {body}" for i, body in enumerate(chunk)])
        for body, count in zip(chunk, counts, strict=True):
            if total + count + 1 > cfg.max_tokens:
                return distractors, line_tokens
            total += count + 1
            distractors.append(body)
            line_tokens.append(count + 1)


# ---------------------------------------------------------------- rows and splits


def seed_name(cfg: KVConfig) -> str:
    """The name that seeds a config's rows: its own, or for a paired config its twin's (so both draw the same)."""
    return cfg.pair_with or cfg.name


def row_rng(cfg: KVConfig, split: str, index: int, attempt: int) -> random.Random:
    # String seeds hash through SHA-512 in CPython: stable across runs and PYTHONHASHSEED. The config name is
    # part of the seed so that two configs with the same seed do not share their numbers (a paired config uses its
    # twin's name: sharing them is the point).
    return random.Random(f"{seed_name(cfg)}:{cfg.seed}:{split}:{index}:{attempt}")


# What a paired config may differ in from its twin: the question text and the labels (a test checks the named ones).
PAIR_FREE_FIELDS = ("name", "description", "answer_template", "pair_with")


def load_twin(cfg: KVConfig) -> KVConfig | None:
    """The config ``cfg`` is paired with, as this config's fields with the twin's question and name (None when
    unpaired): an override (``load_variant("simple_kv_template", train_size=60)``) pairs with the same variant of
    the twin."""
    if not cfg.pair_with:
        return None
    named = load_config(cfg.pair_with)
    if named.pair_with:
        raise ConfigError(
            f"config field 'pair_with': {cfg.pair_with} is itself paired (with {named.pair_with}); pair with the "
            f"plain config, {named.pair_with}"
        )
    return dataclasses.replace(
        cfg, name=named.name, description=named.description, answer_template=named.answer_template, pair_with=""
    )


def make_kv_row(
    cfg: KVConfig,
    split: str,
    index: int,
    counter: TokenCounter,
    exclude: frozenset[str],
    span: int | None = None,
    twin: KVConfig | None = None,
) -> dict:
    """Row ``index`` of ``split``, redrawn (up to MAX_ATTEMPTS) until it fits max_tokens and is not in ``exclude``."""
    for attempt in range(MAX_ATTEMPTS):
        example = draw_example(cfg, row_rng(cfg, split, index, attempt), index, counter, span)
        if twin is not None:
            # The twin's budget decides when a row is redrawn, so a paired row is the twin's row with its question.
            if draw_example(twin, row_rng(twin, split, index, attempt), index, counter, span) is None:
                continue
            if example is None:
                raise ConfigError(
                    f"config '{cfg.name}': {split} row {index} fits {twin.name}'s budget but not with this config's "
                    f"question (max_tokens={cfg.max_tokens}); raise max_tokens of both, or lower num_dicts"
                )
        if example is not None and example.prompt not in exclude:
            return example_to_row(cfg, split, index, example)
    raise ConfigError(
        f"config '{cfg.name}': {MAX_ATTEMPTS} draws of {split} row {index} all exceeded max_tokens={cfg.max_tokens} "
        f"({cfg.num_dicts} dictionaries); raise max_tokens, lower num_dicts or pairs_per_dict, or set num_dicts: null"
    )


def example_to_row(cfg: KVConfig, split: str, index: int, ex: Example) -> dict:
    return schema.make_row(
        cfg.name,
        cfg.task,
        split,
        index,
        ex.prompt,
        ex.answer,
        num_tokens=ex.num_tokens,
        gold_key=format_key(ex.gold.key),
        gold_value=ex.gold.value,
        gold_dict=str(ex.gold_name),
        gold_index=ex.gold_index,
        num_dicts=ex.num_dicts,
    )


def iter_split(
    cfg: KVConfig, split: str, counter: TokenCounter, exclude: frozenset[str] = frozenset()
) -> Iterator[dict]:
    """Rows of one split; ``exclude`` holds prompts the split must not repeat (the train prompts, for test)."""
    spans = authors_spans(cfg, split) if cfg.position_policy == "authors" else [None] * cfg.splits[split]
    twin = load_twin(cfg)
    for index in range(cfg.splits[split]):
        yield make_kv_row(cfg, split, index, counter, exclude, spans[index], twin)


def build_kv_splits(cfg: KVConfig, counter: TokenCounter, progress: Callable | None = None) -> dict[str, list[dict]]:
    """All splits of a simple_kv or multi_subkey_kv config; the test split never repeats a train prompt."""
    check_budget(cfg, counter)
    load_twin(cfg)  # an unknown twin fails before any row
    splits: dict[str, list[dict]] = {}
    exclude: frozenset[str] = frozenset()
    for split in cfg.splits:
        rows = iter_split(cfg, split, counter, exclude)
        splits[split] = list(progress(rows, total=cfg.splits[split], desc=f"{cfg.name}/{split}") if progress else rows)
        exclude = exclude | {row["prompt"][0]["content"] for row in splits[split]}
    return splits


# ---------------------------------------------------------------- budget check


def minimal_example_tokens(cfg: KVConfig, counter: TokenCounter) -> int:
    """Tokens of the smallest example the config allows: every dictionary at its fewest pairs and digits."""
    n = cfg.num_dicts or 1
    smallest = 10 ** (cfg.key_digits[0] - 1)
    value = 10 ** (cfg.value_digits[0] - 1)
    if cfg.task == "simple_kv":
        keys: list[Key] = [smallest + i for i in range(n * cfg.pairs_per_dict[0])]
        gold_key: Key = keys[0]
    else:
        width = cfg.subkeys_per_key[0]
        keys = [tuple(smallest + i * width + j for j in range(width)) for i in range(n * cfg.pairs_per_dict[0])]
        gold_key = tuple(smallest + j for j in range(cfg.gold_key_subkeys))
    size = cfg.pairs_per_dict[0]
    lines = [
        f"Dictionary [{d + 1}] {format_dict([(k, value) for k in keys[d * size : (d + 1) * size]])}" for d in range(n)
    ]
    query = gold_key if isinstance(gold_key, tuple) else (gold_key,)
    gold = Gold(key=gold_key, value=value, pairs=[], query=query)
    return counter.count_example(render_prompt(cfg, lines, gold), render_answer(cfg, gold, 1))


def check_budget(cfg: KVConfig, counter: TokenCounter) -> None:
    need = minimal_example_tokens(cfg, counter)
    if need > cfg.max_tokens:
        what = f"{cfg.num_dicts} dictionaries" if cfg.num_dicts else "one dictionary"
        raise ConfigError(
            f"config field 'max_tokens': {cfg.max_tokens} tokens ({counter.name}) cannot hold {what}: the smallest "
            f"such example needs {need}; raise max_tokens to at least {need} or lower num_dicts"
        )
    if cfg.task == "simple_kv" and cfg.num_dicts is None:
        # Upper bound on keys in a budget-filled prompt: every line holds ≥ pairs_per_dict[0] keys in ≥ ~8 tokens.
        max_keys = cfg.max_tokens // 8 * cfg.pairs_per_dict[1] // max(1, cfg.pairs_per_dict[0])
        if key_space(cfg.key_digits) < 2 * max_keys:
            raise ConfigError(
                f"config field 'key_digits': {key_space(cfg.key_digits)} possible keys are too few for unique keys in "
                f"a {cfg.max_tokens}-token prompt; allow more key digits or lower max_tokens"
            )
