r"""Evaluation suites for the artificial-needles release: declared tasks (``evaluation/tasks/*.yaml``),
their data builders and scorers, batched greedy generation, results files, and the lm-eval wiring.

    .venv/bin/python -m evaluation run --model build/models/SmolLM2-135M-Instruct \
        --suites mdqa_10docs,liu_kv_10keys,nq_closed --out build/results/base --limit 20
"""

__version__ = "0.1.0"
