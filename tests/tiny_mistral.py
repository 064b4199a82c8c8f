"""A randomly initialised 2-layer ``MistralForCausalLM`` with the genuine Mistral-7B v0.1 tokenizer, for tests.

Same model class as Mistral-7B-Instruct-v0.1/v0.2 (grouped-query attention: 4 query heads share 2 key/value heads;
a sliding attention window), so every Mistral recipe, accelerate config and evaluation path runs here on a CPU in
seconds. The tokenizer is built from ``mistral_common/data/tokenizer.model.v1`` (the SentencePiece model of
Mistral-7B v0.1 and v0.2, shipped by PyPI ``mistral-common``) and carries the chat template that
``mistralai/Mistral-7B-Instruct-v0.1`` ships in its ``tokenizer_config.json``. Test-only: nothing in the product
imports it.

    cd tests && python -c "from tiny_mistral import save_tiny_mistral; save_tiny_mistral('/tmp/tiny-mistral')"
"""

from __future__ import annotations

from pathlib import Path

# mistralai/Mistral-7B-Instruct-v0.1 tokenizer_config.json "chat_template" (the current Hub revision). A user turn is
# " [INST] {content} [/INST]" and an assistant turn " {content}</s>", after one BOS: tokenized, this is exactly what
# mistral-common's v1 instruct tokenizer produces (tests/test_mistral_path.py checks it on real dataset rows).
INSTRUCT_V01_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n"
    "        {{- raise_exception('After the optional system message, conversation roles must alternate "
    "user/assistant/user/assistant/...') }}\n"
    "    {%- endif %}\n"
    "    {%- if message['role'] == 'user' %}\n"
    "        {%- if loop.first and system_message is defined %}\n"
    "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
    "        {%- else %}\n"
    "            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n"
    "        {%- endif %}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- ' ' + message['content'] + eos_token}}\n"
    "    {%- else %}\n"
    "        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial "
    "optional system message!') }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
)

# Small enough to train in milliseconds per step, shaped like the real thing: GQA (4 query heads, 2 KV heads, as
# 7B's 32 / 8) and a sliding window shorter than the test prompts (~300 tokens), so the windowed mask is exercised.
TINY_SHAPE = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    sliding_window=64,
    max_position_embeddings=32768,
)


def build_mistral_v1_tokenizer():
    """Mistral-7B v0.1's tokenizer as transformers loads it from the Hub: SentencePiece BPE, <s>, </s>, no pad."""
    import shutil
    import tempfile

    from transformers import LlamaTokenizer

    from dataset_builder.tokens import mistral_v1_path

    with tempfile.TemporaryDirectory() as folder:
        # transformers converts a folder's tokenizer.model into a fast tokenizer (needs protobuf)
        shutil.copy(mistral_v1_path(), Path(folder) / "tokenizer.model")
        tokenizer = LlamaTokenizer.from_pretrained(folder, legacy=False)
    tokenizer.chat_template = INSTRUCT_V01_CHAT_TEMPLATE
    return tokenizer


def save_tiny_mistral(out: str | Path, seed: int = 0) -> Path:
    """Write a loadable model folder (config, safetensors weights, tokenizer, generation config) to ``out``."""
    import torch
    from transformers import GenerationConfig, MistralConfig, MistralForCausalLM

    out = Path(out)
    tokenizer = build_mistral_v1_tokenizer()
    config = MistralConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **TINY_SHAPE,
    )
    torch.manual_seed(seed)
    model = MistralForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
