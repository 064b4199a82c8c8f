"""What one evaluation example is: a prompt to generate for and the gold it is scored against. Where the data files
come from and how they are read is the source floor's (``sources/files.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EvalExample:
    """One prompt to generate for and the gold it is scored against."""

    id: str
    position: str  # the group a per-position score is reported under, e.g. "5" or "smollm2_kv_600 depth 0.50"
    prompt: str  # the user message (the chat template is applied at generation time)
    answers: list[str] = field(default_factory=list)
    gold: dict = field(default_factory=dict)  # synthetic_kv: {"value": int, "dict": str}
    config: str = ""  # the Hub dataset config it came from (synthetic_kv); scores are also reported per config
