"""Replay rows: the base model's own answers to prompts it will not be scored on, to mix into finetuning.

Finetuning on KV prompts alone drifts the model on everything else: its closed-book NQ answers get shorter and pick
up the KV answer's phrasing (``make paper-table``'s leakage column). Mixing in rows whose answer is what the *base*
model already said (self-distillation; the gold answers are never used) anchors that behaviour while the KV skill is
learnt. It stands in for general chat data (e.g. HuggingFaceTB/smoltalk), which a user with the Hub would mix in the
same way (``mix_dataset_name`` in a recipe); offline, the only prompts at hand are NQ questions, so the replay prompts
are the NQ ``replay`` quarter (sources/nq_halves.py), disjoint from the ``val`` quarter a recipe is chosen on and
from the ``eval`` half every reported number uses.

    python -m evaluation run --model build/models/SmolLM2-135M-Instruct --suites nq_closed_replay \\
        --out build/frontier/results/base
    python -m training.replay --samples build/frontier/results/base/nq_closed_replay.samples.jsonl \\
        --out build/frontier/replay

Every sample's prompt must be the closed-book prompt of a replay-quarter question (the questions are read from
``--data-dir``, the evaluation's): a samples file of the ``eval`` half would put reported questions into training.

One row (``<out>/train.jsonl``, TRL's conversational format):

    {"messages": [{"role": "user", "content": "Question: who sang ...\\nAnswer:"},
                  {"role": "assistant", "content": "The song was sung by ..."}]}
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.cli import UserError, entry_point, parse_config
from infra.outputs import staged_folder
from infra.project import LIU_DATA_DIR

COMMAND = "training.replay"
# evaluation/tasks/nq_closed_replay.yaml: its prompts (sources.nq_open.CLOSED_BOOK_PROMPT over the NQ replay quarter,
# a test holds the task's template equal to it) are the only ones replayed.
REPLAY_TASK = "nq_closed_replay"


class ReplayError(UserError):
    """The samples file cannot become replay rows; the message names the file and the fix."""


@dataclass
class ReplayConfig:
    samples: str = field(metadata={"help": "A <task>.samples.jsonl written by `python -m evaluation run`."})
    out: str = field(metadata={"help": "Folder to write train.jsonl into (replaced only if this command wrote it)."})
    force: bool = field(default=False, metadata={"help": "Replace --out even if this command did not write it."})
    data_dir: str = field(
        default=LIU_DATA_DIR,
        metadata={
            "help": "Folder holding nq-open-oracle-dev.jsonl.gz (the evaluation's --data-dir): the questions "
            "whose replay quarter every sample must come from."
        },
    )

    def __post_init__(self) -> None:
        if Path(self.samples).is_dir():
            raise ReplayError(
                f"--samples {self.samples} is a folder; give the samples file in it, "
                f"{Path(self.samples) / f'{REPLAY_TASK}.samples.jsonl'} (written by `python -m evaluation run "
                f"--suites {REPLAY_TASK}`)"
            )
        if not Path(self.samples).is_file():
            raise ReplayError(
                f"samples file {self.samples} does not exist; write it with `python -m evaluation run "
                f"--suites {REPLAY_TASK} --out <folder>` on the base model"
            )


def nq_part_of_prompts(data_dir: str) -> dict[str, str]:
    """Each NQ closed-book prompt (as the replay task words it) → the part of NQ its question is in: replay, val or
    eval (sources/nq_halves.py)."""
    from sources.files import resolve_data_file
    from sources.nq_halves import split_halves
    from sources.nq_open import CLOSED_BOOK_PROMPT, NQ_ORACLE_FILE, load_nq_oracle

    questions = [q.question for q in load_nq_oracle(resolve_data_file(NQ_ORACLE_FILE, data_dir))]
    parts = split_halves(questions)
    prompt = CLOSED_BOOK_PROMPT.format
    return {prompt(question=questions[i]): part for part in ("eval", "val", "replay") for i in parts[part]}


def check_replay_quarter(samples: list[dict], path: Path, part_of: dict[str, str]) -> None:
    """Refuse a sample whose prompt is not a replay-quarter question's: training on an ``eval`` question leaks it into
    every reported number, on a ``val`` one into the recipe choice."""
    for number, sample in enumerate(samples, 1):
        part = part_of.get(sample["prompt"])
        if part != "replay":
            where = f"a question of the NQ {part} part" if part else "not an NQ closed-book prompt"
            raise ReplayError(
                f"{path} line {number}: its prompt is {where}, and replay rows may only come from the replay quarter "
                f"(anything else leaks into what is measured); use the samples file of `python -m evaluation run "
                f"--suites {REPLAY_TASK}` on the base model"
            )


def replay_rows(samples: list[dict]) -> list[dict]:
    """One chat row per sample with a non-empty prediction: the prompt, then the model's own answer."""
    rows = []
    for sample in samples:
        answer = sample["prediction"].strip()
        if answer:  # an empty answer would give TRL a row with nothing to learn
            rows.append(
                {"messages": [{"role": "user", "content": sample["prompt"]}, {"role": "assistant", "content": answer}]}
            )
    return rows


def read_samples(path: Path) -> list[dict]:
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            sample = json.loads(line)
        except ValueError as err:
            raise ReplayError(
                f"{path} line {number} is not JSON ({err}); re-run the evaluation that wrote it"
            ) from err
        if not isinstance(sample, dict) or not {"prompt", "prediction"} <= set(sample):
            raise ReplayError(
                f"{path} line {number} has no 'prompt' and 'prediction'; it must be a samples file of "
                "`python -m evaluation run` (re-run it: older versions did not record the prompt)"
            )
        samples.append(sample)
    if not samples:
        raise ReplayError(f"{path} is empty; re-run the evaluation that wrote it")
    return samples


@entry_point("nothing was replaced (train.jsonl is staged, then renamed into place): rerun the command")
def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(ReplayConfig, argv, "python -m training.replay", __doc__.split("\n\n")[0])
    samples = read_samples(Path(cfg.samples))
    check_replay_quarter(samples, Path(cfg.samples), nq_part_of_prompts(cfg.data_dir))
    rows = replay_rows(samples)
    with staged_folder(Path(cfg.out), COMMAND, cfg.force) as folder:
        with open(folder / "train.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    print(f"wrote {len(rows)} replay rows to {Path(cfg.out) / 'train.jsonl'}")


if __name__ == "__main__":
    sys.exit(main())
