r"""Render the finetuned model's Hub card from results files: ``model-index`` eval results (so the Hub shows
them), a base-vs-finetuned table per task and position, a position-accuracy plot beside the card, the recipe
and the command that trained it, and which offline variant produced every number.

    .venv/bin/python -m model_cards card --base-results build/results/base \
        --finetuned-results build/results/finetuned --out build/cards \
        --model-id your-name/SmolLM2-135M-Instruct-kv-needles

Nothing here computes a score: every number on the card is read from a results JSON, so the card cannot
drift from the evaluation. The results files ship beside the card (``eval_results/{base,finetuned}/<task>.json``)
and each ``model-index`` entry links to its file (``source_url``). Its dataset fields are real ``load_dataset``
arguments where the data is a Hub dataset: the synthetic test sets are configs of the project's dataset repo
(``dataset_config``), pinned to the commit the release pushed (``dataset_revision``, when known). Liu et al.'s files
are not a Hub dataset: their entries name the source repository and, as config, the declared task that built the
prompts from them (``evaluation/tasks/<task>.yaml``); the card's provenance section lists each file's sha256.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from evaluation.metrics import paired_change
from evaluation.results import check_one_setting, describe_setting, load_results, read_samples
from infra.cli import UserError
from infra.outputs import staged_folder
from infra.project import DATASET_REPO_ID, DEFAULT_RECIPE

# Recorded in the card folder's marker (the entry point's name before it had subcommands: cards rendered before stay
# this command's own, replaced by a rebuild instead of refused as someone else's folder).
COMMAND = "python -m model_cards"
HUB_URL = "https://huggingface.co"
RESULTS_SUBDIR = "eval_results"  # <card folder>/eval_results/{base,finetuned}/<task>.json

PLOT_NAME = "position_accuracy.png"
PAPER_PLOT_NAME = "paper_table.png"
FRONTIER_PLOT_NAME = "recipe_frontier.png"
LICENSE = "apache-2.0"  # SmolLM2 is Apache-2.0 and so is this finetune
DEFAULT_BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
# What each suite measures, for the card's reader and for the Hub's task_type/dataset fields.
SUITE_INFO = {
    "synthetic_kv": ("Synthetic KV retrieval (held-out)", "text-generation"),
    "mdqa": ("Multi-document QA (Liu et al. 2023)", "question-answering"),
    "liu_kv": ("JSON KV retrieval (Liu et al. 2023)", "text-generation"),
    "nq_closed": ("NQ-Open closed-book", "question-answering"),
}
DATA_SOURCE = {
    "mdqa": "nelson-liu/lost-in-the-middle",
    "liu_kv": "nelson-liu/lost-in-the-middle",
    "nq_closed": "nelson-liu/lost-in-the-middle",
}
# The split each suite's questions come from: Liu et al.'s NQ file holds NQ-Open dev questions (nq-open-oracle-dev);
# their KV file is generated, with no split; the synthetic suites read the dataset's test split.
DATA_SPLIT = {"mdqa": "dev", "nq_closed": "dev", "liu_kv": None}


@dataclass
class CardInputs:
    base_results: dict[str, dict]  # task -> results record of the base model
    finetuned_results: dict[str, dict]
    model_id: str
    base_samples: dict[str, dict[str, dict]] = field(default_factory=dict)  # task -> example id -> samples row
    finetuned_samples: dict[str, dict[str, dict]] = field(default_factory=dict)
    base_model: str = DEFAULT_BASE_MODEL
    datasets: list[str] = field(default_factory=list)  # Hub ids of the training dataset(s)
    recipe_path: str = DEFAULT_RECIPE
    recipe_text: str = ""
    train_command: str = f"python -m training.sft --config {DEFAULT_RECIPE}"
    tags: list[str] = field(default_factory=lambda: ["long-context", "retrieval", "synthetic-data", "sft"])
    dataset_revision: str | None = None  # Hub commit of the dataset repo the synthetic test sets were read from
    paper_table: dict | None = None  # model_cards.paper_table's table.json: this recipe vs the baseline data
    paper_plot: Path | None = None  # its table.png
    frontier: dict | None = None  # model_cards.frontier's frontier.json: how the recipe's settings were chosen
    frontier_plot: Path | None = None  # its frontier.png
    seed_spread: dict | None = None  # model_cards.seed_spread's spread.json: each effect against another seed's
    # the general benchmarks (python -m evaluation lm-eval over local data): each model's summary.json, and the
    # paired change per column on the same items (evaluation.general.pair_runs)
    general_base: dict | None = None
    general_finetuned: dict | None = None
    general_paired: dict | None = None


def position_sort_key(label: str) -> tuple:
    """Numeric positions in numeric order ("5" < "10"); other labels ("cfg depth 0.50") by text then number."""
    head, _, tail = label.rpartition(" ")
    try:
        return (head, float(tail))
    except ValueError:
        return (label, 0.0)


def metric_cell(entry: dict | None) -> str:
    if not entry:
        return "–"
    low, high = entry["ci95"]
    return f"{100 * entry['score']:.1f} [{100 * low:.0f}–{100 * high:.0f}]"


def results_table(inputs: CardInputs) -> str:
    """Markdown rows: task, position, metric, base, finetuned, Δ, n — scores in % with 95% Wilson intervals."""
    rows = [
        "| Task | Position | Metric | Base | Finetuned | Δ (points) | n (base / ft) |",
        "|---|---|---|---|---|---|---|",
    ]
    tasks = sorted(set(inputs.base_results) | set(inputs.finetuned_results))
    for task in tasks:
        base, ft = inputs.base_results.get(task), inputs.finetuned_results.get(task)
        ref = ft or base
        metric = ref["primary_metric"]
        # overall: every metric (synthetic KV: both, value, dictionary); per position: the primary metric
        metrics = [metric] + [m for m in ref["overall"] if m != metric]
        groups = [("overall", m) for m in metrics]
        if len(ref["by_position"]) > 1:
            groups += [(p, metric) for p in sorted(ref["by_position"], key=position_sort_key)]
        for key, name in groups:
            b = _entry(base, key, name)
            f = _entry(ft, key, name)
            delta = f"{100 * (f['score'] - b['score']):+.1f}" if b and f else "–"
            n = f"{b['n'] if b else '–'} / {f['n'] if f else '–'}"
            rows.append(f"| {task} | {key} | {name} | {metric_cell(b)} | {metric_cell(f)} | {delta} | {n} |")
    return "\n".join(rows)


def _entry(results: dict | None, group: str, metric: str) -> dict | None:
    if results is None:
        return None
    block = results["overall"] if group == "overall" else results["by_position"].get(group, {})
    return block.get(metric)


def model_index_groups(res: dict) -> list[tuple[str, dict, dict]]:
    """(dataset config, overall metrics, positions) per dataset the task read: each Hub config of a synthetic task,
    or the task itself for Liu et al.'s files (no Hub configs)."""
    if res.get("by_config"):
        return [
            (
                config,
                res["by_config"][config],
                {p: m for p, m in res["by_position"].items() if p.split(" depth ")[0] == config},
            )
            for config in sorted(res["by_config"])
        ]
    return [(res["task"], res["overall"], res["by_position"])]


