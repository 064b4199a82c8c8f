"""The paper's Table 2 for the embedded model: base vs finetuned on synthetic KV and on the baseline data.

Reads one results folder per model (``python -m evaluation run --out <results>/<label>``), all evaluated on the same
tasks and examples under one evaluation setting (a mix is refused), and writes ``table.md``, ``table.json``,
``table.png`` and ``positions.png`` (the paper's Figure 5: accuracy against gold position) to ``--out``::

    .venv/bin/python -m model_cards paper-table --results build/paper/results \
        --models base,synthetic,synthetic_template,mdqa,niah --out build/paper

Every cell is a score with its 95% Wilson interval; for a finetuned model also the change from the base and the
exact McNemar p-value of that change, paired example by example (same prompts, so the paired test is the right one,
and much tighter than comparing two intervals). Per MDQA task: the position gap (best minus worst gold position).
The format-leakage probe: the share of a model's answers to non-KV prompts (MDQA, Liu KV, closed-book NQ) that use
the synthetic KV answer phrasing ("Dictionary [...]", "value of key", "... and it is in ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.metrics import paired_change, wilson_interval
from evaluation.results import check_one_setting, load_results, read_samples
from infra.cli import UserError
from infra.outputs import check_report_files, write_report
from infra.project import split_list


@dataclass(frozen=True)
class Column:
    title: str
    task: str
    metric: str
    position: str | None = None  # one gold position of a positional task; None = all examples


MDQA20_POSITIONS = ("1", "5", "10", "15", "20")

COMMAND = "python -m model_cards paper-table"
# What write_table writes into --out; table.json first: it names its writer, so a rerun may replace the four
REPORT_FILES = ("table.json", "table.md", "table.png", "positions.png")

# The table's columns, in the paper's order: the synthetic skill, the real retrieval tasks, general knowledge.
COLUMNS = (
    Column("KV value, 8/20 dicts", "synthetic_kv_ood", "value"),
    Column("MDQA 10 docs", "mdqa_10docs", "best_subspan_em"),
    # The paper's Figure 5: 20 documents, the gold at each of the five positions.
    *(Column(f"MDQA 20 docs @{p}", "mdqa_20docs", "best_subspan_em", p) for p in MDQA20_POSITIONS),
    Column("Liu KV 10 pairs", "liu_kv_10keys", "substring_match"),
    Column("NQ closed-book", "nq_closed", "best_subspan_em"),
)
GAP_TASKS = ("mdqa_10docs", "mdqa_20docs")
# Tasks whose answers should never look like a KV answer: the leakage probe reads their predictions.
NON_KV_TASKS = ("mdqa_10docs", "mdqa_20docs", "liu_kv_10keys", "nq_closed")
# The KV answer "The value of key K is V and it is in Dictionary [N]." leaks whole or as its clause: measured on the
# first table, the synthetic model answered "The country music hall of fame is in New York City and it is in New
# York ..." where the base said "... is located in Nashville". The base's own share is the natural rate.
KV_PHRASING = re.compile(r"Dictionary \[|\bvalue of key\b|\band it is in\b", re.IGNORECASE)


def check_model_results(results: Path, labels: list[str], make_target: str) -> None:
    """A report's input: ``results`` exists and holds one results folder per model label."""
    if not results.is_dir():
        raise UserError(f"results folder {results} does not exist; run `{make_target}` (it writes it)")
    missing = [m for m in labels if not (results / m).is_dir()]
    if missing:
        raise UserError(f"no results for {', '.join(missing)} in {results}; evaluate them or drop them")


@dataclass
class TableConfig:
    results: str = field(metadata={"help": "Folder holding one results folder per model, named by its label."})
    out: str = field(metadata={"help": "Folder for table.md, table.json and table.png."})
    models: str = field(
        default="base,synthetic,synthetic_template,mdqa,niah",
        metadata={"help": "Comma-separated model labels (results sub-folders), the base first."},
    )
    general: str | None = field(
        default=None,
        metadata={"help": "Folder of one `python -m evaluation lm-eval` run per label: adds the general columns."},
    )

    def __post_init__(self) -> None:
        check_model_results(Path(self.results), self.labels, "make paper-table")
        check_report_files(Path(self.out), COMMAND, REPORT_FILES)

    @property
    def labels(self) -> list[str]:
        return split_list(self.models)


def outcomes(samples: dict[str, dict], column: Column) -> dict[str, float]:
    return {
        i: row["scores"][column.metric]
        for i, row in samples.items()
        if column.position is None or row["position"] == column.position
    }


