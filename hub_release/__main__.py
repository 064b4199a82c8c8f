"""Build, train, evaluate, card, stage, validate and push the release (resumable).

HF_HUB_OFFLINE=1 .venv/bin/python -m hub_release
HF_HUB_OFFLINE=1 .venv/bin/python -m hub_release --only validate,push      # re-check and push a staged release
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from evaluation.tasks import EvalConfigError
from hub_release.pipeline import STAGE_NAMES, ReleaseConfig, run_release
from hub_release.validate import ReleaseValidationError


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def main(argv: list[str] | None = None) -> int:
    defaults = ReleaseConfig.__dataclass_fields__
    parser = argparse.ArgumentParser(prog="python -m hub_release", description=__doc__.splitlines()[0])
    for name, f in defaults.items():
        flag = "--" + name.replace("_", "-")
        if name == "eval_plan":
            parser.add_argument(flag, type=_csv, default=None, help=f.metadata["help"] + " Comma-separated.")
        elif name == "batch_size":
            parser.add_argument(flag, type=int, default=None, help=f.metadata["help"])
        else:
            parser.add_argument(flag, default=None, help=f.metadata["help"])
    parser.add_argument("--force", type=_csv, default=[], help=f"redo these stages: {', '.join(STAGE_NAMES)}")
    parser.add_argument("--only", type=_csv, default=None, help="run only these stages")
    args = vars(parser.parse_args(argv))
    force, only = args.pop("force"), args.pop("only")
    try:
        cfg = ReleaseConfig(**{k: v for k, v in args.items() if v is not None})
        run_release(cfg, force=force, only=only)
    except (EvalConfigError, FileNotFoundError, ValueError, ReleaseValidationError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"error: stage command failed ({err.returncode}): {' '.join(err.cmd)}", file=sys.stderr)
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