def eval_results(inputs: CardInputs) -> list[EvalResult]:
    """The finetuned model's numbers as ``model-index`` entries: per dataset config, overall then per position."""
    out = []
    for task, res in sorted(inputs.finetuned_results.items()):
        name, task_type = SUITE_INFO.get(res["suite"], (res["suite"], "text-generation"))
        primary = res["primary_metric"]
        synthetic = res["suite"] not in DATA_SOURCE  # read from the project's dataset repo, by config
        dataset_repo = inputs.datasets[0] if inputs.datasets else DATASET_REPO_ID
        source = f"{RESULTS_SUBDIR}/finetuned/{task}.json"
        for config, overall, positions in model_index_groups(res):
            entries = [("overall", m, overall[m]) for m in [primary] + [m for m in overall if m != primary]]
            if len(positions) > 1:  # a single group (closed-book) would repeat "overall"
                labels = sorted(positions, key=position_sort_key)
                entries += [(p.split(" depth ")[-1], primary, positions[p][primary]) for p in labels]
            for group, metric, entry in entries:
                where = group if group == "overall" else (f"depth {group}" if synthetic else f"position {group}")
                out.append(
                    EvalResult(
                        task_type=task_type,
                        task_name=name,
                        dataset_type=dataset_repo if synthetic else DATA_SOURCE[res["suite"]],
                        dataset_name=f"{name}: {config}",
                        dataset_config=config,
                        dataset_split="test" if synthetic else DATA_SPLIT[res["suite"]],
                        dataset_revision=inputs.dataset_revision if synthetic else None,
                        metric_type=metric,
                        metric_name=f"{metric} ({where})",
                        metric_config=where,
                        metric_value=round(entry["score"], 4),
                        source_name=source,
                        source_url=f"{HUB_URL}/{inputs.model_id}/blob/main/{source}",
                    )
                )
    return out


