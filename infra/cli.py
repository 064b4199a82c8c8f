"""One command-line style for every entry point: transformers' ``HfArgumentParser`` over the command's config
dataclass (each field's ``help`` metadata is its ``--help`` text), and one line ``error: <problem>; <fix>`` with exit
code 2 for anything the user has to fix, never a traceback.

Config dataclasses validate in ``__post_init__`` and raise a :class:`UserError` naming the field and the fix, so a bad
value is reported by the same line as a bad file. Every error class of this project that a user fixes derives from
:class:`UserError` (a ``ValueError``); an ``OSError`` (missing file, full disk, refused connection) is reported the
same way. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_USER_ERROR = 2


class UserError(ValueError):
    """A problem the user fixes (a bad input, path or setting); the message names it and the fix."""


# What a command's main() turns into one line; everything else is a bug and keeps its traceback.
USER_ERRORS = (UserError, OSError)


def one_line(err: BaseException) -> str:
    """The error's message on one line (library messages often span several)."""
    return " ".join(str(err).split()) or type(err).__name__


def fail(err: BaseException) -> int:
    """Print ``error: <message>`` to stderr and return the exit code for user errors."""
    print(f"error: {one_line(err)}", file=sys.stderr)
    return EXIT_USER_ERROR


def parse_configs(config_types: tuple[type, ...], argv: Sequence[str] | None, prog: str, description: str) -> tuple:
    """``--field value`` flags (underscores or dashes) into one instance per config type, built with validation.

    Unknown flags are argparse's usual usage error (exit 2); a value ``__post_init__`` rejects raises its UserError,
    which the caller's main() prints as one line.
    """
    from transformers import HfArgumentParser

    parser = HfArgumentParser(config_types, prog=prog, description=description)
    namespace = vars(parser.parse_args(list(sys.argv[1:] if argv is None else argv)))
    return tuple(
        config_type(**{f.name: namespace[f.name] for f in dataclasses.fields(config_type) if f.init})
        for config_type in config_types
    )


def parse_config(config_type: type, argv: Sequence[str] | None, prog: str, description: str) -> Any:
    """:func:`parse_configs` for a command with one config dataclass."""
    return parse_configs((config_type,), argv, prog, description)[0]


def read_yaml_mapping(path: Path, holds: str, error: type[UserError] = UserError) -> dict[str, Any]:
    """The mapping a YAML config file holds (empty file → {}); ``error`` names the file and the fix otherwise.

    ``holds`` says what its keys are (e.g. "KVConfig field"), for the message. Every config reader of the project
    uses this one, so a non-UTF-8 file or a YAML list fails the same way everywhere.
    """
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise error(f"{path}: not valid UTF-8 YAML ({err}); fix the file") from err
    if not isinstance(values, dict):
        raise error(
            f"{path}: holds a YAML {type(values).__name__}, not a mapping; write one `field: value` line per {holds}"
        )
    return values
