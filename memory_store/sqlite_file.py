"""The database file touched outside SQLite: its header read before SQLite opens it, and its pages synced ahead
of a checkpoint.

Closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's included (SQLite's
"How To Corrupt An SQLite Database File", 2.2). A WAL-mode connection holds a lock on the database file while it
is open; once it is gone, another process closing its own connection takes itself for the file's last user,
checkpoints and deletes the WAL, and this process's later commits are lost to every other reader (measured:
``test_opening_a_file_this_process_has_open_keeps_sqlites_locks``). So while SQLite has the file open in this
process, these functions use a descriptor SQLite holds (found in ``/proc/self/fd`` by device and inode) and never
open or close one of their own. Without ``/proc`` (not Linux) the header is read through a descriptor of our own,
as before, and the sync is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import NotARonnDatabaseError

SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_descriptor(path: Path, hint: int | None = None) -> int | None:
    """A descriptor this process holds open on ``path``'s file (``hint`` when it still is one), or None: none is
    open, the file does not exist, or there is no ``/proc/self/fd``. The descriptor belongs to its opener: use
    it, never close it."""
    try:
        target = os.stat(path)
    except OSError:
        return None

    def same(fd: int) -> bool:
        try:
            found = os.fstat(fd)
        except OSError:
            return False
        return found.st_ino == target.st_ino and found.st_dev == target.st_dev

    if hint is not None and same(hint):
        return hint
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    return next((int(n) for n in names if n.isdigit() and same(int(n))), None)


def check_header(path: Path) -> None:
    """Refuse a file that is not SQLite before SQLite (or a WAL switch) touches it. Reads through SQLite's own
    descriptor when this process has the file open already (a second store on one file)."""
    if path.is_dir():
        raise NotARonnDatabaseError(f"{path} is a directory, not a database file")
    fd = sqlite_descriptor(path)
    if fd is not None:
        head = os.pread(fd, len(SQLITE_HEADER), 0)
    else:  # no descriptor of it is open here: ours is the only one, and closing it drops no one's lock
        try:
            with path.open("rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            return
        except IsADirectoryError:
            raise NotARonnDatabaseError(f"{path} is a directory, not a database file") from None
    if head and head != SQLITE_HEADER:
        raise NotARonnDatabaseError(f"{path} is not an SQLite database (it starts with {head[:8]!r})")


def sync_through_sqlite(path: Path, hint: int | None = None) -> int | None:
    """``fsync`` the database file through a descriptor SQLite holds on it (:func:`sqlite_descriptor`) and return
    that descriptor, or None when none was synced. Should SQLite close it in between and its number be reused,
    another file is synced: harmless. (A first version opened, synced and closed its own descriptor: a sleep's
    worker process then saw no episodes to forget.)"""
    fd = sqlite_descriptor(path, hint)
    if fd is None:
        return None
    try:
        os.fsync(fd)  # the GIL is released meanwhile
    except OSError:
        return None
    return fd