# lm-eval task -> (display name, the Hub dataset its stock task reads, the split scored); the card's model-index names
# the task as lm-eval does, so the Hub shows these like any leaderboard card's.
GENERAL_DATASETS = {
    "mmlu": ("MMLU", "cais/mmlu", "test"),
    "hellaswag": ("HellaSwag", "Rowan/hellaswag", "validation"),
    "triviaqa": ("TriviaQA", "mandarjoshi/trivia_qa", "validation"),
    "nq_open": ("NQ-Open", "google-research-datasets/nq_open", "validation"),
    "gsm8k": ("GSM8K", "openai/gsm8k", "test"),
}


LM_EVAL_URL = "https://github.com/EleutherAI/lm-evaluation-harness"


def general_results(inputs: CardInputs) -> list[EvalResult]:
    """The finetuned model's general-benchmark scores as model-index entries under lm-eval's task names."""
    summary = inputs.general_finetuned
    if not summary:
        return []
    out = []
    for task, score in summary["scores"].items():
        name, dataset, split = GENERAL_DATASETS.get(task, (task, task, "test"))
        metric, filt = summary["primary_metric"][task]
        n = summary["scored"][task]
        out.append(
            EvalResult(
                task_type="text-generation",
                task_name=task,
                dataset_type=dataset,
                dataset_name=f"{name} ({n} items, seed {summary['subset']['seed']})",
                dataset_split=split,
                metric_type=metric,
                metric_name=f"{metric} ({filt})" if filt != "none" else metric,
                metric_value=round(score, 4),
                source_name="lm-evaluation-harness " + summary["lm_eval_version"],
                source_url=LM_EVAL_URL,
            )
        )
    return out


def general_section(inputs: CardInputs) -> str:
    """Base vs finetuned on the general benchmarks, each change with its exact paired McNemar p on the same items."""
    if not (inputs.general_base and inputs.general_finetuned):
        return ""
    base, tuned, paired = inputs.general_base, inputs.general_finetuned, inputs.general_paired or {}
    lines = [
        "## General ability (lm-eval stock tasks, local data)",
        "",
        "The paper's check that KV finetuning keeps general ability (its Table 2), on seeded subsets of each",
        "benchmark: lm-eval's own prompts and metrics over local copies (`evaluation/lm_eval_tasks/`), NQ-Open",
        "without the NQ questions any training set used. Change = finetuned - base on the same items, McNemar p.",
        "",
        "| benchmark | metric | n | base | finetuned | change (paired p) |",
        "|---|---|---|---|---|---|",
    ]
    for task, score in tuned["scores"].items():
        name = GENERAL_DATASETS.get(task, (task,))[0]
        metric, _ = tuned["primary_metric"][task]
        change = paired.get(task)
        delta = f"{change['delta'] * 100:+.1f} (p={change['mcnemar_p']:.2g})" if change else "not paired"
        b = base["scores"].get(task)
        b_text = f"{b * 100:.1f}" if b is not None else "-"
        lines.append(f"| {name} | {metric} | {tuned['scored'][task]} | {b_text} | {score * 100:.1f} | {delta} |")
    return "\n".join(lines) + "\n\n"


