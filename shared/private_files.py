"""Lotse's files at rest are its own user's only: the data dir 0700, every file in it 0600 from
the moment it exists (a file written, then chmod'ed, is readable by anyone in between)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

# set where Lotse's processes start: whatever else they create is the owner's only too
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """The directory, created 0700 if missing (an existing one is left as its owner set it)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def create_private(path: Path, content: str) -> bool:
    """Write a new file readable by its owner only; False if it exists already. Written to a
    temporary name first and linked into place: a process racing for the same file reads
    either nothing or all of it, never a half-written secret."""
    private_dir(path.parent)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        os.link(draft, path)
    except FileExistsError:
        return False
    finally:
        draft.unlink(missing_ok=True)
    return True


def touch_private(path: Path) -> None:
    """An empty file 0600 unless it exists: SQLite gives a database's -wal and -shm files the
    database file's mode, so creating it first keeps all three private."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