def cell(model: dict[str, float], base: dict[str, float] | None) -> dict:
    """Score, 95% interval and n of one model; with ``base``: the paired change and its McNemar p-value."""
    n, hits = len(model), sum(model.values())
    low, high = wilson_interval(hits, n)
    out = {"score": hits / n, "ci95": [low, high], "n": n}
    if base is not None:
        try:
            out |= paired_change(model, base)
        except ValueError as err:
            raise UserError(str(err)) from err
    return out


def position_gap(results: dict, task: str) -> float:
    """Best minus worst gold position of a positional task (the "lost in the middle" size)."""
    by_position = results[task]["by_position"]
    metric = results[task]["primary_metric"]
    scores = [v[metric]["score"] for v in by_position.values()]
    # rounded so that equal gaps compare equal: scores are fractions k/n, and 0.6 - 0.2 is 0.39999999999999997 in
    # floats, which would count as "below" a 0.4 - 0.0 gap
    return round(max(scores) - min(scores), 12)


def kv_phrasing_share(folder: Path, tasks: tuple[str, ...]) -> dict:
    predictions = [row["prediction"] for task in tasks for row in read_samples(folder, task).values()]
    leaked = sum(1 for p in predictions if KV_PHRASING.search(p))
    return {"share": leaked / len(predictions), "n": len(predictions), "leaked": leaked}


def compute_time(results: dict[str, dict]) -> dict:
    """What one model cost, from its results files: each task's generation seconds (``timing``) and the training
    run's ``train_runtime`` (recorded from its ``trainer_state.json`` when it was evaluated; none for the base).
    Model loading and process start-up are not counted, a resumed run counts only its last session, and a machine
    shared with other jobs inflates both: an end-to-end wall-clock time needs an uncontended ``time make paper-table``.
    """
    trainings = [r["model"].get("training") for r in results.values()]
    return {
        "eval_s": {task: r["timing"]["seconds"] for task, r in results.items()},
        "train_s": next((t["train_runtime_s"] for t in trainings if t), None),
        "cpu": sorted({r["timing"]["cpu"] for r in results.values()}),
    }


def general_block(root: Path, labels: list[str]) -> dict:
    """The paper's Table 2 columns (lm-eval over local data): per model each column's score and n, and for a
    finetuned model the paired change from the base on the same items (evaluation.general.pair_runs)."""
    from evaluation.general import pair_runs, read_summary

    base = labels[0]
    summaries = {label: read_summary(root / label) for label in labels}
    columns = list(summaries[base]["scores"])
    block = {"columns": columns, "models": {}}
    for label in labels:
        paired = pair_runs(root / base, root / label) if label != base else {}
        block["models"][label] = {
            c: {"score": summaries[label]["scores"][c], "n": summaries[label]["scored"][c], **paired.get(c, {})}
            for c in columns
            if c in summaries[label]["scores"]
        }
    return block


def render_general(block: dict) -> str:
    """The general columns as one markdown table: score (n), and under a finetuned one its change and paired p."""
    lines = ["| model | " + " | ".join(block["columns"]) + " |", "|---|" + "---|" * len(block["columns"])]
    for label, cells in block["models"].items():
        row = []
        for c in block["columns"]:
            cell_ = cells.get(c)
            if cell_ is None:
                row.append("-")
                continue
            text = f"{pct(cell_['score'])} (n={cell_['n']})"
            if "delta" in cell_:
                text += f"<br>{cell_['delta'] * 100:+.1f}, p={cell_['mcnemar_p']:.3f}"
            row.append(text)
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def build_table(cfg: TableConfig) -> dict:
    root = Path(cfg.results)
    base_label, *tuned = cfg.labels
    results = {label: load_results(root / label) for label in cfg.labels}
    # one setting for every cell: the paired test compares models, not batch sizes or precisions
    table = {"columns": [c.title for c in COLUMNS], "models": {}, "eval_setting": check_one_setting(results)}
    for label in cfg.labels:
        folder = root / label
        base = None if label == base_label else root / base_label
        row = {}
        for column in COLUMNS:
            model_outcomes = outcomes(read_samples(folder, column.task), column)
            base_outcomes = outcomes(read_samples(base, column.task), column) if base else None
            row[column.title] = cell(model_outcomes, base_outcomes)
        gaps = {task: position_gap(results[label], task) for task in GAP_TASKS}
        table["models"][label] = {
            "cells": row,
            "position_gap": gaps,
            "kv_phrasing": kv_phrasing_share(folder, NON_KV_TASKS),
            "model": results[label][COLUMNS[0].task]["model"],
            "compute": compute_time(results[label]),
        }
    table["base"], table["finetuned"] = base_label, tuned
    if cfg.general:
        table["general"] = general_block(Path(cfg.general), cfg.labels)
    table["provenance"] = {
        label: {t: {"git_commit": r["harness"]["git_commit"], "cpu": r["timing"]["cpu"]} for t, r in res.items()}
        for label, res in results.items()
    }
    return table


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def format_cell(c: dict) -> str:
    text = f"{pct(c['score'])} [{pct(c['ci95'][0])}-{pct(c['ci95'][1])}]"
    if "delta" in c:
        p = c["mcnemar_p"]
        text += f"<br>{'+' if c['delta'] >= 0 else ''}{pct(c['delta'])}, {'p<0.001' if p < 0.001 else f'p={p:.3f}'}"
    return text


