"""Build the synthetic KV retrieval dataset into a Hub-layout folder, or push that folder.

python -m dataset_builder build --out build/dataset                      # every named config
python -m dataset_builder build --out build/dataset --configs smollm2_kv_600 my_variant.yaml
python -m dataset_builder push --folder build/dataset --repo-id <org>/synthetic-kv-retrieval
python -m dataset_builder list
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dataset_builder.config import load_config, named_configs
from infra.cli import entry_point, parse_config
from infra.project import DATASET_REPO_ID


@dataclass
class BuildConfig:
    """``build``: generate configs into a Hub-layout folder."""

    out: Path = field(metadata={"help": "The dataset folder: new, empty, or written by an earlier build."})
    configs: list[str] | None = field(
        default=None, metadata={"help": "Named configs or YAML paths (default: every named config)."}
    )
    force: bool = field(
        default=False,
        metadata={"help": "Regenerate even up-to-date configs; allows replacing a folder this command did not write."},
    )


@dataclass
class PushConfig:
    """``push``: upload the folder to the Hub (HF_TOKEN set) or print the upload plan."""

    folder: Path = field(metadata={"help": "A folder written by `build`."})
    repo_id: str = field(default=DATASET_REPO_ID, metadata={"help": "Hub dataset repo, <org>/<name>."})


@dataclass
class ListConfig:
    """``list``: the named configs."""


COMMANDS = {"build": BuildConfig, "push": PushConfig, "list": ListConfig}


def run(command: str, cfg) -> None:
    if command == "list":
        for name in named_configs():
            print(f"{name:28s} {load_config(name).description}")
    elif command == "build":
        from dataset_builder.publish import build_folder

        start = time.perf_counter()
        out = build_folder(cfg.out, cfg.configs or named_configs(), force=cfg.force)
        print(f"built {out} in {time.perf_counter() - start:.1f}s; load it with load_dataset({str(out)!r}, <config>)")
    else:
        from infra.hub import push_folder

        print(push_folder(cfg.folder, cfg.repo_id, "dataset"))  # only a folder `build` wrote (its marker) is pushed


# staged_folder has already removed the half-written folder by the time Ctrl-C reaches main; the old one stands
@entry_point("nothing was replaced (the dataset folder is staged, then renamed into place): rerun the command")
def main(argv: list[str] | None = None) -> int | None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr if argv[:1] not in (["-h"], ["--help"]) else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    command = argv[0]
    cfg = parse_config(COMMANDS[command], argv[1:], f"python -m dataset_builder {command}", __doc__.split("\n")[0])
    run(command, cfg)
    return None


if __name__ == "__main__":
    sys.exit(main())
