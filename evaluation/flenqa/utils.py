"""FLenQA (Levy, Jacoby, Goldberg 2024, "Same Task, More Tokens"; Hub ``alonj/FLenQA``, split ``eval``, 12K rows):
the paper's second transfer test, true/false reasoning over a few facts padded to 250-3,000 tokens.

One row (the fields the prompts and scoring read)::

    {"dataset": "PIR", "label": "True", "assertion/question": "Is Mary in the kitchen?",
     "mixin": "<the facts dispersed in padding text>", "facts": [...], "rule": None, "ctx_size": 1000,
     "padding_type": "Resampling", "dispersion": "random", "sample_id": 42, "global_sample_id": 9342}

The prompts are the FLenQA authors' (``FLenQA analysis.ipynb`` in alonj/Same-Task-More-Tokens), one per task and
one with chain of thought; the answer is read their way: normalise, "not true" counts as false, and the last of
"true" / "false" in the response is the answer (neither = refused, scored wrong).
"""

from __future__ import annotations

import re

PROMPTS = {
    "Simplified RuleTaker": (
        'Answer whether the statement {q} can be derived from the rule and the facts. Answer with either "True" or '
        '"False".\nRule: {rule}\nFacts: {mixin}\nAnswer with either "True or "False".\n'
    ),
    "Simplified RuleTaker_cot": (
        "Answer whether the statement {q} can be derived from the rule and the facts.\n"
        'Show your steps then answer with either "True" or "False".\nRule: {rule}\nFacts: {mixin}\n'
        'Answer with either "True or "False". Let\'s work this out in a step by step way to be sure we have the '
        "right answer.\n"
    ),
    "PIR": "{mixin}\nTrue/False Question: {q}\nAnswer only True or False.\n",
    "PIR_cot": (
        "Show your steps then answer with ’true’ or ’false’.\n{mixin}\nTrue/False Question: {q}\n"
        "Let’s work this out in a step by step way to\nbe sure we have the right answer.\n"
    ),
    "MonoRel": (
        "Here are some facts. Answer the exact following question based on the text: {q} Answer the question as it "
        "appears exactly.\n{mixin}\n{q}\nAnswer only True or False.\n"
    ),
    "MonoRel_cot": (
        "Here are some facts. Answer the exact following question based on the text: {q} Answer the question as it "
        "appears exactly.\nShow your steps then answer with ’true’ or ’false’.\n{mixin}\n{q}\n"
        "Let’s work this out in a step by step way to be sure we have the right answer. Show your work and finally "
        "answer with ’true’ or ’false’. The final step should include the exact text of the question and the "
        "answer.\n"
    ),
}


def render(doc: dict, chain_of_thought: bool) -> str:
    template = PROMPTS[doc["dataset"] + ("_cot" if chain_of_thought else "")]
    return template.format(q=doc["assertion/question"], rule=doc.get("rule"), mixin=doc["mixin"])


def doc_to_text(doc: dict) -> str:
    return render(doc, chain_of_thought=False)


def doc_to_text_cot(doc: dict) -> str:
    return render(doc, chain_of_thought=True)


def normalize(text: str) -> str:
    """The authors' normalisation: lower case, articles dropped, whitespace collapsed (their punctuation step
    replaces the joined punctuation string, which never occurs, so it is a no-op and is left out)."""
    text = re.sub(r"\b(a|an|the)\b", " ", str(text).lower())
    return " ".join(text.split())


def response_category(response: str) -> str:
    """'true', 'false' or 'other/refused': the last of the two words in the normalised response wins."""
    text = normalize(response).replace("not true", "false")
    last_true, last_false = text.rfind("true"), text.rfind("false")
    if last_true > last_false:
        return "true"
    if last_false > last_true:
        return "false"
    return "other/refused"


def label_of(doc: dict) -> str:
    """The label as 'true'/'false' whether the file stores it as a bool or as the string "True"/"False"."""
    return str(doc["label"]).strip().lower()


def process_results(doc: dict, results: list[str]) -> dict[str, int]:
    return {"acc": int(response_category(results[0]) == label_of(doc))}
