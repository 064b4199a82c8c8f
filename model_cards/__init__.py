"""Model cards rendered only from evaluation results files (``evaluation/results.py`` layout)."""
