r"""Render the model card and position plot from two results folders.

    .venv/bin/python -m model_cards --base-results build/results/base --finetuned-results build/results/finetuned \
        --out build/cards --model-id your-name/SmolLM2-135M-Instruct-kv-needles \
        --dataset artificial-needles/synthetic-kv-retrieval
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.cli import USER_ERRORS, UserError, fail, parse_config
from infra.hub import check_repo_id
from infra.outputs import check_output_folder
from model_cards.render import (
    COMMAND,
    DEFAULT_BASE_MODEL,
    DEFAULT_RECIPE,
    inputs_from_folders,
    table_sections,
    write_card,
)


@dataclass
class CardConfig:
    base_results: Path = field(metadata={"help": "Results folder of the base model (python -m evaluation run --out)."})
    finetuned_results: Path = field(metadata={"help": "Results folder of the finetuned model."})
    out: Path = field(metadata={"help": "Folder for README.md, the plot and eval_results/: new, empty or a card's."})
    model_id: str = field(metadata={"help": "Hub id the card describes, <org>/<name>."})
    base_model: str = field(default=DEFAULT_BASE_MODEL, metadata={"help": "Hub id of the model that was finetuned."})
    dataset: list[str] = field(default_factory=list, metadata={"help": "Training dataset Hub id(s)."})
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


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = parse_config(CardConfig, argv, "python -m model_cards", __doc__.splitlines()[0])
        inputs = inputs_from_folders(
            cfg.base_results,
            cfg.finetuned_results,
            cfg.model_id,
            base_model=cfg.base_model,
            datasets=cfg.dataset,
            recipe_path=cfg.recipe,
            train_command=f"python -m training.sft --config {cfg.recipe}",
            dataset_revision=cfg.dataset_revision,
            **table_sections(cfg.paper_table, cfg.frontier),
        )
        print(f"wrote {write_card(inputs, cfg.out, force=cfg.force)}")
    except USER_ERRORS as err:
        return fail(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
