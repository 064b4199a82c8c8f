"""Build, train, evaluate, card, stage, validate and push the release (resumable).

HF_HUB_OFFLINE=1 .venv/bin/python -m hub_release
HF_HUB_OFFLINE=1 .venv/bin/python -m hub_release --only validate push      # re-check and push a staged release
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

from hub_release.pipeline import STAGE_NAMES, ReleaseConfig, ReleaseError, run_release
from infra.cli import USER_ERRORS, fail, parse_configs


def _stages(values: list[str] | None) -> list[str] | None:
    """``a b``, ``a,b`` or both: stage names, each checked."""
    if values is None:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(STAGE_NAMES))
    if unknown:
        raise ReleaseError(f"unknown stage(s) {unknown}; stages are {', '.join(STAGE_NAMES)}")
    return names


@dataclass
class StageSelection:
    force: list[str] = field(
        default_factory=list, metadata={"help": f"Redo these stages even if done: {', '.join(STAGE_NAMES)}."}
    )
    only: list[str] | None = field(default=None, metadata={"help": "Run only these stages."})

    def __post_init__(self) -> None:
        self.force, self.only = _stages(self.force), _stages(self.only)


def main(argv: list[str] | None = None) -> int:
    try:
        cfg, stages = parse_configs(
            (ReleaseConfig, StageSelection), argv, "python -m hub_release", __doc__.splitlines()[0]
        )
        run_release(cfg, force=stages.force, only=stages.only)
    except USER_ERRORS as err:
        return fail(err)
    except subprocess.CalledProcessError as err:  # the stage's own command printed its one-line error above
        print(f"error: stage command failed ({err.returncode}): {' '.join(err.cmd)}", file=sys.stderr)
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
