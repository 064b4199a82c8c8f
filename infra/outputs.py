"""Output folders that never delete what this project did not write.

Every command that writes a folder (``--out``) follows three rules:

1. An existing non-empty folder is replaced only when a previous run of the same command wrote it, which that run
   recorded in a marker file (``.written-by.json``, with each file's sha256); any other non-empty folder is refused
   unless the user passes ``--force``, and a path that is a file is always refused. Commands check this before any
   compute, so a bad ``--out`` costs nothing.
2. New content is written into a hidden sibling ``.<name>.tmp-<host>-<pid>`` and renamed into place when complete, so
   a crash leaves the previous folder (or nothing) behind, never half of one.
3. Siblings left by a killed run (same host, process gone) are removed by the next run for the same ``--out``.

And three more that keep a user's files theirs:

4. A folder this command wrote that now holds files its marker does not list (a user's notes dropped in) is refused
   too, not silently replaced without them: the user moves them out or passes ``--force``.
5. One writer at a time: a run holds an exclusive lock on ``out`` (``flock`` on a hidden sibling ``.<name>.lock``,
   released by the kernel if the process dies), so a second concurrent run is refused instead of racing the first.
6. Folders a command fills in place over time (a training ``output_dir``, an evaluation results folder) are claimed
   with :func:`claim_folder`: the marker is written first, with the run's identity, so a rerun of another model or
   recipe into the same folder is refused instead of mixing two runs.

Reports (a paper table, a seed spread, a benchmark's JSON) write a few named files into a folder that other commands
fill too (``results/`` beside ``table.md``), so no folder marker can be theirs. Their JSON records its writer
(``"generated_by"``) instead, and :func:`check_report_files` replaces a report's files only when that JSON is the same
command's: a user's ``table.md`` or ``notes.json`` at the path is refused, never overwritten (:func:`write_report`).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
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


def unreadable_marker(folder: Path) -> str | None:
    """Why ``folder``'s marker exists but cannot be read (so it is not "missing"), or None."""
    path = Path(folder) / MARKER
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return None if isinstance(marker, dict) and isinstance(marker.get("command"), str) else "not a marker record"


def written_by(folder: Path) -> str | None:
    return read_marker(folder).get("command")


def file_in_the_way(path: Path) -> Path | None:
    """``path`` or its nearest existing ancestor when that is a file (a folder cannot be created there)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def files_under(folder: Path) -> list[Path]:
    """Every file (or symlink) under ``folder`` but the marker, sorted; symlinks are listed, never followed."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if (p.is_file() or p.is_symlink()) and p != folder / MARKER)


def foreign_files(folder: Path) -> list[str]:
    """Files in a folder its marker's command wrote that the marker does not list: somebody else put them there."""
    recorded = read_marker(folder).get("files")
    if not isinstance(recorded, dict):
        return []
    return [rel for p in files_under(folder) if (rel := p.relative_to(folder).as_posix()) not in recorded]


def check_not_a_file(out: Path) -> None:
    blocker = file_in_the_way(Path(out))
    if blocker is not None:
        where = "is a file" if blocker == Path(out) else f"is inside {blocker}, which is a file"
        raise OutputError(f"output folder {out} {where}; give a folder path (this command writes a folder)")


def check_writable(out: Path) -> None:
    """Refuse an ``out`` that cannot be written (read-only disk, no permission) now, not after the compute.

    Probes the folder itself, or the nearest existing ancestor it would be created in, with a real temporary file:
    permission bits alone do not tell a read-only mount or root's view.
    """
    place = next(p for p in (Path(out), *Path(out).parents) if p.exists())
    try:
        handle, probe = tempfile.mkstemp(prefix=".write-probe-", dir=place)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(
            f"cannot write {out}: {place} is not writable ({os.strerror(err.errno or errno.EACCES)}); "
            "choose a folder you can write to, or fix its permissions"
        ) from err


