"""Every generated prompt is parsed back independently and its answer checked to be the unique right one."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from mistral_common.protocol.instruct.messages import UserMessage
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

from dataset_builder.config import ConfigError, load_config
from dataset_builder.generate import (
    PositionDraw,
    build_splits,
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
    return cfg, build_splits(cfg, mistral_counter)


@pytest.fixture(scope="module")
def multi_rows(mistral_counter):
    cfg = load_config("multi_subkey_kv_template", {"train_size": 60, "test_size": 30})
    return cfg, build_splits(cfg, mistral_counter)


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
    splits = build_splits(cfg, smollm2_counter)
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
    assert build_splits(cfg, mistral_counter) == build_splits(cfg, mistral_counter)
    bigger = load_config("multi_subkey_kv", {"train_size": 8, "test_size": 5})
    # Row i depends only on (config name, seed, split, i): growing a split keeps its existing rows.
    assert build_splits(bigger, mistral_counter)["train"][:5] == build_splits(cfg, mistral_counter)["train"]
    other_seed = load_config("multi_subkey_kv", {"train_size": 5, "test_size": 5, "seed": 1})
    assert build_splits(other_seed, mistral_counter)["train"] != build_splits(cfg, mistral_counter)["train"]


def test_uniform_position_policy_statistics():
    """5% first, 3% among the first 5, the rest uniform: P(first) = 0.05 + 0.03/5 + 0.92/85 ≈ 0.0668."""
    cfg = load_config("simple_kv")
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
    rows = build_splits(cfg, smollm2_counter)["test"]
    assert set(cfg.splits) == {"test"}
    per_depth = Counter(row["gold_index"] for row in rows)
    expected = {round(d * (cfg.num_dicts - 1)) for d in cfg.depths}
    assert set(per_depth) == expected and set(per_depth.values()) == {5}
    assert gold_index(cfg, PositionDraw(0, 0, 1.0), 10) == 9 and gold_index(cfg, PositionDraw(0, 0, 0.0), 10) == 0


def test_budget_filling_config_stays_within_budget(smollm2_counter):
    cfg = load_config("smollm2_kv_1k", {"num_dicts": None, "train_size": 20, "test_size": 5})
    rows = build_splits(cfg, smollm2_counter)["train"]
    for row in rows:
        check_simple_row(row)
        assert cfg.max_tokens - 60 < row["num_tokens"] <= cfg.max_tokens, "filled close to the budget"
    assert min(r["num_dicts"] for r in rows) >= 18


def test_budget_too_small_names_the_minimum(smollm2_counter):
    cfg = load_config("smollm2_kv_600", {"max_tokens": 200})
    with pytest.raises(ConfigError, match=r"max_tokens.*needs \d+; raise max_tokens to at least \d+"):
        check_budget(cfg, smollm2_counter)
