"""Seed spread: is a finetuning effect larger than what another training seed would change?

Every row of the paper table is one training run. The paper averages three seeds; ``make seed-spread``
(``plans/seed_spread.yaml``) trains the synthetic and the MDQA-style rows three times each (the authors' data seeds
0/1/2 with training seeds 42/43/44), evaluates them on the columns the paper's claims rest on, and this report writes
``spread.{md,json}``: per group and column, each seed's score and paired change from the base, their mean and
min-max, and whether the effect exceeds the spread::

    .venv/bin/python -m model_cards seed-spread --results build/seed_spread/results \
        --models base,synthetic_seed0,synthetic_seed1,synthetic_seed2 --out build/seed_spread \
        --general build/seed_spread/general

``--general`` (one ``python -m evaluation lm-eval`` run per label) adds the general columns the plan ran (TriviaQA,
HellaSwag), each seed's change paired with the base on the same items, as the paper table's general block does.

A group is the labels that differ only by their ``_seed<k>`` suffix. "Exceeds the spread" means every seed's change
from the base has the same sign and none is zero: the min-max range of the changes excludes 0, so no seed of the
three would have told the opposite story. With three seeds this is a description, not a test; the per-seed paired
McNemar p is in the JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.results import check_one_setting, load_results, read_samples
from infra.cli import UserError
from infra.outputs import check_report_files, write_report
from infra.project import split_list
from model_cards.paper_table import Column, cell, check_model_results, general_block, outcomes, pct

COMMAND = "python -m model_cards seed-spread"
REPORT_FILES = ("spread.json", "spread.md")  # spread.json first: it names its writer (infra.outputs.write_report)

# The project's columns the paper's claims rest on (KV, MDQA-10, MDQA-20 position 10, closed-book NQ); a column
# whose task the results do not hold is left out. The general ones (HellaSwag, TriviaQA) come from --general.
SPREAD_COLUMNS = (
    Column("KV value, 8/20 dicts", "synthetic_kv_ood", "value"),
    Column("MDQA 10 docs", "mdqa_10docs", "best_subspan_em"),
    Column("MDQA 20 docs @10", "mdqa_20docs_at10", "best_subspan_em", "10"),
    Column("NQ closed-book", "nq_closed", "best_subspan_em"),
)
SEED_SUFFIX = re.compile(r"^(?P<group>.+)_seed(?P<seed>\d+)$")


@dataclass
class SpreadConfig:
    results: str = field(metadata={"help": "Folder holding one results folder per model label."})
    out: str = field(metadata={"help": "Folder for spread.md and spread.json."})
    models: str = field(metadata={"help": "Comma-separated labels, the base first, then <group>_seed<k> labels."})
    general: str | None = field(
        default=None,
        metadata={"help": "Folder of one `python -m evaluation lm-eval` run per label: adds the general columns."},
    )

    def __post_init__(self) -> None:
        check_model_results(Path(self.results), self.labels, "make seed-spread")
        seeds_of(self.labels[1:])  # a label without a seed suffix fails now, before anything is read
        check_report_files(Path(self.out), COMMAND, REPORT_FILES)

    @property
    def labels(self) -> list[str]:
        return split_list(self.models)


def seeds_of(labels: list[str]) -> dict[str, list[str]]:
    """``synthetic_seed0, synthetic_seed1, mdqa_seed0`` -> ``{synthetic: [...0, ...1], mdqa: [...0]}``."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        match = SEED_SUFFIX.match(label)
        if match is None:
            raise UserError(f"model label {label!r} has no _seed<k> suffix; name the seeds of a row <row>_seed<k>")
        groups.setdefault(match["group"], []).append(label)
    return groups


def seed_cell(folder: Path, column: Column, base: dict[str, float]) -> dict:
    """One seed's score on ``column`` and its paired change from the base's outcomes on the same prompts."""
    return cell(outcomes(read_samples(folder, column.task), column), base)


