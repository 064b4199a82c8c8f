"""Moved to ``infra/machine.py``. Kept only so callers not yet switched (training/cpu_speed.py, evaluation/) still
import; delete it once nothing imports ``dataset_builder.machine``."""

from infra.machine import cpu_model_name, cpu_supports_bf16, usable_cores  # noqa: F401
