"""Shared fixtures. Loading the SmolLM2 tokenizer from its GGUF takes seconds, so it is loaded once."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def smollm2_counter():
    from dataset_builder.tokens import load_counter

    return load_counter("smollm2")


@pytest.fixture(scope="session")
def mistral_counter():
    from dataset_builder.tokens import load_counter

    return load_counter("mistral-v1")
