"""Is this a model ``from_pretrained`` can load? Asked before any loading, so a wrong folder gets its own error.

Without this check, a folder that is not a model (a dataset folder, a results folder, a typo'd parent) reaches
``AutoTokenizer.from_pretrained``, which finds no tokenizer file and says to "install sentencepiece or tiktoken":
true for a slow tokenizer, misleading here. A folder is a model when it has a config, weights and a tokenizer, as
``save_pretrained`` (full model) or PEFT's (adapter) writes them.
"""

from __future__ import annotations

from pathlib import Path

from infra.cli import UserError

CONFIGS = ("config.json", "adapter_config.json")
WEIGHTS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
TOKENIZERS = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


class ModelFolderError(UserError):
    """Not a model folder (or file, or Hub id); the message says what is missing and how to get a model."""


def looks_like_hub_id(name: str) -> bool:
    return name.count("/") == 1 and not name.startswith((".", "/", "~")) and all(name.split("/"))


def check_model(name: str) -> None:
    """Raise unless ``name`` is a model folder, a ``.gguf`` file, or (not existing locally) shaped like a Hub id."""
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelFolderError(f"model {name} is a file, not a model folder or .gguf; give the model's folder")
        return
    if not path.exists():
        if looks_like_hub_id(name):
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