def check_output_folder(out: Path, command: str, force: bool = False) -> None:
    """Refuse an ``out`` that ``command`` may not replace: a file, an unwritable place, a non-empty folder it did not
    write, or one it wrote that now also holds files it did not write."""
    out = Path(out)
    check_not_a_file(out)
    check_writable(out.parent)  # the new folder is written beside ``out`` and renamed into place
    if force or not out.is_dir() or not any(out.iterdir()):
        return
    broken = unreadable_marker(out)
    if broken:
        raise OutputError(
            f"output folder {out} has a {MARKER} that cannot be read ({broken}); restore or delete that file, "
            "or pass --force to replace the folder's contents"
        )
    if written_by(out) != command:
        raise OutputError(
            f"output folder {out} is not empty and `{command}` did not write it (no {MARKER} of its own); "
            "give a new or empty folder, or pass --force to replace its contents"
        )
    foreign = foreign_files(out)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(
            f"output folder {out} holds files `{command}` did not write ({shown}); move them out of the folder "
            "(a rebuild replaces it), or pass --force to replace them"
        )


def check_output_file(path: Path, command: str) -> None:
    """Refuse a one-file JSON report's path that is a folder, lies under a file, cannot be written, or holds a file
    ``command`` did not write (:func:`check_report_files`)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"output file {path} is a folder; give a file path")
    blocker = file_in_the_way(path.parent)
    if blocker is not None:
        raise OutputError(f"output file {path} is inside {blocker}, which is a file; give a path in a folder")
    check_report_files(path.parent, command, (path.name,))


def check_results_folder(path: Path) -> None:
    """A folder other commands add files to (a release's state, a table's folder): it only must not be a file."""
    check_not_a_file(path)


def mark(
    folder: Path,
    command: str,
    *,
    files: list[Path] | None = None,
    kind: str | None = None,
    identity: dict | None = None,
    hash_files: bool = True,
) -> None:
    """Record that ``command`` wrote ``folder``: which files (default: all; a push uploads exactly these), each with
    its sha256 when ``hash_files`` (so a later run tells a damaged file from its own: :func:`damaged_files`; copies
    of outputs, a staged release, skip it), the Hub repo ``kind`` it is ("dataset" / "model"), and the run's
    ``identity`` (what :func:`claim_folder` compares)."""
    folder = Path(folder)
    listed = files_under(folder) if files is None else sorted(Path(p) for p in files)
    record: dict = {"command": command}
    if kind is not None:
        record["kind"] = kind
    if identity is not None:
        record["identity"] = identity
    record["files"] = {
        p.relative_to(folder).as_posix(): (sha256_file(p) if hash_files and p.is_file() else None) for p in listed
    }
    write_marker(folder, record)


def write_file_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Have ``write`` fill a hidden temporary file beside ``path``, then rename it over ``path``: never half a file.
    The temporary name ends in ``path``'s own name, so a writer that picks the format by extension (matplotlib's
    ``savefig``) sees the right one."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{path.name}", dir=path.parent)
    os.close(handle)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`write_file_atomically`."""
    write_file_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def generated_by(path: Path) -> str | None:
    """The command a report's JSON names as its writer, or None (no file, not JSON, not a report's)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record.get("generated_by") if isinstance(record, dict) else None


def check_report_files(folder: Path, command: str, names: Sequence[str]) -> None:
    """Refuse to write report files ``names`` into ``folder`` when any exists and the report's JSON (``names[0]``)
    does not name ``command`` as its writer: that file is somebody else's. Checked before any compute."""
    folder = Path(folder)
    check_not_a_file(folder)
    if generated_by(folder / names[0]) == command:
        return
    taken = [name for name in names if (folder / name).exists() or (folder / name).is_symlink()]
    if taken:
        shown = ", ".join(str(folder / name) for name in taken)
        raise OutputError(
            f"{shown}: not written by `{command}` (there is no {names[0]} of its beside them), so not replaced; "
            "move the file(s) away or give another output path"
        )
    check_writable(folder)


def write_report(
    folder: Path, command: str, names: Sequence[str], record: dict, writers: dict[str, Callable[[Path], None]]
) -> None:
    """Write a report: its JSON ``names[0]`` (``record``, naming ``command`` as ``generated_by``) first, so a crash
    after it leaves files a rerun may replace; then each other name through its writer; each file atomically."""
    folder = Path(folder)
    check_report_files(folder, command, names)
    if sorted(writers) != sorted(names[1:]):
        raise ValueError(f"report {names}: writers given for {sorted(writers)}")  # a bug in the caller, not the user
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(folder / names[0], json.dumps({"generated_by": command, **record}, indent=2) + "\n")
    for name in names[1:]:
        write_file_atomically(folder / name, writers[name])


