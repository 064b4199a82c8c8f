"""The one stage runner: build, train, evaluate and report what a plan declares; a rerun resumes.

    HF_HUB_OFFLINE=1 .venv/bin/python -m pipeline run plans/release.yaml

``python -m pipeline run <plan> [--only a,b] [--force a,b]`` runs the plan's stages in order, skipping each that is
done (its output carries its writer's marker with the plan's identity, ``pipeline/stages.py``); ``--only`` selects
stages by name (``eval:base``) or group (``eval``), ``--force`` runs them even if done. ``python -m pipeline list
<plan>`` prints each stage and whether it is done. Every output is checked before the first stage computes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.cli import entry_point, fail, parse_config
from infra.project import split_list
from pipeline.plan import PlanError, read_plan
from pipeline.runner import describe, run_plan
from pipeline.stages import StageFailed

COMMANDS = ("run", "list")


@dataclass
class StageSelection:
    only: list[str] | None = field(default=None, metadata={"help": "Run only these stages (names or groups)."})
    force: list[str] = field(default_factory=list, metadata={"help": "Run these stages even if they are done."})

    def __post_init__(self) -> None:
        self.only = None if self.only is None else split_list(self.only)
        self.force = split_list(self.force)


@entry_point("every finished stage is kept: rerun the same command to resume")
def main(argv: list[str] | None = None) -> int | None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return None
    if len(argv) < 2 or argv[0] not in COMMANDS:
        raise PlanError("give a command and a plan: python -m pipeline run plans/<name>.yaml (or list)")
    plan = read_plan(Path(argv[1]))
    prog = f"python -m pipeline {argv[0]} {argv[1]}"
    selection = parse_config(StageSelection, argv[2:], prog, __doc__.splitlines()[0])
    if argv[0] == "list":
        print("\n".join(describe(plan)))
        return None
    try:
        run_plan(plan, only=selection.only, force=selection.force)
    except StageFailed as err:  # the stage's command printed its own error; its exit code (130 after Ctrl-C) is ours
        fail(err)
        return err.returncode
    return None


if __name__ == "__main__":
    sys.exit(main())