def paired_outcomes(samples: dict[str, dict], metric: str) -> dict[str, float]:
    return {i: row["scores"][metric] for i, row in samples.items()}


def findings(inputs: CardInputs) -> list[str]:
    """Plain statements of base vs finetuned per task overall, from the exact paired McNemar test at 5%.

    Both models answered the same prompts, so the test pairs them prompt by prompt (the paper table's test too:
    ``evaluation.metrics.paired_change``); overlapping 95% intervals are not a test, so the intervals stay in the
    table and the verdict comes from the test.
    """
    lines = []
    for task in sorted(set(inputs.base_results) & set(inputs.finetuned_results)):
        base, ft = inputs.base_results[task], inputs.finetuned_results[task]
        metric = ft["primary_metric"]
        b, f = base["overall"][metric], ft["overall"][metric]
        try:
            p = paired_change(
                paired_outcomes(inputs.finetuned_samples[task], metric),
                paired_outcomes(inputs.base_samples[task], metric),
            )["mcnemar_p"]
        except (KeyError, ValueError) as err:
            raise UserError(
                f"{task}: base and finetuned samples do not pair up ({err}); evaluate both models on the same task "
                "with the same limit"
            ) from err
        if p >= 0.05:
            verdict = f"not distinguishable from base at this sample size (paired McNemar p={p:.2f})"
        else:
            shown = "p<0.001" if p < 0.001 else f"p={p:.3f}"
            verdict = f"{'higher' if f['score'] > b['score'] else 'lower'} than base (paired McNemar {shown})"
        lines.append(
            f"- **{task}**: finetuned {100 * f['score']:.1f} vs base {100 * b['score']:.1f} "
            f"({100 * (f['score'] - b['score']):+.1f} points, n={f['n']}): {verdict}."
        )
    return lines


def provenance(inputs: CardInputs) -> list[str]:
    """Per task: the variant, the limit, the data files with sha256, harness version and commit, precision."""
    lines = []
    for label, results in (("base", inputs.base_results), ("finetuned", inputs.finetuned_results)):
        for task, res in sorted(results.items()):
            files = ", ".join(
                f"`{Path(f['path']).name}` (sha256 `{f['sha256'][:12]}…`)" for f in res["data_files"][:3]
            )
            if len(res["data_files"]) > 3:
                files += f" and {len(res['data_files']) - 3} more"
            lines.append(
                f"- {label} / **{task}** v{res['task_version']}: {res['variant']}; limit={res['limit']}; "
                f"data: {files or '–'}; harness {res['harness']['version']} @ `{res['harness']['git_commit'][:12]}`; "
                f"{res['generation']['precision']}, greedy, max_new_tokens={res['generation']['max_new_tokens']}; "
                f"CPU: {res['timing']['cpu']}."
            )
    return lines


