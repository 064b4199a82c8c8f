"""NQ-Open as Liu et al. release it for "Lost in the Middle": ``nq-open-oracle-dev.jsonl.gz``, 2,000 Natural
Questions (open-domain dev set), each with its answer strings and its one gold Wikipedia passage. One instance (the
file's first line; passage cut here with [...])::

    {"question": "who got the first nobel prize in physics",
     "answers": ["Wilhelm Conrad Röntgen"],
     "ctxs": [{"title": "List of Nobel laureates in Physics",
               "text": "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, [...]",
               "hasanswer": true, "isgold": true}], ...}

``load_nq_oracle`` reads it as :class:`NQQuestion` s in file order. An answer is compared in its normalised form
(``normalize_answer``: Liu et al.'s, i.e. SQuAD's), by the metric and by every rule that decides whether a passage
holds an answer, so a passage chosen as answer-free cannot score.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from sources.files import read_jsonl

NQ_ORACLE_FILE = "nq-open-oracle-dev.jsonl.gz"
# The closed-book prompt (evaluation/tasks/nq_closed.yaml's prompt_template, which a test holds equal to this): the
# question-and-answer tail of Liu et al.'s MDQA prompt without its documents.
CLOSED_BOOK_PROMPT = "Question: {question}\nAnswer:"

# Liu et al. (lost-in-the-middle/src/lost_in_the_middle/metrics.py) normalise as SQuAD does.
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


@dataclass(frozen=True)
class Passage:
    title: str
    text: str


@dataclass(frozen=True)
class NQQuestion:
    question: str
    answers: list[str]
    gold: Passage


def load_nq_oracle(path: Path) -> list[NQQuestion]:
    """Questions of the oracle file in file order, each with its one gold passage."""
    out = []
    for row in read_jsonl(path):
        golds = [c for c in row["ctxs"] if c.get("isgold")] or row["ctxs"][:1]
        out.append(NQQuestion(row["question"], list(row["answers"]), Passage(golds[0]["title"], golds[0]["text"])))
    return out


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def contains_answer(passage: Passage, answers: list[str]) -> bool:
    """Normalised substring test, the same normalisation the metric uses (so a distractor cannot score)."""
    body = normalize_answer(f"{passage.title} {passage.text}")
    return any(normalize_answer(a) and normalize_answer(a) in body for a in answers)
