"""NQ-Open closed-book (no documents): ``Question: <question>\\nAnswer:`` over the questions of
``nq-open-oracle-dev.jsonl.gz``. The knowledge / hallucination check: KV finetuning should leave it unchanged.

    Question: who won super bowl 51
    Answer:                            -> New England Patriots   (best subspan EM over the answer list)
"""

from __future__ import annotations

from evaluation.data import EvalExample
from evaluation.tasks import TaskConfig
from sources.nq_open import NQQuestion


def build_closed_book_examples(task: TaskConfig, questions: list[NQQuestion], limit: int | None) -> list[EvalExample]:
    chosen = questions if limit is None else questions[:limit]
    return [
        EvalExample(f"nq{i}", "closed-book", task.prompt_template.format(question=q.question), q.answers)
        for i, q in enumerate(chosen)
    ]
