"""The README's headline result, generated from the release's results files, never typed.

    .venv/bin/python -m model_cards headline --base-results build/results/base \
        --finetuned-results build/results/finetuned --general build/results/general \
        --json docs/headline.json --readme README.md

``docs/headline.json`` is the summary (per task: base and finetuned score with 95% Wilson intervals, the paired
change and its exact McNemar p, n; the CPU, commit and evaluation setting it was measured under). The README block
between ``<!-- headline:begin -->`` and ``<!-- headline:end -->`` is :func:`render_block` of that JSON, and a test
checks that it still is, so the README cannot drift from the measured numbers. Only that block is rewritten; a
README without both markers, or a JSON file this command did not write, is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.results import check_one_setting, describe_setting, load_results, read_samples
from infra.cli import UserError
from infra.outputs import check_output_file, write_atomically
from model_cards.paper_table import Column, cell, outcomes, pct

GENERATED_BY = "python -m model_cards headline"
BEGIN, END = "<!-- headline:begin -->", "<!-- headline:end -->"
# What each release task measures, in the README's words.
TASK_TITLES = {
    "synthetic_kv": "Synthetic KV, value and dictionary right (held-out prompts, every depth)",
    "mdqa_10docs": "MDQA, 10 documents (Liu et al.)",
    "liu_kv_10keys": "Liu et al.'s KV retrieval, 10 pairs",
    "nq_closed": "Closed-book NQ (general knowledge kept?)",
}
# The paper's Table 2 columns the release runs through lm-eval (its `general` stage), in the README's words.
GENERAL_TITLES = {
    "mmlu": "MMLU (lm-eval, 0-shot)",
    "hellaswag": "HellaSwag (lm-eval, acc_norm)",
    "triviaqa": "TriviaQA (lm-eval, exact match)",
    "nq_open": "NQ-Open (lm-eval, exact match)",
    "gsm8k": "GSM8K (lm-eval, last number)",
}


def general_rows(general_dir: Path) -> dict:
    """The lm-eval columns of ``general_dir/{base,finetuned}`` as headline rows (score, interval, n, paired change)."""
    from evaluation.general import PRIMARY_METRIC, pair_runs, read_outcomes, read_summary

    runs = [general_dir / "base", general_dir / "finetuned"]
    for run in runs:
        read_summary(run)  # a folder without an lm-eval run is one error naming the command that writes it
    paired = pair_runs(*runs)  # refuses two runs that scored different text under the same item ids
    rows = {}
    for column in paired:
        base, tuned = (
            {i: v for i, (v, _) in read_outcomes(r / f"samples/{column}.jsonl", column).items()} for r in runs
        )
        rows[f"lm_eval:{column}"] = {
            "title": GENERAL_TITLES[column],
            "metric": PRIMARY_METRIC[column][0],
            "base": cell(base, None),
            "finetuned": cell(tuned, base),
        }
    return rows


def summarize(base_dir: Path, finetuned_dir: Path, general_dir: Path | None = None) -> dict:
    """Per task both models share: score, interval, n, and the paired change with its McNemar p; with
    ``general_dir``, the lm-eval columns of its ``base`` and ``finetuned`` runs after them."""
    base, tuned = load_results(base_dir), load_results(finetuned_dir)
    setting = check_one_setting({"base": base, "finetuned": tuned})
    # the README's order (TASK_TITLES: the trained skill first), then any other task both share
    tasks = sorted(
        (t for t in tuned if t in base), key=lambda t: (list(TASK_TITLES).index(t) if t in TASK_TITLES else 99, t)
    )
    if not tasks:
        raise UserError(f"{base_dir} and {finetuned_dir} share no task; evaluate both on the same tasks")
    rows = {}
    for task in tasks:
        column = Column(TASK_TITLES.get(task, task), task, tuned[task]["primary_metric"])
        base_outcomes = outcomes(read_samples(base_dir, task), column)
        rows[task] = {
            "title": column.title,
            "metric": column.metric,
            "base": cell(base_outcomes, None),
            "finetuned": cell(outcomes(read_samples(finetuned_dir, task), column), base_outcomes),
        }
    if general_dir is not None:
        rows |= general_rows(general_dir)
    record = next(iter(tuned.values()))
    return {
        "generated_by": GENERATED_BY,
        "tasks": rows,
        "eval_setting": setting,
        "cpu": record["timing"]["cpu"],
        "git_commit": record["harness"]["git_commit"],
        "created": record.get("created"),
        "model": record["model"].get("path_or_id"),
    }


def render_block(summary: dict) -> str:
    """The README's headline block (between the markers) for ``summary``."""
    lines = [
        "| task | base | finetuned | change (paired McNemar p) | n |",
        "|---|---|---|---|---|",
    ]
    for row in summary["tasks"].values():
        b, f = row["base"], row["finetuned"]
        lines.append(
            f"| {row['title']} | {pct(b['score'])} [{pct(b['ci95'][0])}-{pct(b['ci95'][1])}] "
            f"| {pct(f['score'])} [{pct(f['ci95'][0])}-{pct(f['ci95'][1])}] "
            f"| {f['delta'] * 100:+.1f} (p={f['mcnemar_p']:.2g}) | {f['n']} |"
        )
    lines += [
        "",
        f"% right with 95% Wilson intervals; measured by `make release` on {summary['cpu']}, "
        f"{(summary.get('created') or '')[:10]} (commit "
        f"{summary['git_commit'][:7]}, {describe_setting(summary['eval_setting'])}); regenerated by `make headline` "
        "from `docs/headline.json`.",
    ]
    return "\n".join(lines)


def replace_block(readme: str, block: str) -> str:
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise UserError(f"the README needs one {BEGIN} line before one {END} line; add them where the headline goes")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def write_headline(
    base_dir: Path, finetuned_dir: Path, json_path: Path, readme: Path, general_dir: Path | None = None
) -> dict:
    check_output_file(json_path, GENERATED_BY)  # a JSON file this command did not write is refused
    text = readme.read_text()
    summary = summarize(base_dir, finetuned_dir, general_dir)
    new_text = replace_block(text, render_block(summary))  # a README without markers fails before anything is written
    write_atomically(json_path, json.dumps(summary, indent=2) + "\n")
    write_atomically(readme, new_text)
    return summary
