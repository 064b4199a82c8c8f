"""Moved to ``infra/hub.py``. Kept only so callers not yet switched (training/sft.py, evaluation/runner.py) still
import; delete it once nothing imports ``dataset_builder.hub``."""

from infra.hub import TOKEN_ENV, PlannedFile, format_plan, plan_upload, push_folder, sha256_file  # noqa: F401
