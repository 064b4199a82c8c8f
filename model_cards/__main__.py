r"""The reports: a model card, the paper table, each rendered only from recorded results files.

    .venv/bin/python -m model_cards card --base-results build/results/base \
        --finetuned-results build/results/finetuned --out build/cards \
        --model-id artificial-needles/SmolLM2-135M-Instruct-smollm2_kv_600-sft-full
    .venv/bin/python -m model_cards paper-table --results build/paper/results --out build/paper
    .venv/bin/python -m model_cards seed-spread --results build/seed_spread/results --out build/seed_spread \
        --models base,synthetic_seed0,synthetic_seed1,synthetic_seed2
    .venv/bin/python -m model_cards headline --base-results build/results/base \
        --finetuned-results build/results/finetuned --json docs/headline.json --readme README.md

(The recipe frontier report is written by its plan: ``python -m pipeline run plans/frontier.yaml --only frontier``.)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.cli import UserError, entry_point, parse_config
from infra.hub import check_repo_id
from infra.outputs import check_output_folder
from infra.project import DATASET_REPO_ID, DEFAULT_RECIPE
from model_cards.card import COMMAND, DEFAULT_BASE_MODEL, inputs_from_folders, table_sections, write_card
from model_cards.headline import write_headline
from model_cards.paper_table import TableConfig, write_table
from model_cards.seed_spread import SpreadConfig, write_spread

COMMANDS = ("card", "paper-table", "seed-spread", "headline")


@dataclass
class CardConfig:
    base_results: Path = field(metadata={"help": "Results folder of the base model (python -m evaluation run --out)."})
    finetuned_results: Path = field(metadata={"help": "Results folder of the finetuned model."})
    out: Path = field(metadata={"help": "Folder for README.md, the plot and eval_results/: new, empty or a card's."})
    model_id: str = field(metadata={"help": "Hub id the card describes, <org>/<name>."})
    base_model: str = field(default=DEFAULT_BASE_MODEL, metadata={"help": "Hub id of the model that was finetuned."})
    dataset: list[str] = field(
        default_factory=list, metadata={"help": f"Training dataset Hub id(s) ({DATASET_REPO_ID})."}
    )
    dataset_revision: str | None = field(
        default=None, metadata={"help": "Hub commit of the dataset repo the synthetic test sets came from."}
    )
    recipe: str = field(default=DEFAULT_RECIPE, metadata={"help": "The SFT recipe that trained the model."})
    paper_table: Path | None = field(
        default=None,
        metadata={"help": "table.json of `make paper-table` (its table.png beside it): adds the comparison."},
    )
    frontier: Path | None = field(
        default=None,
        metadata={
            "help": "frontier.json of `make recipe-frontier` (frontier.png beside it): how the recipe was chosen."
        },
    )
    seed_spread: Path | None = field(
        default=None,
        metadata={"help": "spread.json of `make seed-spread`: whether each effect exceeds another seed's change."},
    )
    force: bool = field(default=False, metadata={"help": "Allow replacing a non-empty --out written by another tool."})

    def __post_init__(self) -> None:
        for repo_id in (self.model_id, *self.dataset):
            check_repo_id(repo_id)
        if self.base_results.resolve() == self.finetuned_results.resolve():
            raise UserError(
                f"--base-results and --finetuned-results are the same folder ({self.base_results}); give the base "
                "model's results and the finetuned model's, each from its own `python -m evaluation run --out`"
            )
        check_output_folder(self.out, COMMAND, self.force)  # before any results are read or plots drawn


def run_card(argv: list[str]) -> None:
    cfg = parse_config(
        CardConfig, argv, "python -m model_cards card", "render the model card from two results folders"
    )
    inputs = inputs_from_folders(
        cfg.base_results,
        cfg.finetuned_results,
        cfg.model_id,
        base_model=cfg.base_model,
        datasets=cfg.dataset,
        recipe_path=cfg.recipe,
        train_command=f"python -m training.sft --config {cfg.recipe}",
        dataset_revision=cfg.dataset_revision,
        **table_sections(cfg.paper_table, cfg.frontier, cfg.seed_spread),
    )
    print(f"wrote {write_card(inputs, cfg.out, force=cfg.force)}")


def run_paper_table(argv: list[str]) -> None:
    cfg = parse_config(TableConfig, argv, "python -m model_cards paper-table", "the paper's Table 2 from results")
    out = write_table(cfg)
    print((out / "table.md").read_text())
    print(f"wrote {out / 'table.md'}, {out / 'table.json'}, {out / 'table.png'}")


def run_seed_spread(argv: list[str]) -> None:
    cfg = parse_config(SpreadConfig, argv, "python -m model_cards seed-spread", "seed spread from results folders")
    out = write_spread(cfg)
    print((out / "spread.md").read_text())
    print(f"wrote {out / 'spread.md'}, {out / 'spread.json'}")


@dataclass
class HeadlineConfig:
    base_results: Path = field(
        metadata={"help": "Results folder of the base model (the release's build/results/base)."}
    )
    finetuned_results: Path = field(metadata={"help": "Results folder of the finetuned model."})
    general: Path | None = field(
        default=None,
        metadata={"help": "Folder of the release's lm-eval runs (base/ and finetuned/): adds the general columns."},
    )
    json: Path = field(default=Path("docs/headline.json"), metadata={"help": "The summary this command writes."})
    readme: Path = field(default=Path("README.md"), metadata={"help": "README whose headline block is rewritten."})

    def __post_init__(self) -> None:
        if not self.readme.is_file():
            raise UserError(f"README {self.readme} does not exist; give the README holding the headline markers")


def run_headline(argv: list[str]) -> None:
    cfg = parse_config(HeadlineConfig, argv, "python -m model_cards headline", "the README's generated headline")
    write_headline(cfg.base_results, cfg.finetuned_results, cfg.json, cfg.readme, cfg.general)
    print(f"wrote {cfg.json} and the headline block of {cfg.readme}")


RUNNERS = {"card": run_card, "paper-table": run_paper_table, "seed-spread": run_seed_spread, "headline": run_headline}


@entry_point("nothing was replaced (each file is written whole, then renamed into place): rerun the command")
def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if not argv or argv[0] not in COMMANDS:
        raise UserError(f"give a report: one of {', '.join(COMMANDS)} (e.g. python -m model_cards card --help)")
    RUNNERS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
