"""Scorers: a known right answer scores 1, a wrong one 0, and normalisation follows Liu et al."""

import pytest

from evaluation.metrics import (
    best_subspan_em,
    normalize_answer,
    substring_match,
    synthetic_kv_match,
    wilson_interval,
)


def test_normalize_drops_case_punctuation_articles_and_spaces():
    assert normalize_answer("  The  Eiffel-Tower, a  landmark! ") == "eiffeltower landmark"


@pytest.mark.parametrize(
    "prediction, answers, expected",
    [
        ("The answer is Wilhelm Conrad Röntgen.", ["Wilhelm Conrad Röntgen"], 1.0),
        ("it was the NEW ENGLAND patriots", ["New England Patriots"], 1.0),
        ("May 18, 2018", ["may 18 2018"], 1.0),  # punctuation removed on both sides
        ("John Bardeen", ["Wilhelm Conrad Röntgen"], 0.0),
        ("Röntgen", ["Wilhelm Conrad Röntgen"], 0.0),  # a part of the answer is not the answer
        ("anything", ["the"], 0.0),  # an answer that normalises to nothing never matches
    ],
)
def test_best_subspan_em(prediction, answers, expected):
    assert best_subspan_em(prediction, answers) == {"best_subspan_em": expected}


def test_substring_match_is_exact_on_uuids():
    uuid = "bb3ba2a5-7de8-434b-a86e-a88bb9fa7289"
    assert substring_match(f'The value is "{uuid}".', [uuid])["substring_match"] == 1.0
    assert substring_match("The value is bb3ba2a5-7de8", [uuid])["substring_match"] == 0.0


@pytest.mark.parametrize(
    "prediction, value, dictionary, expected",
    [
        ("The value of key 4818 is 4782 and it is in Dictionary [1].", 4782, "1", (1, 1, 1)),
        ("The value of key 4818 is 4782 and it is in Dictionary [12].", 4782, "1", (1, 0, 0)),
        ("The value of key 4818 is 4783 and it is in Dictionary [1].", 4782, "1", (0, 1, 0)),
        # the key's digits contain the value's: the template slot, not a substring, decides
        ("The value of key 47821 is 9 and it is in Dictionary [3].", 4782, "3", (0, 1, 0)),
        (
            "The key that contains the integers 1, 2 is (1, 2). Its value is 2528 and it is in Dictionary [3].",
            2528,
            "3",
            (1, 1, 1),
        ),
        ("4782, in Dictionary [2]", 4782, "2", (1, 1, 1)),  # template ignored: whole-number fallback
        ("47820", 4782, "2", (0, 0, 0)),
    ],
)
def test_synthetic_kv_match(prediction, value, dictionary, expected):
    got = synthetic_kv_match(prediction, value, dictionary)
    assert (got["value"], got["dictionary"], got["both"]) == expected


def test_wilson_interval_contains_estimate_and_is_honest_at_extremes():
    low, high = wilson_interval(5, 10)
    assert low < 0.5 < high
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(0, 20)[1] > 0.1  # 0/20 is not "certainly 0%"
    assert wilson_interval(20, 20)[1] == 1.0 and wilson_interval(20, 20)[0] < 0.9
    assert wilson_interval(0, 0) == (0.0, 0.0)
