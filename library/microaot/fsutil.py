"""Per-user private folders and symlink-safe lock files (issue 20).

A folder under a world-writable /tmp with a predictable name (``microaot-eval/<model>-<board>``) can
be created in advance by another user, who then controls what gets built and run there; a lock file
opened with ``open("w")`` follows a planted symlink and truncates its target. So:

- ``private_temp_dir(part)``: ``$TMPDIR/microaot-<uid>/<part>``, every level created with mode 0700,
  and refused (MicroaotError saying what to do) when it is a symlink, not a folder, owned by another
  user, or open to group/others.
- ``FileLock(path)``: an exclusive ``flock`` on a lock file opened with ``O_CREAT | O_NOFOLLOW``
  (never truncated, never through a link), checked to be a regular file of this user.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from microaot.errors import MicroaotError

PRIVATE_MODE = 0o700


def _uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1


def check_private_dir(path: Path, *, what: str) -> None:
    """Refuse a folder another user could write to: a symlink, not a folder, another owner, or
    group/other permissions."""
    try:
        st = os.lstat(path)
    except OSError as e:
        raise MicroaotError(f"{what} {path}: cannot inspect it ({e.strerror or e})") from None
    fix = ("remove it (if it is not yours, ask its owner or an administrator), or point TMPDIR (or "
           "--work-dir) to a folder of your own")
    if stat.S_ISLNK(st.st_mode):
        raise MicroaotError(f"{what} {path} is a symbolic link, which another user may have planted; {fix}")
    if not stat.S_ISDIR(st.st_mode):
        raise MicroaotError(f"{what} {path} exists and is not a folder; {fix}")
    if _uid() >= 0 and st.st_uid != _uid():
        raise MicroaotError(f"{what} {path} belongs to user id {st.st_uid}, not to you (user id {_uid()}): "
                            f"another user could put code there that microaot would build and run; {fix}")
    if st.st_mode & 0o077:
        raise MicroaotError(f"{what} {path} has mode {stat.S_IMODE(st.st_mode):04o}: other users can reach it; "
                            f"run `chmod 700 {path}`, or {fix}")


def private_dir(path: Path, *, what: str = "private folder") -> Path:
    """path created with mode 0700 (or checked, when it exists) as a private folder of this user."""
    path = Path(path)
    try:
        os.mkdir(path, PRIVATE_MODE)
    except FileExistsError:
        pass
    except OSError as e:
        raise MicroaotError(f"{what} {path}: cannot create it ({e.strerror or e})") from None
    if sys.platform != "win32":
        check_private_dir(path, what=what)
    return path


def private_temp_dir(*parts: str) -> Path:
    """``$TMPDIR/microaot-<uid>/<parts...>``: every level a private folder (mode 0700, owner checked)."""
    uid = _uid()
    d = private_dir(Path(tempfile.gettempdir()) / f"microaot-{uid if uid >= 0 else os.getlogin()}",
                    what="microaot's temporary folder")
    for part in parts:
        d = private_dir(d / part, what="microaot's temporary folder")
    return d


def open_lock_file(path: Path) -> int:
    """A file descriptor on the lock file path, created if missing; never follows a symlink and never
    truncates; refused when it is not a regular file of this user."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        if os.path.islink(path):
            raise MicroaotError(f"lock file {path} is a symbolic link (planted by another user?); remove it, "
                                "or use a folder of your own (TMPDIR, --work-dir)") from None
        raise MicroaotError(f"lock file {path}: cannot open it ({e.strerror or e})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (_uid() >= 0 and st.st_uid != _uid()):
        os.close(fd)
        raise MicroaotError(f"lock file {path} is not a regular file of yours; remove it, or use a folder of your "
                            "own (TMPDIR, --work-dir)")
    return fd


class FileLock:
    """An exclusive lock on ``path`` (flock; released when closed or when the process dies).

    ``acquire(wait=False)`` raises BlockingIOError when another process holds it; with ``wait`` it
    blocks, calling ``on_wait`` once first (to tell the user why nothing happens)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, *, wait: bool = True, on_wait: object = None) -> FileLock:
        import fcntl

        fd = open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                raise
            if callable(on_wait):
                on_wait()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.2)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def close(self) -> None:
        self.release()

    def __enter__(self) -> FileLock:
        if self._fd is None:
            self.acquire()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
