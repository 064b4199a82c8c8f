"""The fixed rule that splits the NQ-Open questions (``nq-open-oracle-dev.jsonl.gz``, ``sources/nq_open.py``) into
a training half and an evaluation half, and the training half into two quarters.

Baseline finetuning data (MDQA-style and needle-in-a-haystack-style, ``dataset_builder/baselines.py``) is built
from the training half only; every NQ-based evaluation (multi-document QA, closed-book) uses the evaluation half
only, so no question, answer or gold passage used to train is ever used to evaluate.

Rule: rank the questions by the SHA-256 of their UTF-8 text; the first half of that ranking (1,000 of the 2,000
questions in ``nq-open-oracle-dev.jsonl.gz``) is ``train``, the rest ``eval``. It depends only on the question
texts, not on file order, and any user can recompute it::

    sorted(questions, key=lambda q: hashlib.sha256(q.encode()).hexdigest())[:len(questions) // 2]  # train

The training half is itself cut in two by the same ranking, for choosing a recipe (``make recipe-frontier``):
``replay`` (its first 500) may become finetuning prompts, ``val`` (its last 500) is where a recipe is scored.
A recipe is therefore never chosen on a question it trained on, nor on one the reported numbers use.

Within each part, questions keep their file order (so ``--limit N`` takes the first N of the part). One instance:
``split_halves(["q0", "q1", "q2", "q3"])`` is ``{"train": [0, 3], "eval": [1, 2], "replay": [0], "val": [3]}``
(ranked by SHA-256 the four strings are q0, q3, q2, q1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

# The two halves (train, eval) and the two quarters the train half is cut into: train = replay + val; eval is
# disjoint from all three.
NQ_PARTS = ("train", "eval", "replay", "val")


def question_rank_key(question: str) -> str:
    return hashlib.sha256(question.encode("utf-8")).hexdigest()


def split_halves(questions: Sequence[str]) -> dict[str, list[int]]:
    """Indices (into ``questions``, in file order) of each part in ``NQ_PARTS``."""
    if len(set(questions)) != len(questions):
        raise ValueError("NQ questions repeat: the halves would share a question; deduplicate the file first")
    ranked = sorted(range(len(questions)), key=lambda i: question_rank_key(questions[i]))
    half, quarter = len(questions) // 2, len(questions) // 4
    parts = {"train": ranked[:half], "eval": ranked[half:], "replay": ranked[:quarter], "val": ranked[quarter:half]}
    return {name: sorted(indices) for name, indices in parts.items()}


def select_half(items: Sequence, questions: Sequence[str], half: str) -> list:
    """The items (parallel to ``questions``) of one part of ``NQ_PARTS``, in file order."""
    if half not in NQ_PARTS:
        raise ValueError(f"half={half!r}; use one of {', '.join(NQ_PARTS)}")
    return [items[i] for i in split_halves(questions)[half]]
