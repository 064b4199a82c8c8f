"""Multi-document QA (Liu et al. 2023, "Lost in the Middle"), built offline from ``nq-open-oracle-dev.jsonl.gz``.

One instance = one NQ-Open question, its gold passage and ``num_docs - 1`` distractors, gold at a chosen
position. Liu et al.'s distractors are Contriever-retrieved passages without an answer; offline we use the
gold passages of *other* questions that contain none of this question's answers (normalised), the
lexically closest to the question first (BM25), so they are on-topic and hard. Example (10 docs, gold at 5)::

    Write a high-quality answer for the given question using only the provided search results (some of which
    might be irrelevant).

    Document [1](Title: Super Bowl LII) ...
    ...
    Document [5](Title: Super Bowl LI) ...   <- gold
    ...

    Question: who won super bowl 51
    Answer:                                   -> New England Patriots

``load_original_mdqa`` reads Liu et al.'s released files instead (``nq-open-{N}_total_documents_gold_at_{i}``,
gold index 0-based) from a folder or a Hub dataset repo, for users who have them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from rank_bm25 import BM25Okapi

from evaluation.data import EvalExample, read_jsonl, resolve_data_file
from evaluation.metrics import normalize_answer
from evaluation.tasks import TaskConfig

ORIGINAL_FILE = "nq-open-{num_docs}_total_documents_gold_at_{index}.jsonl.gz"
# Dropped from the BM25 *query* only: NQ questions are "who got / when did / what is ..." and without this list
# a rare-ish question verb ("got") outranks the topic words, pulling in song titles instead of on-topic passages.
QUERY_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from get gets got has have how in is it its of on or that the to "
    "was were what when where which who whom whose why will with".split()
)


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


def _bm25_tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def contains_answer(passage: Passage, answers: list[str]) -> bool:
    """Normalised substring test, the same normalisation the metric uses (so a distractor cannot score)."""
    body = normalize_answer(f"{passage.title} {passage.text}")
    return any(normalize_answer(a) and normalize_answer(a) in body for a in answers)


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


def render_mdqa_prompt(task: TaskConfig, question: str, docs: list[Passage]) -> str:
    results = "\n".join(
        task.document_template.format(index=i + 1, title=d.title, text=d.text) for i, d in enumerate(docs)
    )
    return task.prompt_template.format(search_results=results, question=question)


def build_mdqa_examples(task: TaskConfig, questions: list[NQQuestion], limit: int | None) -> list[EvalExample]:
    """The first ``limit`` questions, each at every position of ``task.positions`` (same distractors each time)."""
    index = build_distractor_index(questions)
    chosen = range(len(questions) if limit is None else min(limit, len(questions)))
    examples = []
    for qi in chosen:
        q = questions[qi]
        distractors = choose_distractors(questions, index, qi, task.num_docs - 1)
        for pos in task.positions:
            prompt = render_mdqa_prompt(task, q.question, place_gold(q.gold, distractors, pos))
            examples.append(EvalExample(f"nq{qi}@{pos}", str(pos), prompt, q.answers))
    return examples


def load_original_mdqa(task: TaskConfig, source: str, limit: int | None) -> tuple[list[EvalExample], list[Path]]:
    """Liu et al.'s released MDQA files (folder or Hub dataset id), one file per gold position."""
    examples, files = [], []
    for pos in task.positions:
        name = ORIGINAL_FILE.format(num_docs=task.num_docs, index=pos - 1)
        is_dir = Path(source).is_dir()
        path = resolve_data_file(name, source if is_dir else "", "" if is_dir else source)
        files.append(path)
        for i, row in enumerate(read_jsonl(path)):
            if limit is not None and i >= limit:
                break
            docs = [Passage(c["title"], c["text"]) for c in row["ctxs"]]
            if len(docs) != task.num_docs:
                raise ValueError(
                    f"{path}: row {i} has {len(docs)} documents; task {task.name} expects {task.num_docs}"
                )
            prompt = render_mdqa_prompt(task, row["question"], docs)
            examples.append(EvalExample(f"nq{i}@{pos}", str(pos), prompt, list(row["answers"])))
    return examples, files
