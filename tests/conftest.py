"""Shared pytest fixtures (built once per session) and the test tiers.

Tiers: ``make test-fast`` runs every test not marked ``slow`` or ``integration`` (the developer's loop, under a
minute); ``make test`` adds ``integration`` (whole commands end to end: dataset builds, training and launches of the
tiny models, releases), as CI does; ``make test-slow`` runs the ``slow`` end-to-end checks on the real SmolLM2
weights. Measured times are in docs/measurements.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# before anything imports huggingface_hub or datasets, which read these once
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def smollm2_counter():
    """The SmolLM2 tokenizer is parsed out of its GGUF once per process (dataset_builder.tokens.smollm2_tokenizer,
    ~7 s), so this, tiny_model and every in-process build share it."""
    from dataset_builder.tokens import load_counter

    return load_counter("smollm2")


@pytest.fixture(scope="session")
def mistral_counter():
    from dataset_builder.tokens import load_counter

    return load_counter("mistral-v1")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer random Llama with the SmolLM2 tokenizer and chat template, saved like a Hub model folder."""
    import torch
    from tiny_model import tiny_llama_config
    from transformers import LlamaForCausalLM

    from dataset_builder.tokens import smollm2_tokenizer

    tokenizer = smollm2_tokenizer()
    torch.manual_seed(0)
    config = tiny_llama_config(
        len(tokenizer),
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    from fixture_data import synthetic_kv_rows, write_hub_folder

    folder = tmp_path_factory.mktemp("dataset")
    return write_hub_folder(
        folder, {"train": synthetic_kv_rows(16, seed=0), "test": synthetic_kv_rows(4, seed=1, split="test")}
    )
