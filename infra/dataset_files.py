"""Read a dataset in the Hub layout, from a local folder, a data file or the Hub: one helper for every stage.

    from infra.dataset_files import config_names, read_dataset
    config_names("build/dataset")                                   # the card's configs, as the Hub lists them
    read_dataset("build/dataset", "smollm2_kv_600", split="test")   # a Dataset (a DatasetDict without split)

Config names come from ``datasets.get_dataset_config_names``, which reads the card's ``configs:`` exactly as the Hub
and ``load_dataset`` do. Rows of a local folder are read by resolving the config's files with
``datasets.load_dataset_builder`` (the same resolution) and loading them with the file-format builder. Why not
``load_dataset(folder, config)``: datasets 5.2 caches a local folder under its folder name and config, not its
content, so after a rebuild, or for another folder of the same name, it serves the old rows. The file-format builder
keys its cache by each file's path and modification time: a rebuilt file is read again, an unchanged one comes
from the cache, and no private cache folder is left to clean up.

Every failure is one :class:`DataLoadError` naming the dataset, the config and the fix.
"""

from __future__ import annotations

from pathlib import Path

from infra.cli import UserError
from infra.project import hub_offline

# Formats a single local data file may have, and the datasets builder that reads each.
FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}
REBUILD = "python -m dataset_builder build --out {folder} --configs {config} --force"


class DataLoadError(UserError):
    """A dataset, config or split that cannot be read; the message names it and the fix."""


def _unreachable(name: str, err: Exception) -> DataLoadError:
    where = " and the Hub is offline (HF_HUB_OFFLINE is set)" if hub_offline() else ""
    return DataLoadError(
        f"dataset {name} is not a local folder or file{where}, and it could not be loaded from the Hub ({err}); "
        "give a dataset folder (make dataset builds build/dataset) or a reachable Hub id"
    )


def config_names(name: str) -> list[str]:
    """The configs of a dataset folder or Hub id (a folder without a ``configs:`` card has one, ``default``)."""
    from datasets import get_dataset_config_names

    local = Path(name).expanduser()
    if local.is_file():
        return ["default"]
    try:
        return list(get_dataset_config_names(str(local) if local.is_dir() else name))
    except Exception as err:  # datasets raises many types (ConnectionError, DatasetNotFoundError, ValueError, ...)
        if local.is_dir():
            raise DataLoadError(f"dataset folder {name} cannot be read as a dataset ({err}); rebuild it") from err
        raise _unreachable(name, err) from err


def read_dataset(name: str, config: str | None = None, split: str | None = None, revision: str | None = None):
    """A config's rows (``split`` → Dataset, else DatasetDict) from a folder, a .json/.jsonl/.parquet file or a Hub id.

    A single file is the ``train`` split (or ``split``). ``revision`` pins a Hub dataset.
    """
    from datasets import load_dataset, load_dataset_builder

    local = Path(name).expanduser()
    if local.is_file():
        if local.suffix not in FILE_BUILDERS:
            raise DataLoadError(f"data file {name}: unsupported type {local.suffix!r}; use .json, .jsonl or .parquet")
        builder, data_files = FILE_BUILDERS[local.suffix], {split or "train": [str(local)]}
    elif local.is_dir():
        available = config_names(str(local))
        if config is not None and config not in available:
            raise DataLoadError(
                f"dataset folder {name} has no config {config!r} (it has {', '.join(available)}); "
                f"build it: {REBUILD.format(folder=name, config=config).removesuffix(' --force')}"
            )
        try:  # no config: the card's `default: true` one, or the only one
            resolved = load_dataset_builder(str(local), config)
        except ValueError as err:
            raise DataLoadError(f"dataset folder {name}: {err}; name a config ({', '.join(available)})") from err
        config, builder = resolved.config.name, resolved.name  # builder: the files' format, e.g. "parquet"
        data_files = {str(s): list(files) for s, files in resolved.config.data_files.items()}
    else:
        try:
            return load_dataset(name, config, split=split, revision=revision)
        except Exception as err:  # offline, unknown id, gated, bad config: each is one line for the user
            raise _unreachable(name, err) from err

    if split is not None and split not in data_files:
        raise DataLoadError(f"dataset {name}, config {config}: no split {split!r} (it has {', '.join(data_files)})")
    try:
        return load_dataset(builder, data_files=data_files, split=split)
    except Exception as err:  # e.g. pyarrow's ArrowInvalid for a damaged Parquet file
        fix = f"rebuild it: {REBUILD.format(folder=name, config=config)}" if local.is_dir() else f"replace {name}"
        raise DataLoadError(f"dataset {name}, config {config}: files cannot be read ({err}); {fix}") from err
