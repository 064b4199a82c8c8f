"""Bad configs fail with one error that names the field and the fix; named configs all parse strictly."""

from __future__ import annotations

import pytest

from dataset_builder.config import ConfigError, load_config, named_configs
from dataset_builder.tokens import load_counter

EXPECTED_CONFIGS = {
    "simple_kv",
    "simple_kv_template",
    "multi_subkey_kv",
    "multi_subkey_kv_template",
    "simple_kv_24k",
    "smollm2_kv_600",
    "smollm2_kv_1k",
    "simple_kv_sweep",
    "smollm2_kv_600_sweep",
    "smollm2_kv_1k_sweep",
}


def test_every_named_config_parses_strictly_and_matches_its_file_name():
    assert EXPECTED_CONFIGS <= set(named_configs())
    for name in named_configs():
        assert load_config(name).name == name


def test_paper_configs_have_the_papers_numbers():
    cfg = load_config("simple_kv")
    assert (cfg.num_dicts, cfg.pairs_per_dict, cfg.gold_dict_size, cfg.key_digits, cfg.value_digits) == (
        85,
        [3, 4],
        3,
        [3, 4],
        [3, 4],
    )
    assert (cfg.max_tokens, cfg.tokenizer, cfg.train_size, cfg.test_size) == (4096, "mistral-v1", 350, 150)
    assert (cfg.frac_first, cfg.frac_top, cfg.top_k) == (0.05, 0.03, 5)
    assert load_config("simple_kv_template").answer_template


@pytest.mark.parametrize(
    ("overrides", "field", "fix"),
    [
        ({"key_digits": [4, 3]}, "key_digits", "swap it"),
        ({"pairs_per_dict": [5, 2]}, "pairs_per_dict", "swap it"),
        ({"gold_dict_size": 7}, "gold_dict_size", "inside that range"),
        ({"task": "multi_subkey_kv", "num_common_subkeys": 3}, "num_common_subkeys", "fewer common integers"),
        ({"prob_has_common": 1.5}, "prob_has_common", "between 0 and 1"),
        ({"prob_per_common": -0.1}, "prob_per_common", "between 0 and 1"),
        ({"train_size": 0}, "train_size", "positive size"),
        ({"test_size": 0}, "train_size/test_size", "test > 0"),
        ({"num_dicts": 0}, "num_dicts", "positive count"),
        ({"max_tokens": -5}, "max_tokens", "token budget"),
        ({"key_digits": [1, 1]}, "key_digits", "allow more key digits"),
        ({"task": "sorting"}, "task", "simple_kv, multi_subkey_kv"),
        ({"position_policy": "grid"}, "depths", "list depths"),
        ({"depths": [0.5]}, "depths", "position_policy: grid"),
        ({"num_dicts": "many"}, "num_dicts", "fix its type"),
    ],
)
def test_bad_field_names_field_and_fix(overrides, field, fix):
    with pytest.raises(ConfigError) as err:
        load_config("simple_kv", overrides)
    assert f"'{field}'" in str(err.value) and fix in str(err.value)


def test_unknown_key_and_unknown_config_are_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['max_seq_length'\]"):
        load_config("simple_kv", {"max_seq_length": 10})
    with pytest.raises(ConfigError, match="unknown config 'simple_kvv'; named configs are: "):
        load_config("simple_kvv")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))


def test_unknown_tokenizer_path_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="neither a built-in tokenizer"):
        load_counter(str(tmp_path / "no-such-tokenizer"))
