"""Distractor passages for an NQ-Open question (``nq-open-oracle-dev.jsonl.gz``, ``sources/nq_open.py``), chosen
offline: the gold passages of *other* questions that contain none of this question's answers (normalised), the
lexically closest to the question first (BM25), so they are on-topic and hard. Liu et al.'s own distractors are
Contriever-retrieved passages without an answer; their file holds only the gold ones.

The evaluation's multi-document QA (``evaluation/mdqa.py``) and the MDQA finetuning baseline
(``dataset_builder/baselines.py``) both rank with this module, each over its own half of the questions. One instance
(measured over the eval half): for "who got the first nobel prize in physics" (gold: "List of Nobel laureates in
Physics") the three closest answer-free passages are titled "G. Sankara Kurup" (the first Jnanpith award),
"Bingo (United Kingdom)" and "If a tree falls in a forest"; ``place_gold(gold, distractors, 5)`` then puts the gold
passage at document number 5.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from rank_bm25 import BM25Okapi

from sources.nq_open import NQQuestion, Passage, contains_answer, normalize_answer

# Dropped from the BM25 *query* only: NQ questions are "who got / when did / what is ..." and without this list
# a rare-ish question verb ("got") outranks the topic words, pulling in song titles instead of on-topic passages.
QUERY_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from get gets got has have how in is it its of on or that the to "
    "was were what when where which who whom whose why will with".split()
)


def _bm25_tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def build_distractor_index(questions: list[NQQuestion]) -> BM25Okapi:
    return BM25Okapi([_bm25_tokens(f"{q.gold.title} {q.gold.text}") for q in questions])


def rank_distractors(questions: list[NQQuestion], index: BM25Okapi, qi: int) -> Iterator[Passage]:
    """Other gold passages containing none of question ``qi``'s answers, BM25-closest to its question first.

    Ties break by file order, so the ranking is a pure function of the file; duplicates of the gold passage
    (several questions can share one) and of each other are skipped. Lazy: a caller filling a token budget
    takes only as many as fit.
    """
    q = questions[qi]
    scores = index.get_scores([t for t in _bm25_tokens(q.question) if t not in QUERY_STOPWORDS])
    ranked = sorted(range(len(questions)), key=lambda j: (-scores[j], j))
    seen = {(q.gold.title, q.gold.text)}
    for j in ranked:
        cand = questions[j].gold
        if j == qi or (cand.title, cand.text) in seen or contains_answer(cand, q.answers):
            continue
        seen.add((cand.title, cand.text))
        yield cand


def choose_distractors(questions: list[NQQuestion], index: BM25Okapi, qi: int, k: int) -> list[Passage]:
    """The ``k`` BM25-closest other gold passages containing none of question ``qi``'s answers."""
    chosen = list(islice(rank_distractors(questions, index, qi), k))
    if len(chosen) < k:
        raise ValueError(f"only {len(chosen)} answer-free distractors for question {qi}; need {k}")
    return chosen


def place_gold(gold: Passage, distractors: list[Passage], position: int) -> list[Passage]:
    """Distractors in rank order with the gold inserted so it is document number ``position`` (1-based)."""
    docs = list(distractors)
    docs.insert(position - 1, gold)
    return docs
