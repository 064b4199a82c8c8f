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
    """The CPU's marketing name with its family and model numbers, e.g. "AMD EPYC (family 23, model 1)".

    Under a hypervisor the name is often generic: "AMD EPYC" was printed both by a Zen 1 machine (family 23, model 1:
    AVX2 on 128-bit units, ~30 s per recipe step) and by one twice as fast, so the numbers are what tell two
    timings' machines apart. lscpu first, else /proc/cpuinfo, else platform's guess."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = describe_cpu(out, "Model name", "CPU family", "Model")
        if name:
            return name
    except (OSError, subprocess.CalledProcessError):
        pass
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        name = describe_cpu(cpuinfo.read_text(), "model name", "cpu family", "model")
        if name:
            return name
    return platform.processor() or "unknown CPU"


def describe_cpu(text: str, name_key: str, family_key: str, model_key: str) -> str | None:
    """``<name> (family F, model M)`` from ``key: value`` lines (lscpu's or /proc/cpuinfo's); None without a name.
    Pure: the first occurrence of each key counts (cpuinfo repeats them per core)."""

    def value(key: str) -> str | None:
        match = re.search(rf"^{re.escape(key)}\s*:\s*(.+)$", text, re.MULTILINE)
        return match.group(1).strip() if match else None

    name, family, model = value(name_key), value(family_key), value(model_key)
    if not name:
        return None
    return f"{name} (family {family}, model {model})" if family and model else name


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