def plot_positions(inputs: CardInputs, path: Path) -> Path | None:
    """Position-accuracy curves, base vs finetuned, one panel per task that has more than one position."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a build machine
    import matplotlib.pyplot as plt

    tasks = [
        t
        for t in sorted(set(inputs.base_results) | set(inputs.finetuned_results))
        if len((inputs.finetuned_results.get(t) or inputs.base_results[t])["by_position"]) > 1
    ]
    if not tasks:
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        ref = inputs.finetuned_results.get(task) or inputs.base_results[task]
        metric = ref["primary_metric"]
        labels = sorted(ref["by_position"], key=position_sort_key)
        # synthetic KV: plot the sweep (gold at fixed depths, equal n); random-depth test bins stay in the table
        sweep = [p for p in labels if "_sweep depth " in p]
        if sweep:
            labels = sweep
        for name, results, style in (
            ("base", inputs.base_results, "o--"),
            ("finetuned", inputs.finetuned_results, "s-"),
        ):
            if task not in results:
                continue
            entries = [results[task]["by_position"].get(p, {}).get(metric) for p in labels]
            xs = [i for i, e in enumerate(entries) if e]
            ys = [100 * entries[i]["score"] for i in xs]
            err = [
                [100 * (entries[i]["score"] - entries[i]["ci95"][0]) for i in xs],
                [100 * (entries[i]["ci95"][1] - entries[i]["score"]) for i in xs],
            ]
            ax.errorbar(xs, ys, yerr=err, fmt=style, capsize=3, label=name)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([p.split(" depth ")[-1] for p in labels], rotation=45 if len(labels) > 6 else 0)
        ax.set_ylim(-2, 102)
        ax.set_title(task if not sweep else f"{task} ({sweep[0].split(' depth ')[0]})", fontsize=10)
        ax.set_xlabel("gold position" if ref["suite"] != "synthetic_kv" else "gold depth")
        ax.set_ylabel(f"{metric} (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def setting_note(table: dict, setting: dict) -> str:
    """A line when a table section was measured under another evaluation setting than the card's results: its
    numbers are comparable within the section, not with the results above (bf16 answers depend on the batch)."""
    recorded = table.get("eval_setting")
    if not recorded or not setting or recorded == setting:
        return ""
    return (
        f"Measured under another evaluation setting ({describe_setting(recorded)}) than the results above "
        f"({describe_setting(setting)}): compare its rows with each other, not with the table above.\n\n"
    )


def section(title: str, intro: str, table: dict, setting: dict | None, body: str) -> str:
    """One optional card section: its heading, what was run, the setting note when it differs, the rendered table."""
    return f"## {title}\n\n{intro}:\n\n" + setting_note(table, setting or {}) + body + "\n\n"


def paper_section(table: dict | None, setting: dict | None = None) -> str:
    """The paper-table comparison (same recipe on synthetic vs factual baseline data), rendered from its JSON."""
    if not table:
        return ""
    from model_cards.paper_table import render_findings, render_markdown

    intro = (
        "The same recipe trained on the synthetic KV data and on factual long-context baselines (MDQA-style and "
        "needle-style data from the NQ train half), all evaluated on the NQ eval half and the same prompts "
        "(`make paper-table`, `model_cards/paper_table.py`)"
    )
    body = f"{render_markdown(table)}\n\n![paper table]({PAPER_PLOT_NAME})\n\n{render_findings(table)}"
    return section("Does the paper's effect reproduce?", intro, table, setting, body)


def seed_spread_section(table: dict | None, setting: dict | None = None) -> str:
    """Whether each effect exceeds what another training seed changes, rendered from its JSON."""
    if not table:
        return ""
    from model_cards.seed_spread import render_markdown, spread_checks

    intro = (
        "The paper averages three seeds; each row above is one training run. The rows trained again with the "
        "authors' data seeds 0/1/2 and training seeds 42/43/44 (`make seed-spread`, `model_cards/seed_spread.py`)"
    )
    body = render_markdown(table) + "\n\n" + "\n".join(spread_checks(table))
    return section("Larger than another seed?", intro, table, setting, body)


def frontier_section(table: dict | None, setting: dict | None = None) -> str:
    """How the recipe was chosen: the recipe frontier on validation data, rendered from its JSON."""
    if not table:
        return ""
    from model_cards.frontier import render_markdown

    intro = (
        "Learning rate, steps, LoRA and replay mixing were compared on validation data only (the `_val` KV sets "
        "and the NQ val quarter; never the numbers reported above) with `make recipe-frontier`"
    )
    body = f"{render_markdown(table)}\n\n![recipe frontier]({FRONTIER_PLOT_NAME})"
    return section("How the recipe was chosen", intro, table, setting, body)


def render_model_card(inputs: CardInputs, plot_name: str | None = PLOT_NAME) -> ModelCard:
    # base and finetuned were measured under one evaluation setting, or the card is not rendered
    setting = check_one_setting({"base": inputs.base_results, "finetuned": inputs.finetuned_results})
    sections = (
        paper_section(inputs.paper_table, setting)
        + seed_spread_section(inputs.seed_spread, setting)
        + frontier_section(inputs.frontier, setting)
    )
    data = ModelCardData(
        model_name=inputs.model_id.split("/")[-1],
        base_model=inputs.base_model,
        datasets=inputs.datasets or None,
        license=LICENSE,
        language="en",
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=inputs.tags,
        eval_results=(eval_results(inputs) + general_results(inputs)) or None,
    )
    plot = f"![Accuracy by gold position, base vs finetuned]({plot_name})\n\n" if plot_name else ""
    recipe = f"```yaml\n{inputs.recipe_text.strip()}\n```\n\n" if inputs.recipe_text.strip() else ""
    body = f"""
