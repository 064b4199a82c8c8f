"""The fixed rule that splits the NQ-Open questions into a training half and an evaluation half.

Baseline finetuning data (MDQA-style and needle-in-a-haystack-style, ``dataset_builder/baselines.py``) is built
from the training half only; every NQ-based evaluation (multi-document QA, closed-book) uses the evaluation half
only, so no question, answer or gold passage used to train is ever used to evaluate.

Rule: rank the questions by the SHA-256 of their UTF-8 text; the first half of that ranking (1,000 of the 2,000
questions in ``nq-open-oracle-dev.jsonl.gz``) is ``train``, the rest ``eval``. It depends only on the question
texts, not on file order, and any user can recompute it::

    sorted(questions, key=lambda q: hashlib.sha256(q.encode()).hexdigest())[:len(questions) // 2]  # train

Within each half, questions keep their file order (so ``--limit N`` takes the first N of the half).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HALVES = ("train", "eval")


def question_rank_key(question: str) -> str:
    return hashlib.sha256(question.encode("utf-8")).hexdigest()


def split_halves(questions: Sequence[str]) -> dict[str, list[int]]:
    """Indices (into ``questions``, in file order) of the ``train`` and ``eval`` halves."""
    if len(set(questions)) != len(questions):
        raise ValueError("NQ questions repeat: the halves would share a question; deduplicate the file first")
    ranked = sorted(range(len(questions)), key=lambda i: question_rank_key(questions[i]))
    train = set(ranked[: len(questions) // 2])
    return {
        "train": [i for i in range(len(questions)) if i in train],
        "eval": [i for i in range(len(questions)) if i not in train],
    }


def select_half(items: Sequence, questions: Sequence[str], half: str) -> list:
    """The items (parallel to ``questions``) of one half, in file order."""
    if half not in HALVES:
        raise ValueError(f"half={half!r}; use one of {', '.join(HALVES)}")
    return [items[i] for i in split_halves(questions)[half]]
