"""Output folders that never delete what this project did not write.

Every command that writes a folder (``--out``) follows three rules:

1. An existing non-empty folder is replaced only when a previous run of the same command wrote it, which that run
   recorded in a marker file (``.written-by.json``, with each file's sha256); any other non-empty folder is refused
   unless the user passes ``--force``, and a path that is a file is always refused. Commands check this before any
   compute, so a bad ``--out`` costs nothing.
2. New content is written into a hidden sibling ``.<name>.tmp-<host>-<pid>`` and renamed into place when complete, so
   a crash leaves the previous folder (or nothing) behind, never half of one.
3. Siblings left by a killed run (same host, process gone) are removed by the next run for the same ``--out``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.cli import UserError

MARKER = ".written-by.json"


class OutputError(UserError):
    """An output path this command must not write to; the message names the path and the fix."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_marker(folder: Path) -> dict:
    """The marker a command left in ``folder``, or {} (no marker, or not one we can read)."""
    try:
        marker = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def written_by(folder: Path) -> str | None:
    return read_marker(folder).get("command")


def file_in_the_way(path: Path) -> Path | None:
    """``path`` or its nearest existing ancestor when that is a file (a folder cannot be created there)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def check_output_folder(out: Path, command: str, force: bool = False) -> None:
    """Refuse an ``out`` that ``command`` may not replace: a file, or a non-empty folder it did not write."""
    out = Path(out)
    blocker = file_in_the_way(out)
    if blocker is not None:
        where = "is a file" if blocker == out else f"is inside {blocker}, which is a file"
        raise OutputError(f"output folder {out} {where}; give a folder path (this command writes a folder)")
    if out.is_dir() and any(out.iterdir()) and written_by(out) != command and not force:
        raise OutputError(
            f"output folder {out} is not empty and `{command}` did not write it (no {MARKER}); "
            "give a new or empty folder, or pass --force to replace its contents"
        )


def check_output_file(path: Path) -> None:
    """Refuse a file output whose path is a folder or lies under a file."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"output file {path} is a folder; give a file path")
    blocker = file_in_the_way(path.parent)
    if blocker is not None:
        raise OutputError(f"output file {path} is inside {blocker}, which is a file; give a path in a folder")


def check_results_folder(path: Path) -> None:
    """A folder other commands add files to (results, state): it only must not be a file."""
    blocker = file_in_the_way(Path(path))
    if blocker is not None:
        raise OutputError(f"folder {path} cannot be created: {blocker} is a file; give another path")


def mark(folder: Path, command: str, hash_files: bool = True) -> None:
    """Record that ``command`` wrote ``folder`` and, with ``hash_files``, every file's sha256 (so a later run can
    tell a damaged file from its own: :func:`damaged_files`). Copies of outputs (a staged release) skip the hashing."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER) if hash_files else []
    record = {"command": command, "files": {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}}
    (folder / MARKER).write_text(json.dumps(record, indent=1) + "\n")


def damaged_files(folder: Path, relpaths: list[str]) -> list[str]:
    """Those of ``relpaths`` that are missing or differ from what the marker recorded when they were written."""
    recorded = read_marker(folder).get("files", {})
    return [
        rel
        for rel in relpaths
        if not (Path(folder) / rel).is_file() or recorded.get(rel) != sha256_file(Path(folder) / rel)
    ]


def _sibling(out: Path, kind: str) -> Path:
    return out.parent / f".{out.name}.{kind}-{socket.gethostname()}-{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_siblings(out: Path) -> list[Path]:
    """Delete ``.<name>.tmp-/old-<host>-<pid>`` folders whose process (on this host) is gone; returns them."""
    out = Path(out)
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(?:tmp|old)-(?:(?P<host>.+)-)?(?P<pid>\d+)$")
    removed = []
    for path in sorted(out.parent.glob(f".{out.name}.*")) if out.parent.is_dir() else []:
        match = pattern.match(path.name)
        # no host: the names an earlier version of this module gave (".<name>.tmp-<pid>"), always on this host
        if match and match["host"] in (None, socket.gethostname()) and not _pid_alive(int(match["pid"])):
            _remove(path)
            print(f"removed {path}, left by a killed run")
            removed.append(path)
    return removed


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def replace_folder(new: Path, out: Path) -> None:
    """Put the finished folder ``new`` at ``out``; the previous ``out`` (already checked replaceable) goes."""
    old = _sibling(out, "old")
    if out.exists() or out.is_symlink():
        out.rename(old)
    new.rename(out)
    _remove(old)


@contextmanager
def staged_folder(out: Path, command: str, force: bool = False, hash_files: bool = True) -> Iterator[Path]:
    """Yield an empty hidden sibling of ``out`` to write into; when the block ends normally, mark it as written by
    ``command`` and swap it into place. On any error it is deleted and ``out`` is untouched."""
    out = Path(out)
    check_output_folder(out, command, force)
    remove_stale_siblings(out)
    tmp = _sibling(out, "tmp")
    _remove(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        mark(tmp, command, hash_files)
        replace_folder(tmp, out)
    except BaseException:
        _remove(tmp)
        raise
