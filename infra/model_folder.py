"""Is this a model ``from_pretrained`` can load? Asked before any loading, so a wrong folder gets its own error.

Without this check, a folder that is not a model (a dataset folder, a results folder, a typo'd parent) reaches
``AutoTokenizer.from_pretrained``, which finds no tokenizer file and says to "install sentencepiece or tiktoken":
true for a slow tokenizer, misleading here. A folder is a model when it has a config, weights and a tokenizer, as
``save_pretrained`` (full model) or PEFT's (adapter) writes them.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from infra.cli import UserError
from infra.project import is_hub_id

CONFIGS = ("config.json", "adapter_config.json")
WEIGHTS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
TOKENIZERS = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


class ModelFolderError(UserError):
    """Not a model folder (or file, or Hub id); the message says what is missing and how to get a model."""


def check_model(name: str) -> None:
    """Raise unless ``name`` is a model folder, a ``.gguf`` file, or (not existing locally) shaped like a Hub id."""
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelFolderError(f"model {name} is a file, not a model folder or .gguf; give the model's folder")
        return
    if not path.exists():
        if is_hub_id(name):
            return  # the loader resolves it (and reports offline / unknown ids itself)
        raise ModelFolderError(f"model {name} does not exist; `make model` writes the base model, or give a Hub id")
    missing = [
        what
        for what, patterns in (("config (config.json)", CONFIGS), ("weights", WEIGHTS), ("tokenizer", TOKENIZERS))
        if not any(next(path.glob(pattern), None) for pattern in patterns)
    ]
    if missing:
        raise ModelFolderError(
            f"{name} is not a model folder (no {', no '.join(missing)}); give a folder written by save_pretrained "
            "(`make model` converts the base model) or a Hub id"
        )
    for weights in sorted(path.glob("*.safetensors")):
        problem = safetensors_problem(weights)
        if problem:
            raise ModelFolderError(
                f"{weights} is damaged ({problem}); write the model again (`make model` for the base model, "
                "training for a finetuned one) or copy it again"
            )


def safetensors_problem(path: Path) -> str | None:
    """Why a ``.safetensors`` file cannot be a whole one, from its header alone (a few KB read), or None.

    The format is an 8-byte little-endian header length, a JSON header giving every tensor's byte range, then the
    data: a truncated copy (an interrupted download or ``cp``) has fewer data bytes than the largest range ends at.
    The loader would fail with a deserialising traceback, or worse, only once the missing tensor is read.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return f"{size} bytes, shorter than the 8-byte header length"
        (header_len,) = struct.unpack("<Q", head)
        if header_len > size - 8:
            return f"its header claims {header_len:,} bytes but the file has {size:,}"
        try:
            header = json.loads(handle.read(header_len))
        except ValueError:
            return "its header is not JSON"
    if not isinstance(header, dict):
        return "its header is not a JSON object"
    try:
        ends = [int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"]
    except (KeyError, IndexError, TypeError, ValueError):
        return "its header has a tensor without data_offsets"
    expected = 8 + header_len + max(ends, default=0)
    if size < expected:
        return f"{size:,} bytes, truncated: its tensors end at byte {expected:,}"
    return None


def weights_fingerprint(folder: Path) -> dict[str, str]:
    """sha256 of every weights file of a model folder, by name: which weights a number was measured on.

    Read from the folder's marker when the command that wrote it recorded them (training, conversion: free), else
    hashed here (a folder from elsewhere). A results file carries it, so a card is never staged beside other weights.
    """
    from infra.outputs import read_marker, sha256_file

    folder = Path(folder)
    recorded = read_marker(folder).get("files") or {}
    names = sorted(p.name for pattern in WEIGHTS for p in folder.glob(pattern) if p.is_file())
    return {name: recorded.get(name) or sha256_file(folder / name) for name in names}
