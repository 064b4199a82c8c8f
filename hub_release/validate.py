"""Checks a staged release must pass before anything is pushed: what a Hub user will do first, done here.

Dataset repo: every config in the card loads with ``datasets.load_dataset`` and has rows; the card parses.
Model repo: ``from_pretrained`` (model + tokenizer with a chat template) and one greedy generation; the card
parses with ``ModelCard.load`` and carries ``model-index`` results; every image the card shows is present.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path


class ReleaseValidationError(RuntimeError):
    """A staged repo is not what a user could load; the message says which and why."""


def validate_dataset_repo(folder: Path) -> dict[str, int]:
    """Rows per config and split (every config in ``data/`` must load and be non-empty)."""
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise ReleaseValidationError(f"dataset repo {folder}: README.md (the dataset card) is missing")
    DatasetCard.load(folder / "README.md")
    configs = sorted(p.name for p in (folder / "data").iterdir() if p.is_dir()) if (folder / "data").is_dir() else []
    if not configs:
        raise ReleaseValidationError(f"dataset repo {folder}: no data/<config>/ folders")
    counts = {}
    # A fresh cache, as a new user has: datasets 5.2 keys a local folder's cache by folder name + config, so a
    # reused cache could validate an older build's rows.
    with tempfile.TemporaryDirectory() as cache:
        for config in configs:
            counts.update(_load_config(folder, config, cache))
    return counts


def _load_config(folder: Path, config: str, cache: str) -> dict[str, int]:
    from datasets import load_dataset

    try:
        splits = load_dataset(str(folder), config, cache_dir=cache)
    except Exception as err:  # any loader failure is a release blocker; report it with the config name
        raise ReleaseValidationError(f"dataset repo {folder}: config {config} does not load: {err}") from err
    counts = {}
    for split, rows in splits.items():
        if len(rows) == 0:
            raise ReleaseValidationError(f"dataset repo {folder}: {config}/{split} is empty")
        counts[f"{config}/{split}"] = len(rows)
    return counts


def validate_model_repo(folder: Path, prompt: str = "What is the capital of France?") -> str:
    """Load the staged model like a user would, generate once, and parse the card; returns the generation."""
    import torch
    from huggingface_hub import ModelCard
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    card_path = folder / "README.md"
    if not card_path.is_file():
        raise ReleaseValidationError(f"model repo {folder}: README.md (the model card) is missing")
    card = ModelCard.load(card_path)
    if not card.data.eval_results:
        raise ReleaseValidationError(f"model repo {folder}: the card has no model-index eval results")
    for image in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", card.text):
        if "://" not in image and not (folder / image).is_file():
            raise ReleaseValidationError(f"model repo {folder}: the card shows {image} but the file is missing")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    if not tokenizer.chat_template:
        raise ReleaseValidationError(f"model repo {folder}: tokenizer has no chat template")
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    if out.shape[1] <= enc["input_ids"].shape[1]:
        raise ReleaseValidationError(f"model repo {folder}: generation produced no tokens")
    return tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