def write_marker(folder: Path, record: dict) -> None:
    write_atomically(Path(folder) / MARKER, json.dumps(record, indent=1) + "\n")


def safe_name(name: str, what: str) -> str:
    """``name`` if it can be a file name inside an output folder; a name from a config, a task file or a results
    file could otherwise hold ``../`` and make a command write outside its folder."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or ".." in name:
        raise OutputError(
            f"{what} {name!r} cannot name a file: use letters, digits, '_', '-' and '.', starting with a letter or "
            "digit (no '/', no '..')"
        )
    return name


@contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold the one-writer lock of ``out`` for the block; refuse if another live process holds it.

    ``flock`` on a hidden sibling ``.<name>.lock``: the kernel drops it when the holder exits, killed or not, so a
    stale lock never blocks a rerun; the file is removed when the block ends.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f".{out.name}.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held open for the whole block
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise OutputError(
            f"{out} is being written by another run ({holder}); wait for it to finish, or give another folder"
        ) from err
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()


def check_claim(out: Path, command: str, *, force: bool = False, identity: dict | None = None) -> bool:
    """What :func:`claim_folder` checks, writing nothing (so a config's validation can call it); True when ``out``
    is already claimed by an earlier run of this same job (same ``identity``): the run resumes or adds to it."""
    out = Path(out)
    check_not_a_file(out)
    check_writable(out)
    if force:
        return False
    if out.is_dir() and written_by(out) == command:
        recorded = read_marker(out).get("identity")
        if identity is not None and recorded is not None and recorded != identity:
            changed = sorted(k for k in set(recorded) | set(identity) if recorded.get(k) != identity.get(k))
            raise OutputError(
                f"{out} holds a run of another model or recipe (differs in {', '.join(changed)}); give a new "
                "folder for this run, or pass --force to replace the earlier one"
            )
        return True
    check_output_folder(out, command)  # a non-empty folder of anyone else's: raises with the reason
    return False


def claim_folder(
    out: Path, command: str, *, force: bool = False, kind: str | None = None, identity: dict | None = None
) -> None:
    """Make ``out`` a folder ``command`` fills in place (training checkpoints, results files added task by task).

    Refused, before any compute: a file, an unwritable place, a non-empty folder with no marker of ``command``'s,
    or one whose recorded ``identity`` (the model and recipe of the run) differs from this run's. ``force`` takes the
    folder anyway and first removes what it held. A folder not yet claimed gets its marker now, with no files listed:
    the command lists what it wrote (:func:`mark`, :func:`record_files`) as it writes.
    """
    out = Path(out)
    if check_claim(out, command, force=force, identity=identity):
        return
    if out.is_dir():  # empty, or ``force``: what it held goes
        for child in out.iterdir():
            _remove(child)
    out.mkdir(parents=True, exist_ok=True)
    record = {"command": command, **({"kind": kind} if kind else {}), "identity": identity, "files": {}}
    write_marker(out, record)


def record_files(folder: Path, relpaths: list[str]) -> None:
    """Add ``relpaths`` (just written by the folder's own command) with their sha256 to its marker."""
    folder = Path(folder)
    marker = read_marker(folder)
    files = marker.get("files") if isinstance(marker.get("files"), dict) else {}
    files.update({rel: sha256_file(folder / rel) for rel in relpaths})
    write_marker(folder, {**marker, "files": files})


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
def staged_folder(
    out: Path, command: str, force: bool = False, hash_files: bool = True, kind: str | None = None
) -> Iterator[Path]:
    """Yield an empty hidden sibling of ``out`` to write into; when the block ends normally, mark it as written by
    ``command`` (a Hub repo of ``kind``, if it is one) and swap it into place. On any error it is deleted and ``out``
    is untouched. The block holds ``out``'s lock, so a concurrent run is refused, not raced."""
    out = Path(out)
    with folder_lock(out):
        check_output_folder(out, command, force)
        remove_stale_siblings(out)
        tmp = _sibling(out, "tmp")
        _remove(tmp)
        tmp.mkdir(parents=True)
        try:
            yield tmp
            mark(tmp, command, kind=kind, hash_files=hash_files)
            replace_folder(tmp, out)
        except BaseException:
            _remove(tmp)
            raise