def render_markdown(table: dict) -> str:
    head = ["model", *table["columns"], "MDQA gap 10 / 20 docs", "KV phrasing in non-KV answers"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, row in table["models"].items():
        gaps = " / ".join(pct(row["position_gap"][t]) for t in GAP_TASKS)
        leak = row["kv_phrasing"]
        cells = [format_cell(row["cells"][c]) for c in table["columns"]]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {gaps} | {pct(leak['share'])} (n={leak['n']}) |")
    n = {c: table["models"][table["base"]]["cells"][c]["n"] for c in table["columns"]}
    return "\n".join(
        [
            "% right with 95% Wilson intervals; under each finetuned score, the change from the base and its exact "
            "paired McNemar p-value. Gap = best minus worst gold position (points). n per column: "
            + ", ".join(f"{c} {k}" for c, k in n.items())
            + ".",
            "",
            *lines,
            "",
            *(
                [
                    "General ability (lm-eval stock tasks, local data, seeded subsets; % right, paired McNemar p):",
                    "",
                    render_general(table["general"]),
                    "",
                ]
                if table.get("general")
                else []
            ),
            render_compute(table),
        ]
    )


def render_compute(table: dict) -> str:
    """One line: minutes of training and of evaluation per model, and their sum, as the results files recorded."""
    parts, total = [], 0.0
    for label, row in table["models"].items():
        compute = row["compute"]
        train, evaluate = (compute["train_s"] or 0) / 60, sum(compute["eval_s"].values()) / 60
        total += train + evaluate
        unknown = compute["train_s"] is None and label != table["base"]  # evaluated before training times were kept
        parts.append(f"{label} {'?' if unknown else f'{train:.1f}'} + {evaluate:.1f}")
    cpus = sorted({cpu for row in table["models"].values() for cpu in row["compute"]["cpu"]})
    return (
        "Compute as recorded (minutes of training + evaluation per model; loading, start-up and the sessions before "
        "a resume not counted): " + ", ".join(parts) + f"; {total:.0f} min in all, on {' / '.join(cpus)}."
    )


def verdicts(table: dict, alpha: float = 0.05) -> list[str]:
    """One line per finetuned model: which columns moved significantly (paired McNemar p < ``alpha``), and how."""
    lines = []
    for label in table["finetuned"]:
        row = table["models"][label]
        moved = [
            f"{c} {'+' if cell['delta'] >= 0 else ''}{pct(cell['delta'])} (p={cell['mcnemar_p']:.3g})"
            for c, cell in row["cells"].items()
            if cell["mcnemar_p"] < alpha
        ]
        leak = row["kv_phrasing"]
        lines.append(
            f"- **{label}** vs {table['base']}: "
            + ("; ".join(moved) if moved else f"no column changed at p < {alpha}")
            + f"; KV phrasing in {pct(leak['share'])}% of non-KV answers."
        )
    return lines


SYNTHETIC_ROWS = ("synthetic", "synthetic_template")  # the paper's KV rows (without / with its answer template)
FACTUAL_ROWS = ("mdqa", "niah")  # the paper's factual long-context baselines, as the plans label their rows


def claim_checks(table: dict, alpha: float = 0.05) -> list[str]:
    """The paper's claims, each marked reproduced or not from this table (one synthetic and one factual row at least;
    a table with only some of the four judges the claims on the rows it has, and says which it lacks).

    1. Synthetic data keeps general knowledge where factual long-context data costs it: every synthetic row's
       closed-book change is not a significant loss (p >= alpha or >= 0), and every factual baseline's is (p < alpha,
       < 0).
    2. The same on the general benchmarks (when the table has them): no synthetic row loses a column at p < alpha.
    3. Synthetic data flattens the lost-in-the-middle curve: every synthetic row's 20-document position gap is below
       the base's.
    """
    models = table["models"]
    synthetic = [name for name in SYNTHETIC_ROWS if name in models]
    factual = [name for name in FACTUAL_ROWS if name in models]
    if not synthetic or not factual:
        return []
    rows = [*synthetic, *factual]
    closed = {name: models[name]["cells"]["NQ closed-book"] for name in rows}

    def lost(cell: dict) -> bool:
        return cell["delta"] < 0 and cell["mcnemar_p"] < alpha

    kept = not any(lost(closed[name]) for name in synthetic) and all(lost(closed[name]) for name in factual)
    change = ", ".join(f"{n} {pct(c['delta'])} (p={c['mcnemar_p']:.2g})" for n, c in closed.items())
    lines = [
        f"- {'Reproduced' if kept else 'Not reproduced'}: general knowledge kept by synthetic data, lost by "
        f"factual long-context data (NQ closed-book change: {change})."
    ]
    general = table.get("general")
    if general and set(rows) <= set(general["models"]):
        losses = {
            name: [
                c for c, cell_ in general["models"][name].items() if cell_["delta"] < 0 and cell_["mcnemar_p"] < alpha
            ]
            for name in rows
        }
        kept_general = not any(losses[name] for name in synthetic)
        said = "; ".join(f"{n}: {', '.join(c) or 'none'}" for n, c in losses.items())
        lines.append(
            f"- {'Reproduced' if kept_general else 'Not reproduced'}: no significant loss on the general benchmarks "
            f"after synthetic finetuning (columns lost at p < {alpha}: {said})."
        )
    gaps = {name: models[name]["position_gap"].get("mdqa_20docs") for name in (table["base"], *synthetic)}
    if None not in gaps.values():
        flatter = all(gaps[name] < gaps[table["base"]] for name in synthetic)
        said = ", ".join(f"{n} {pct(g)}" for n, g in gaps.items())
        lines.append(
            f"- {'Reproduced' if flatter else 'Not reproduced'}: a flatter 20-document position curve (gap in points, "
            f"best minus worst gold position: {said})."
        )
    missing = [name for name in (*SYNTHETIC_ROWS, *FACTUAL_ROWS) if name not in models]
    if missing:
        lines.append(f"- Judged without the {', '.join(missing)} row(s): this table has not evaluated them.")
    return lines


def render_plot(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns, labels = table["columns"], list(table["models"])
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(2 + 1.6 * len(columns), 4.5))
    for k, label in enumerate(labels):
        cells = [table["models"][label]["cells"][c] for c in columns]
        xs = [i + (k - (len(labels) - 1) / 2) * width for i in range(len(columns))]
        ys = [100 * c["score"] for c in cells]
        errs = [[100 * (c["score"] - c["ci95"][0]) for c in cells], [100 * (c["ci95"][1] - c["score"]) for c in cells]]
        ax.bar(xs, ys, width, yerr=errs, capsize=2, label=label)
    ax.set_xticks(range(len(columns)), columns, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("% right (95% interval)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, ncol=len(labels))
    ax.set_title("SmolLM2-135M-Instruct: base vs finetuned on synthetic KV and on baseline data", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def position_curve(table: dict, label: str) -> list[tuple[int, float, float, float]]:
    """One model's MDQA-20 accuracy at each gold position: (position, score, ci95 low, ci95 high)."""
    cells = table["models"][label]["cells"]
    return [
        (int(p), c["score"], *c["ci95"])
        for p in MDQA20_POSITIONS
        if (c := cells.get(f"MDQA 20 docs @{p}")) is not None
    ]


def render_position_curve(table: dict, path: Path) -> None:
    """The paper's Figure 5 for this table: accuracy against gold position, one line per model, 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for label in table["models"]:
        points = position_curve(table, label)
        xs, ys = [p[0] for p in points], [100 * p[1] for p in points]
        errs = [[100 * (p[1] - p[2]) for p in points], [100 * (p[3] - p[1]) for p in points]]
        ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=label)
    ax.set_xticks([int(p) for p in MDQA20_POSITIONS])
    ax.set_xlabel("position of the document holding the answer (of 20)")
    ax.set_ylabel("% right, best subspan EM (95% interval)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("20-document MDQA by gold position (SmolLM2-135M-Instruct)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render_findings(table: dict) -> str:
    """The verdict per finetuned model, then the paper's claims checked on this table (card and table.md alike)."""
    claims = claim_checks(table)
    checked = "\n\nThe paper's claims, checked on this table:\n\n" + "\n".join(claims) if claims else ""
    return "\n".join(verdicts(table)) + checked


def write_table(cfg: TableConfig) -> Path:
    table = build_table(cfg)
    writers = {
        "table.md": lambda path: path.write_text(render_markdown(table) + "\n\n" + render_findings(table) + "\n"),
        "table.png": lambda path: render_plot(table, path),
        "positions.png": lambda path: render_position_curve(table, path),
    }
    write_report(Path(cfg.out), COMMAND, REPORT_FILES, table, writers)
    return Path(cfg.out)
