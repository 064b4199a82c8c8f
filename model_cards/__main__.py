r"""Render the model card and position plot from two results folders.

    .venv/bin/python -m model_cards --base-results build/results/base --finetuned-results build/results/finetuned \
        --out build/cards --model-id your-name/SmolLM2-135M-Instruct-kv-needles \
        --dataset artificial-needles/synthetic-kv-retrieval
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model_cards.render import DEFAULT_BASE_MODEL, DEFAULT_RECIPE, inputs_from_folders, write_card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_cards", description=__doc__.splitlines()[0])
    parser.add_argument("--base-results", required=True, type=Path)
    parser.add_argument("--finetuned-results", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path, help="folder for README.md + position_accuracy.png")
    parser.add_argument("--model-id", required=True, help="Hub id the card describes")
    parser.add_argument("--base-model", default=DEFAULT_BASE_MODEL)
    parser.add_argument("--dataset", action="append", default=[], help="training dataset Hub id (repeatable)")
    parser.add_argument("--recipe", default=DEFAULT_RECIPE)
    args = parser.parse_args(argv)
    try:
        inputs = inputs_from_folders(
            args.base_results,
            args.finetuned_results,
            args.model_id,
            base_model=args.base_model,
            datasets=args.dataset,
            recipe_path=args.recipe,
            train_command=f"python -m training.sft --config {args.recipe}",
        )
        print(f"wrote {write_card(inputs, args.out)}")
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
