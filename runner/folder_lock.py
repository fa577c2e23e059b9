"""One process per run folder: an OS advisory lock (flock) on `<folder>/.lock`, held for the run's life.

A second command started on a folder that a live process holds (a SLURM requeue while the old job still runs, a
command typed twice) is refused with one line naming the holder's pid and host, and writes nothing there. The
kernel drops a flock when its holder exits, however it exits, so a crashed or killed run never blocks its resume.

Once the lock is held, no other process writes into the folder, so every temporary file of an atomic write
(`.<name>.<pid>.tmp`, runner/files.py) found there was left by a killed write and is removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import socket
from pathlib import Path

from runner.errors import ConfigError

LOCK_NAME = ".lock"
# runner/files.py's atomic_file names its temporary files `.<name>.<pid>.tmp`.
STALE_TMP = re.compile(r"^\..+\.\d+\.tmp$")
# Folders this process holds: absolute path -> (the lock file's descriptor, what acquire() made: folder, file).
_held: dict[Path, tuple[int, bool, bool]] = {}


class FolderBusy(ConfigError):
    """Another live process holds the run folder."""


def _key(folder: Path | str) -> Path:
    return Path(os.path.abspath(folder))


def holds(folder: Path | str) -> bool:
    """Whether this process holds `folder`'s lock."""
    return _key(folder) in _held


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if text:
            return text
    return "another process"


def acquire(folder: Path | str, where: str) -> None:
    """Hold `folder`'s lock until release() or the end of the process; make the folder if it is missing.

    `where` begins the refusal line (`hydra.run.dir='runs/a'`). A folder this process already holds is fine.
    """
    folder = _key(folder)
    if folder in _held:
        return
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    made_file = not path.exists()
    while True:
        # No O_TRUNC: a refused process must not wipe the holder's name from the file.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _holder(fd)
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise FolderBusy(
                f"{where}: in use by {holder} (one process per run folder); wait for it to end or choose another folder"
            ) from None
        # A holder that discarded the folder may have unlinked the file between our open and our lock: the lock
        # then guards a file nobody else can find, so take the one now at the path instead.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()}\n".encode(), 0)
    _held[folder] = (fd, created, made_file)
    remove_stale_temporaries(folder)


def remove_stale_temporaries(folder: Path) -> list[str]:
    """Delete the temporary files killed writes left in `folder` (call with its lock held); returns their names."""
    removed = []
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and STALE_TMP.match(entry.name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def release(folder: Path | str, discard: bool = False) -> None:
    """Let go of `folder`'s lock. `discard`, for a command refused before it wrote anything, also removes what
    acquire() made: the lock file, and the folder when it is empty."""
    folder = _key(folder)
    fd, made_folder, made_file = _held.pop(folder, (None, False, False))
    if fd is None:
        return
    if discard:
        if made_file or made_folder:
            (folder / LOCK_NAME).unlink(missing_ok=True)
        if made_folder:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if nothing else is in it
    os.close(fd)


def held() -> list[Path]:
    """The folders this process holds."""
    return list(_held)


def release_all() -> None:
    """Every lock this process holds (the command is over; in-process callers such as tests run several)."""
    for folder in list(_held):
        release(folder)
