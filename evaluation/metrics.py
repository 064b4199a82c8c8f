"""Scorers and confidence intervals: pure functions of (prediction, gold).

Each scorer returns ``{metric_name: 0.0 | 1.0}`` for one example so a suite can record several metrics
(synthetic KV: value, dictionary, both) with one code path.
"""

from __future__ import annotations

import math
import re

from sources.nq_open import normalize_answer

# How a QA answer is read (TaskConfig.qa_scoring). liu: as Liu et al. score it (scripts/evaluate_qa_responses.py:62
# and src/lost_in_the_middle/metrics.py): the raw response's first line, so one that opens with a newline has an empty
# first line, and a gold answer that normalises to empty ("The.") matches every prediction. lenient: this project's
# earlier reading: leading whitespace is dropped before the first line is taken (as Liu et al.'s Llama-2 script does,
# vLLM's text.strip(), scripts/get_qa_responses_from_llama_2.py), and an answer that normalises to empty matches none.
QA_SCORINGS = ("liu", "lenient")
# 1.96 = the two-sided 95% normal quantile used by the Wilson score interval.
Z_95 = 1.96


def first_line(prediction: str, scoring: str = "liu") -> str:
    """The part of a raw response a QA metric reads: Liu et al.'s ``model_answer.split("\n")[0].strip()``
    (evaluate_qa_responses.py:62); ``lenient`` drops leading whitespace first."""
    if scoring not in QA_SCORINGS:
        raise ValueError(f"qa_scoring={scoring!r}; use one of {', '.join(QA_SCORINGS)}")
    text = prediction.lstrip() if scoring == "lenient" else prediction
    return text.split("\n")[0].strip()


def best_subspan_em(prediction: str, answers: list[str], scoring: str = "liu") -> dict[str, float]:
    """Liu et al.'s "best subspan exact match" on the first line of the raw response: any normalised answer is a
    substring of the normalised prediction (``scoring``: see QA_SCORINGS)."""
    pred = normalize_answer(first_line(prediction, scoring))
    golds = [normalize_answer(a) for a in answers]
    if scoring == "lenient":
        golds = [g for g in golds if g]  # "" is a substring of everything: never a match here
    return {"best_subspan_em": float(any(g in pred for g in golds))}


def substring_match(prediction: str, answers: list[str]) -> dict[str, float]:
    """Liu et al.'s KV retrieval metric, ``value.lower() in model_answer.lower()`` on the whole response
    (scripts/evaluate_kv_responses.py:30): case-insensitive."""
    return {"substring_match": float(any(a.lower() in prediction.lower() for a in answers))}


# The dataset's answer templates: "The value of key K is V and ..." / "... Its value is V and ...".
_VALUE_SLOT = re.compile(r"[Vv]alue(?: of key [^\n]*?)? is (-?\d+)")
_DICT_SLOT = re.compile(r"Dictionary \[\s*([^\]\s]+)\s*\]")


def synthetic_kv_match(prediction: str, gold_value: int, gold_dict: str) -> dict[str, float]:
    """Value right, dictionary right, both — the three numbers the paper reports for synthetic retrieval.

    The value is read from the answer template's slot when the model followed the template; otherwise the
    gold value must appear as a whole number (a base model often ignores the template, and reading only the
    slot would score it 0 even when it names the value — the lenient reading is Liu et al.'s substring rule).
    """
    slot = _VALUE_SLOT.search(prediction)
    if slot:
        value_ok = int(slot.group(1)) == int(gold_value)
    else:
        value_ok = re.search(rf"(?<![\d-]){int(gold_value)}(?!\d)", prediction) is not None
    names = _DICT_SLOT.findall(prediction)
    dict_ok = bool(names) and names[0] == str(gold_dict)
    return {"value": float(value_ok), "dictionary": float(dict_ok), "both": float(value_ok and dict_ok)}


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval for a proportion; honest at n of a few dozen and at 0% / 100%."""
    if n <= 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar test on paired 0/1 outcomes: p-value of ``only_a`` vs ``only_b`` discordant pairs.

    Under "no difference" each discordant pair is a fair coin, so the smaller count is Binomial(n, 1/2) with
    n = only_a + only_b; p = 2 x P(X <= min), capped at 1. Exact rather than chi-squared because n is often < 25.
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_change(model: dict[str, float], base: dict[str, float]) -> dict[str, float]:
    """The change from ``base`` to ``model`` on the same examples (0/1 outcomes keyed by example id) and its exact
    McNemar p-value: the one comparison the paper table and the model card both make. Examples must match."""
    if set(base) != set(model):
        raise ValueError("base and finetuned results cover different examples; evaluate both with the same limits")
    only_model = sum(1 for i in model if model[i] and not base[i])
    only_base = sum(1 for i in model if base[i] and not model[i])
    return {"delta": (only_model - only_base) / len(model), "mcnemar_p": mcnemar_p(only_model, only_base)}
