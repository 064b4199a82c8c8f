"""Checks a staged release must pass before anything is pushed: what a Hub user will do first, done here.

Dataset repo: every config the card lists (``datasets.get_dataset_config_names``, as the Hub lists them) loads
and has rows, and every ``data/<config>/`` folder is one of them; the card parses. Model repo: it is a model folder,
``from_pretrained`` (model + tokenizer with a chat template) and one greedy generation work; the card parses with
``ModelCard.load`` and carries ``model-index`` results; every image the card shows is present.
"""

from __future__ import annotations

import re
from pathlib import Path

from infra.cli import UserError
from infra.dataset_files import config_names, read_dataset
from infra.model_folder import check_model


class ReleaseValidationError(UserError):
    """A staged repo is not what a user could load; the message says which and why."""


def validate_dataset_repo(folder: Path) -> dict[str, int]:
    """Rows per config and split (every config in ``data/`` must load and be non-empty)."""
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise ReleaseValidationError(f"dataset repo {folder}: README.md (the dataset card) is missing")
    DatasetCard.load(folder / "README.md")
    folders = sorted(p.name for p in (folder / "data").iterdir() if p.is_dir()) if (folder / "data").is_dir() else []
    if not folders:
        raise ReleaseValidationError(f"dataset repo {folder}: no data/<config>/ folders")
    configs = config_names(str(folder))
    unlisted = sorted(set(folders) - set(configs))
    if unlisted:
        raise ReleaseValidationError(f"dataset repo {folder}: data/ holds {unlisted}, which the card does not list")
    counts = {}
    for config in configs:
        counts.update(_load_config(folder, config))
    return counts


def _load_config(folder: Path, config: str) -> dict[str, int]:
    try:
        splits = read_dataset(str(folder), config)  # the files as they are now, never an older build's cache
    except UserError as err:
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
    check_model(str(folder))
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