def spread(per_seed: dict[str, dict]) -> dict:
    """The seeds' cells (label -> score and paired change), with their mean and min-max; the effect exceeds the
    spread when no change is 0 and all share one sign (the min-max range of the changes excludes 0)."""
    scores, deltas = [c["score"] for c in per_seed.values()], [c["delta"] for c in per_seed.values()]
    return {
        "per_seed": per_seed,
        "seeds": len(per_seed),
        "score_mean": sum(scores) / len(scores),
        "score_range": [min(scores), max(scores)],
        "delta_mean": sum(deltas) / len(deltas),
        "delta_range": [min(deltas), max(deltas)],
        "exceeds_spread": min(deltas) > 0 or max(deltas) < 0,
    }


def build_spread(cfg: SpreadConfig) -> dict:
    root = Path(cfg.results)
    base, *tuned = cfg.labels
    results = {label: load_results(root / label) for label in cfg.labels}
    setting = check_one_setting(results)  # seeds are compared under one evaluation setting only
    columns = [c for c in SPREAD_COLUMNS if all(c.task in r for r in results.values())]
    if not columns:
        raise UserError(f"the results in {root} hold none of {[c.task for c in SPREAD_COLUMNS]}; evaluate them")
    base_outcomes = {c.title: outcomes(read_samples(root / base, c.task), c) for c in columns}
    titles = [c.title for c in columns]
    base_cells = {title: cell(o, None) for title, o in base_outcomes.items()}
    seed_cells = {
        label: {c.title: seed_cell(root / label, c, base_outcomes[c.title]) for c in columns} for label in tuned
    }
    if cfg.general:  # the lm-eval columns: each model's score and paired change from the base (the paper table's)
        block = general_block(Path(cfg.general), cfg.labels)
        titles += block["columns"]
        base_cells |= block["models"][base]
        for label in tuned:
            seed_cells[label] |= block["models"][label]
    groups = {
        group: {title: spread({label: seed_cells[label][title] for label in labels}) for title in titles}
        for group, labels in seeds_of(tuned).items()
    }
    return {"base": base, "columns": titles, "eval_setting": setting, "groups": groups, "base_cells": base_cells}


def render_markdown(table: dict) -> str:
    lines = [
        "Mean score over the seeds [min-max]; under it, the mean paired change from the base [min-max of the "
        "seeds' changes]; ✓ = every seed's change has the same sign (the effect exceeds the seed spread).",
        "",
        "| row | " + " | ".join(table["columns"]) + " |",
        "|---|" + "---|" * len(table["columns"]),
        f"| {table['base']} | " + " | ".join(pct(table["base_cells"][c]["score"]) for c in table["columns"]) + " |",
    ]
    for group, per_column in table["groups"].items():
        cells = []
        for title in table["columns"]:
            s = per_column[title]
            (lo, hi), (dlo, dhi) = s["score_range"], s["delta_range"]
            mark = " ✓" if s["exceeds_spread"] else ""
            cells.append(
                f"{pct(s['score_mean'])} [{pct(lo)}-{pct(hi)}]<br>{s['delta_mean'] * 100:+.1f} "
                f"[{dlo * 100:+.1f}, {dhi * 100:+.1f}]{mark}"
            )
        lines.append(f"| {group} ({per_column[table['columns'][0]]['seeds']} seeds) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread_checks(table: dict) -> list[str]:
    """Whether the effects the paper's claims rest on exceed the seed spread, in words."""
    lines = []
    for group, per_column in table["groups"].items():
        for title, s in per_column.items():
            verdict = "exceeds" if s["exceeds_spread"] else "does not exceed"
            lines.append(
                f"- {group}, {title}: mean change {s['delta_mean'] * 100:+.1f} points over {s['seeds']} seeds "
                f"(range {s['delta_range'][0] * 100:+.1f} to {s['delta_range'][1] * 100:+.1f}): {verdict} the spread."
            )
    return lines


def write_spread(cfg: SpreadConfig) -> Path:
    table = build_spread(cfg)
    text = render_markdown(table) + "\n\n" + "\n".join(spread_checks(table)) + "\n"
    write_report(Path(cfg.out), COMMAND, REPORT_FILES, table, {"spread.md": lambda path: path.write_text(text)})
    return Path(cfg.out)
