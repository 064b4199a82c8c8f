"""The row schema every config shares: TRL's conversational formats plus the facts users analyse by."""

from __future__ import annotations

from datasets import Features, List, Value

# The system message the authors used when finetuning GPT-3.5 Turbo (the OpenAI export carries it).
OPENAI_SYSTEM = "Write a response that appropriately completes the request."

_MESSAGE = {"role": Value("string"), "content": Value("string")}

FEATURES = Features(
    {
        "id": Value("string"),
        "task": Value("string"),
        "messages": List(_MESSAGE),
        "prompt": List(_MESSAGE),
        "completion": List(_MESSAGE),
        "gold_key": Value("string"),
        "gold_value": Value("int64"),
        "gold_dict": Value("string"),
        "gold_index": Value("int32"),
        "gold_depth": Value("float64"),
        "num_dicts": Value("int32"),
        "num_tokens": Value("int32"),
    }
)

FIELD_DOCS = {
    "id": "Stable id `<config>/<split>/<index>`; the row is a pure function of (config, split, index).",
    "task": "`simple_kv` or `multi_subkey_kv` (synthetic); `mdqa` or `niah` (factual baselines from NQ-Open).",
    "messages": "[user prompt, assistant answer]: TRL's conversational language-modeling format.",
    "prompt": "[user prompt]: TRL's conversational prompt-completion format (loss on the completion only).",
    "completion": "[assistant answer].",
    "gold_key": "The queried key: `4818`, or for multi-subkey the full tuple `(141, 986, 163)`; mdqa/niah: the "
    "NQ-Open question.",
    "gold_value": "Its value; mdqa/niah: -1 (no integer value; the answer is the assistant message).",
    "gold_dict": "Name of the dictionary holding it (the answer's `Dictionary [<name>]`); mdqa: the gold document's "
    "number (`Document [<n>]`); niah: empty.",
    "gold_index": "0-based position of that dictionary in the prompt; mdqa: of the gold document; niah: of the "
    "needle's paragraph.",
    "gold_depth": "gold_index / (num_dicts - 1): 0 = first, 1 = last (0 when num_dicts is 1).",
    "num_dicts": "Dictionaries in the prompt; mdqa: documents, gold included; niah: paragraphs, the needle's "
    "included.",
    "num_tokens": "Measured tokens of the full chat-formatted example (answer included) with the config's tokenizer.",
}


def make_row(
    config: str, task: str, split: str, index: int, prompt: str, answer: str, *, num_tokens: int, **gold
) -> dict:
    """One row in FEATURES: the chat in TRL's three formats, a stable id, and the task's gold fields
    (``gold_key``, ``gold_value``, ``gold_dict``, ``gold_index``, ``num_dicts``); ``gold_depth`` is derived."""
    user, assistant = {"role": "user", "content": prompt}, {"role": "assistant", "content": answer}
    n = gold.pop("num_dicts")
    return {  # in FEATURES order
        "id": f"{config}/{split}/{index:05d}",
        "task": task,
        "messages": [user, assistant],
        "prompt": [user],
        "completion": [assistant],
        **gold,
        "gold_depth": gold["gold_index"] / (n - 1) if n > 1 else 0.0,
        "num_dicts": n,
        "num_tokens": num_tokens,
    }
