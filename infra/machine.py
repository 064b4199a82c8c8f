"""What machine a timing was measured on, and whether it runs bf16 natively: one home for both questions.

Every benchmark and results file prints ``cpu_model_name()`` beside its numbers (throughput means nothing without
it); training and evaluation pick bf16 autocast only where ``cpu_supports_bf16()`` says the CPU has native kernels.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path


def cpu_model_name() -> str:
    """The CPU's marketing name: lscpu's "Model name", else /proc/cpuinfo's "model name", else platform's guess."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        match = re.search(r"^Model name:\s*(.+)$", out, re.MULTILINE)
        if match:
            return match.group(1).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        if match:
            return match.group(1).strip()
    return platform.processor() or "unknown CPU"


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_supports_bf16() -> bool:
    """True when oneDNN has native bf16 kernels here (AVX512-BF16 or AMX), i.e. bf16 autocast is a speed-up.

    Elsewhere bf16 is emulated and slower than fp32, so callers fall back to fp32 with a notice.
    """
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
