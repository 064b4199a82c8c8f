"""Write named configs into a Hub-layout dataset folder, atomically, and push it.

Layout (what ``load_dataset(<folder>, "<config>")`` reads offline, and what the Hub serves)::

    README.md                                  dataset card; YAML ``configs:`` maps splits to Parquet files
    data/<config>/<split>-00000-of-00001.parquet
    configs/<config>.yaml                      the exact config that generated it (regenerate with it)
    openai/<config>/<split>.jsonl              OpenAI fine-tuning format (system message as the authors used)
    messages/<config>/<split>.jsonl            plain {"messages": [...]} JSONL

The folder follows ``infra/outputs.py``: an existing ``--out`` is updated only if this command wrote it (its
``.written-by.json`` marker), any other non-empty folder or a file is refused before anything is generated, and
everything is written to a hidden sibling renamed into place when complete, so a failure leaves the previous folder
(or nothing) behind. Configs already in the folder with an identical ``configs/<config>.yaml`` and files whose
sha256 still matches the marker are reused, not regenerated; configs not asked for are kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import yaml
from datasets import Dataset
from tqdm.auto import tqdm

from dataset_builder.card import render_card
from dataset_builder.config import ConfigError, KVConfig, config_to_dict, load_config
from dataset_builder.schema import FEATURES, OPENAI_SYSTEM
from dataset_builder.splits import build_splits, check_inputs
from dataset_builder.tokens import TokenCounter, load_counter
from infra.outputs import check_output_folder, damaged_files, staged_folder, written_by

COMMAND = "python -m dataset_builder build"  # recorded in the folder's marker: the only writer allowed to update it


def parquet_path(folder: Path, name: str, split: str) -> Path:
    return folder / "data" / name / f"{split}-00000-of-00001.parquet"


def config_yaml(cfg: KVConfig) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None, width=119)


def config_files(folder: Path, name: str) -> list[Path]:
    """Every file a config owns in the folder."""
    return [folder / "configs" / f"{name}.yaml"] + [
        p for sub in ("data", "openai", "messages") for p in sorted((folder / sub / name).glob("*"))
    ]


def damaged(folder: Path, name: str) -> list[str]:
    """The config's files that are missing or changed since this command wrote them (sha256 in the marker)."""
    return damaged_files(folder, [p.relative_to(folder).as_posix() for p in config_files(folder, name)])


def is_current(folder: Path, cfg: KVConfig) -> bool:
    snapshot = folder / "configs" / f"{cfg.name}.yaml"
    return (
        snapshot.is_file()
        and snapshot.read_text() == config_yaml(cfg)
        and all(parquet_path(folder, cfg.name, split).is_file() for split in cfg.splits)
    )


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_config(folder: Path, cfg: KVConfig, counter: TokenCounter) -> None:
    splits = build_splits(cfg, counter, progress=tqdm)
    for split, rows in splits.items():
        path = parquet_path(folder, cfg.name, split)
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_list(rows, features=FEATURES).to_parquet(str(path))
        system = {"role": "system", "content": OPENAI_SYSTEM}
        write_jsonl(
            folder / "openai" / cfg.name / f"{split}.jsonl", ({"messages": [system, *r["messages"]]} for r in rows)
        )
        write_jsonl(folder / "messages" / cfg.name / f"{split}.jsonl", ({"messages": r["messages"]} for r in rows))
    (folder / "configs").mkdir(exist_ok=True)
    (folder / "configs" / f"{cfg.name}.yaml").write_text(config_yaml(cfg))


def copy_config(src: Path, dst: Path, name: str) -> None:
    for path in config_files(src, name):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)  # hard link: the old folder is deleted right after, no bytes are copied


def existing_configs(folder: Path) -> list[str]:
    return sorted(p.stem for p in (folder / "configs").glob("*.yaml")) if folder.is_dir() else []


def check_unique_names(names: list[str], configs: list[KVConfig]) -> None:
    """Two configs of one name would write the same files, and the last would silently win."""
    seen: dict[str, str] = {}
    for source, cfg in zip(names, configs, strict=True):
        if cfg.name in seen:
            raise ConfigError(
                f"two configs are named {cfg.name!r} ({seen[cfg.name]} and {source}); give each config its own "
                "`name`, or pass it once"
            )
        seen[cfg.name] = source


def build_folder(out: Path, names: list[str], force: bool = False) -> Path:
    """Build ``names`` (named configs or YAML paths) into the Hub-layout folder ``out``; returns ``out``.

    ``force`` regenerates every config asked for and allows replacing a non-empty folder this command did not write.
    """
    out = Path(out)
    configs = [load_config(name) for name in names]  # every config is validated before anything is written
    check_unique_names(names, configs)
    for cfg in configs:
        check_inputs(cfg)  # a missing source file fails before any config is generated
    check_output_folder(out, COMMAND, force)
    ours = written_by(out) == COMMAND  # only our own earlier output is reused or kept
    asked = {cfg.name for cfg in configs}
    kept = [name for name in existing_configs(out) if name not in asked] if ours else []
    for name in kept:
        if damaged(out, name):
            raise ConfigError(
                f"{out}: files of config {name} changed since they were written ({', '.join(damaged(out, name))}); "
                f"regenerate them: {COMMAND} --out {out} --configs {out / 'configs' / f'{name}.yaml'}"
            )
    counters: dict[str, TokenCounter] = {}
    with staged_folder(out, COMMAND, force, kind="dataset") as tmp:
        for cfg in configs:
            if ours and not force and is_current(out, cfg):
                broken = damaged(out, cfg.name)
                if not broken:
                    print(f"{cfg.name}: up to date, reused")
                    copy_config(out, tmp, cfg.name)
                    continue
                print(f"{cfg.name}: {', '.join(broken)} changed since written; regenerating")
            if cfg.tokenizer not in counters:
                counters[cfg.tokenizer] = load_counter(cfg.tokenizer)
            write_config(tmp, cfg, counters[cfg.tokenizer])
        for name in kept:
            copy_config(out, tmp, name)  # keep configs built earlier and not asked for now
        (tmp / "README.md").write_text(render_card(tmp))
    return out
