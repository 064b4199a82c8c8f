"""Build the synthetic KV retrieval dataset into a Hub-layout folder, or push that folder.

python -m dataset_builder build --out build/dataset                      # every named config
python -m dataset_builder build --out build/dataset --configs smollm2_kv_600 my_variant.yaml
python -m dataset_builder push --folder build/dataset --repo-id <org>/synthetic-kv-retrieval
python -m dataset_builder list
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dataset_builder.card import DEFAULT_REPO_ID
from dataset_builder.config import ConfigError, load_config, named_configs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dataset_builder", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="generate configs into a Hub-layout folder")
    build.add_argument("--out", type=Path, required=True, help="the dataset folder (created or updated)")
    build.add_argument("--configs", nargs="+", default=None, help="named configs or YAML paths (default: all named)")
    build.add_argument("--force", action="store_true", help="regenerate configs even when up to date")
    push = commands.add_parser("push", help="upload the folder to the Hub (HF_TOKEN set) or print the plan")
    push.add_argument("--folder", type=Path, required=True)
    push.add_argument("--repo-id", default=DEFAULT_REPO_ID)
    commands.add_parser("list", help="list named configs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "list":
            for name in named_configs():
                print(f"{name:28s} {load_config(name).description}")
        elif args.command == "build":
            from dataset_builder.publish import build_folder

            start = time.perf_counter()
            out = build_folder(args.out, args.configs or named_configs(), force=args.force)
            print(
                f"built {out} in {time.perf_counter() - start:.1f}s; load it with load_dataset({str(out)!r}, <config>)"
            )
        else:
            from dataset_builder.hub import push_folder

            if not (args.folder / "README.md").is_file():
                raise ConfigError(f"{args.folder} has no README.md dataset card; run `make dataset` first")
            print(push_folder(args.folder, args.repo_id, "dataset"))
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
