"""A randomly initialised tiny Llama with a byte-level tokenizer and a ChatML chat template.

For tests of the evaluation, card and release code: it loads with ``from_pretrained`` like a real checkpoint, in
well under a second, with no download. Its answers are noise by construction.

    cd tests && python -c "from tiny_model import save_tiny_model; save_tiny_model('/tmp/tiny')"
"""

from __future__ import annotations

from pathlib import Path

# SmolLM2's template without the default system turn: same ChatML markers, shorter prompts.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tiny_tokenizer():
    """Byte-level BPE with only the 256 byte symbols and the ChatML specials (no merges: any text encodes)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    vocab.update({ch: len(SPECIAL_TOKENS) + i for i, ch in enumerate(sorted(alphabet))})
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_llama_config(vocab_size: int, **overrides):
    """The 2-layer, 32-wide Llama every test and smoke run uses: trains and generates in milliseconds on a CPU."""
    from transformers import LlamaConfig

    shape = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
    )
    return LlamaConfig(vocab_size=vocab_size, **{**shape, **overrides})


def save_tiny_model(out: str | Path, seed: int = 0) -> Path:
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    out = Path(out)
    tokenizer = build_tiny_tokenizer()
    config = tiny_llama_config(
        len(tokenizer),
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