# {inputs.model_id.split("/")[-1]}

[{inputs.base_model}](https://huggingface.co/{inputs.base_model}) finetuned on synthetic numeric key-value
retrieval prompts, following *From Artificial Needles to Real Haystacks* (Xiong et al., 2024): the model
never sees real documents in training; the question is whether retrieval learned on dictionaries of
integers transfers to real long-context tasks without costing general knowledge.

## Results: base vs finetuned

Scores in % with 95% Wilson intervals; positions are where the gold document / pair / dictionary sits.
Every number is read from this repository's evaluation results files (`evaluation/`), nothing is typed by hand.

{results_table(inputs)}

{plot}### What the numbers say

{chr(10).join(findings(inputs)) or "- no task was evaluated on both models."}

## Training

Recipe `{inputs.recipe_path}`, trained with:

```bash
{inputs.train_command}
```

{general_section(inputs)}{sections}{recipe}## Evaluation details and data variants

{chr(10).join(provenance(inputs))}

## Limitations

- Offline MDQA is **not** Liu et al.'s released MDQA set: distractors are other NQ questions' gold passages
  (BM25-closest, containing no answer) rather than Contriever-retrieved passages, so absolute scores are not
  comparable with the paper's; the variant of every number is listed above.
- Liu et al.'s JSON KV task is run on subsampled variants (fewer pairs than the original 75) for CPU time.
- Sample sizes are small (CPU budget; see `limit` above) and the intervals are wide: differences inside
  overlapping intervals are not evidence either way.
- A 135M-parameter model: absolute QA accuracy is low; the card reports what was measured.
- General benchmarks, when listed, are seeded subsets sized for CPU time (n in their table); FLenQA needs the Hub
  (`python -m evaluation lm-eval --data hub --include-path <its task YAML>`) and is not part of this offline card.
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def write_card(inputs: CardInputs, out_dir: Path, force: bool = False) -> Path:
    """Write ``README.md``, the position plot and the results files behind them into ``out_dir``; returns the card.

    ``out_dir`` follows ``infra/outputs.py``: replaced only if this command wrote it (or with ``force``), atomically.
    """
    out_dir = Path(out_dir)
    with staged_folder(out_dir, COMMAND, force) as tmp:
        plot = plot_positions(inputs, tmp / PLOT_NAME)
        render_model_card(inputs, PLOT_NAME if plot else None).save(tmp / "README.md")
        if inputs.paper_table:
            (tmp / "paper_table.json").write_text(json.dumps(inputs.paper_table, indent=2) + "\n")
            if inputs.paper_plot:
                shutil.copyfile(inputs.paper_plot, tmp / PAPER_PLOT_NAME)
        if inputs.seed_spread:
            (tmp / "seed_spread.json").write_text(json.dumps(inputs.seed_spread, indent=2) + "\n")
        if inputs.frontier:
            (tmp / "recipe_frontier.json").write_text(json.dumps(inputs.frontier, indent=2) + "\n")
            if inputs.frontier_plot:
                shutil.copyfile(inputs.frontier_plot, tmp / FRONTIER_PLOT_NAME)
        for which, results in (("base", inputs.base_results), ("finetuned", inputs.finetuned_results)):
            folder = tmp / RESULTS_SUBDIR / which
            folder.mkdir(parents=True)
            for task, record in results.items():  # byte for byte what evaluation/results.py wrote
                (folder / f"{task}.json").write_text(json.dumps(record, indent=2) + "\n")
    return out_dir / "README.md"


def read_table_json(path: Path | None, keys: set[str], make_target: str, plot: bool = True) -> dict | None:
    """A table JSON that ``make <make_target>`` wrote, with its PNG beside it (same stem) when it draws one, or None
    without a path."""
    if path is None:
        return None
    if not path.is_file() or (plot and not path.with_suffix(".png").is_file()):
        beside = f" (and {path.with_suffix('.png').name} beside it)" if plot else ""
        raise UserError(f"{path}{beside} not found; run `make {make_target}`")
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise UserError(f"{path} is not the JSON `make {make_target}` writes ({err}); rebuild it") from err
    if not isinstance(table, dict) or not keys <= set(table):
        raise UserError(f"{path} is not what `make {make_target}` writes (no {sorted(keys)}); rebuild it")
    return table


def table_sections(paper_table: Path | None, frontier: Path | None, seed_spread: Path | None = None) -> dict:
    """``CardInputs`` fields of the optional sections: the paper table, the recipe frontier and the seed spread
    (None = left out)."""
    return {
        "seed_spread": read_table_json(seed_spread, {"base", "columns", "groups"}, "seed-spread", plot=False),
        "paper_table": read_table_json(paper_table, {"models", "columns", "base", "finetuned"}, "paper-table"),
        "paper_plot": paper_table.with_suffix(".png") if paper_table else None,
        "frontier": read_table_json(frontier, {"points", "target"}, "recipe-frontier"),
        "frontier_plot": frontier.with_suffix(".png") if frontier else None,
    }


def read_general(base_run: Path, finetuned_run: Path) -> dict:
    """Both lm-eval runs' summaries and their paired changes; a missing run is one error naming the plan stage."""
    from evaluation.general import pair_runs, read_summary

    return {
        "general_base": read_summary(base_run),
        "general_finetuned": read_summary(finetuned_run),
        "general_paired": pair_runs(Path(base_run), Path(finetuned_run)),
    }


def inputs_from_folders(base_dir: Path, finetuned_dir: Path, model_id: str, **kwargs) -> CardInputs:
    """Both folders must exist and hold results of the current schema (``load_results`` says which file is wrong)."""
    base, ft = load_results(base_dir), load_results(finetuned_dir)
    check_one_setting({"base": base, "finetuned": ft})  # before any samples are read
    kwargs.setdefault("base_samples", {task: read_samples(base_dir, task) for task in base})
    kwargs.setdefault("finetuned_samples", {task: read_samples(finetuned_dir, task) for task in ft})
    recipe = Path(kwargs.get("recipe_path", DEFAULT_RECIPE))
    general = kwargs.pop("general_dirs", None)  # (base run, finetuned run) of python -m evaluation lm-eval
    if general:
        kwargs.update(read_general(*general))
    if "recipe_text" not in kwargs and recipe.is_file():
        kwargs["recipe_text"] = recipe.read_text()
    return CardInputs(base_results=base, finetuned_results=ft, model_id=model_id, **kwargs)
