"""Moved to ``tests/tiny_model.py`` (it is test-only). This alias keeps ``tests/test_training_sft.py`` and
``tests/test_eval_harness.py`` importing until they switch to ``from tiny_model import ...``; delete it then.
It works only where ``tests/`` is on ``sys.path`` (under pytest), which is the only place it was ever used."""

from tiny_model import CHAT_TEMPLATE, SPECIAL_TOKENS, build_tiny_tokenizer, save_tiny_model, tiny_llama_config  # noqa: F401
