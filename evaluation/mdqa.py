"""Multi-document QA (Liu et al. 2023, "Lost in the Middle"), built offline from ``nq-open-oracle-dev.jsonl.gz``.

One instance = one NQ-Open question, its gold passage and ``num_docs - 1`` distractors, gold at a chosen
position. Liu et al.'s distractors are Contriever-retrieved passages without an answer; offline we use the
gold passages of *other* questions that contain none of this question's answers (normalised), the
lexically closest to the question first (BM25, ``sources/nq_distractors.py``), so they are on-topic and hard.
Example (10 docs, gold at 5)::

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

from pathlib import Path

from evaluation.data import EvalExample
from evaluation.tasks import TaskConfig
from sources.files import read_jsonl, resolve_data_file
from sources.nq_distractors import build_distractor_index, choose_distractors, place_gold
from sources.nq_open import NQQuestion, Passage

ORIGINAL_FILE = "nq-open-{num_docs}_total_documents_gold_at_{index}.jsonl.gz"


def build_mdqa_examples(task: TaskConfig, questions: list[NQQuestion], limit: int | None) -> list[EvalExample]:
    """The first ``limit`` questions, each at every position of ``task.positions`` (same distractors each time)."""
    index = build_distractor_index(questions)
    chosen = range(len(questions) if limit is None else min(limit, len(questions)))
    examples = []
    for qi in chosen:
        q = questions[qi]
        distractors = choose_distractors(questions, index, qi, task.num_docs - 1)
        for pos in task.positions:
            prompt = task.render_mdqa_prompt(q.question, place_gold(q.gold, distractors, pos))
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
            prompt = task.render_mdqa_prompt(row["question"], docs)
            examples.append(EvalExample(f"nq{i}@{pos}", str(pos), prompt, list(row["answers"])))
    return examples, files
