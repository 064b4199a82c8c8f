"""One command-line style for every entry point: transformers' ``HfArgumentParser`` over the command's config
dataclass (each field's ``help`` metadata is its ``--help`` text), and one line ``error: <problem>; <fix>`` with exit
code 2 for anything the user has to fix, never a traceback; after Ctrl-C, one line saying what was kept, exit 130.
Each command's ``main`` is wrapped by :func:`entry_point`, which does both.

Config dataclasses validate in ``__post_init__`` and raise a :class:`UserError` naming the field and the fix, so a bad
value is reported by the same line as a bad file. Every error class of this project that a user fixes derives from
:class:`UserError` (a ``ValueError``); an ``OSError`` (missing file, full disk, refused connection) is reported the
same way. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd program


class UserError(ValueError):
    """A problem the user fixes (a bad input, path or setting); the message names it and the fix."""


class Interrupted(UserError):
    """The user pressed Ctrl-C; the message says what was left and how to finish."""


# What a command's main() turns into one line; everything else is a bug and keeps its traceback.
USER_ERRORS = (UserError, OSError)

# The fix for an operating-system error a user can act on, by errno; the OS message alone names no fix.
OS_ERROR_FIXES = {
    errno.ENOSPC: "free disk space (df -h) or write to another disk, then rerun",
    errno.EDQUOT: "free space in your quota, then rerun",
    errno.EACCES: "choose a path you can write to, or fix its permissions",
    errno.EPERM: "choose a path you can write to, or fix its permissions",
    errno.EROFS: "the disk is read-only: choose a path on a writable disk",
    errno.EISDIR: "a folder is where a file was expected: give the file's path",
    errno.ENOTDIR: "a file is where a folder was expected: give a folder path",
    errno.ENOENT: "check the path",
}


def one_line(err: BaseException) -> str:
    """The error's message on one line (library messages often span several); an OS error gets its fix."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, OSError) and not isinstance(err, UserError) and err.errno in OS_ERROR_FIXES:
        text = f"{text}; {OS_ERROR_FIXES[err.errno]}"
    return text


def fail(err: BaseException, code: int = EXIT_USER_ERROR) -> int:
    """Print ``error: <message>`` to stderr and return the exit code for user errors."""
    print(f"error: {one_line(err)}", file=sys.stderr)
    return code


def entry_point(interrupted: str, errors: tuple[type[BaseException], ...] = USER_ERRORS) -> Callable:
    """Make ``main(argv) -> int | None`` a command's entry point: its exit code (``None`` is 0); a user error as one
    line, exit 2; Ctrl-C as one line saying what the interruption left and how to finish, exit 130.

    ``interrupted`` is that sentence, e.g. "the newest checkpoint is kept: rerun the same command to resume". Every
    command states it because each leaves something different behind (a staged folder is never half-written; a
    training folder keeps its checkpoints). Anything outside ``errors`` is a bug and keeps its traceback.
    """

    def wrap(main: Callable[[list[str] | None], int | None]) -> Callable[[list[str] | None], int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                code = main(argv)
            except KeyboardInterrupt:
                return fail(Interrupted(f"interrupted; {interrupted}"), EXIT_INTERRUPTED)
            except Interrupted as err:  # raised by the command itself, already worded
                return fail(err, EXIT_INTERRUPTED)
            except errors as err:
                return fail(err)
            return 0 if code is None else code

        return run

    return wrap


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


def strict_yaml_loader():
    """PyYAML's safe loader, except that a key written twice in one mapping is an error: YAML keeps the last one
    silently, so a recipe with two ``learning_rate:`` lines would train with whichever came second."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is written twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def read_yaml_mapping(path: Path, holds: str, error: type[UserError] = UserError) -> dict[str, Any]:
    """The non-empty mapping a YAML config file holds; ``error`` names the file and the fix otherwise.

    ``holds`` says what its keys are (e.g. "KVConfig field"), for the message. An empty file is refused: it would
    otherwise stand for "all defaults" (a full default config under a made-up name), never what its author meant. A
    key written twice and a YAML tag (``!!python/...``, which safe loading never executes) are refused by name.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text ({err}); save the file as UTF-8") from err
    return parse_yaml_mapping(text, str(path), holds, error)


def parse_yaml_mapping(text: str, source: str, holds: str, error: type[UserError] = UserError) -> dict[str, Any]:
    """:func:`read_yaml_mapping` for YAML text that is not a file of its own (a model card's metadata header);
    ``source`` names where it came from in the message."""
    import yaml

    try:
        values = yaml.load(text, Loader=strict_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as err:
        where = f" (line {err.problem_mark.line + 1})" if err.problem_mark else ""
        if "written twice" in str(err.problem):
            raise error(f"{source}: {err.problem}{where}; keep one line per {holds}") from err
        raise error(
            f"{source}: {err.problem}{where}; write plain YAML values (tags such as !!python/... are not allowed)"
        ) from err
    except yaml.YAMLError as err:
        raise error(f"{source}: not valid YAML ({' '.join(str(err).split())}); fix the file") from err
    if values is None:
        raise error(f"{source}: the file is empty; write one `field: value` line per {holds}")
    if not isinstance(values, dict):
        raise error(
            f"{source}: holds a YAML {type(values).__name__}, not a mapping; write one `field: value` line per {holds}"
        )
    return values
