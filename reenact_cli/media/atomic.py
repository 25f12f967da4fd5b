"""Safe output: never overwrite unless asked, never leave a half-written file.

Every writer in the package goes through :func:`atomic_output`: the data is
written to a hidden temporary file beside the target, then moved onto it in
one step, so an interrupted run leaves the old file (or nothing) in place.
Without ``overwrite`` the move is a hard link, which fails rather than replace
a file that appeared while we worked. Every OS-level failure becomes a one-line
:class:`~reenact_cli.errors.OutputError` naming the target.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError

_EXISTS = "already exists (pass --overwrite to replace it)"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Validate an output path before any work is done; changes nothing on disk.

    Missing folders are fine (:func:`atomic_output` creates them) as long as the
    nearest existing one is a writable folder.

    Raises:
        OutputError: if the file exists and ``overwrite`` is false, if the path is a
            directory, or if its folder cannot be created or written.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise OutputError("is a directory, expected a file name", p)
        if p.exists() and not overwrite:
            raise OutputError(_EXISTS, p)
        base = next((a for a in (p.parent, *p.parent.parents) if a.exists()), Path("."))
        base_is_dir = base.is_dir()
    except OSError as exc:
        raise OutputError(f"cannot check it ({_reason(exc)})", p) from None
    if not base_is_dir:
        raise OutputError(f"cannot write here: {base} is a file, not a folder", p)
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"folder {base} is not writable", p)
    return p


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _file_mode(target: Path) -> int:
    """Permission bits for an output: the replaced file's, else 0o666 less the umask
    (``mkstemp`` creates 0o600, which would hide outputs from other users)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(target.stat().st_mode)
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_output(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success move it to ``path``.

    The temporary file keeps ``path``'s suffix so format-sniffing writers work.
    An ``OSError`` while writing it (disk full, ...) becomes an :class:`OutputError`.
    """
    target = check_output(path, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create its folder {target.parent} ({_reason(exc)})", target) from None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot create a file in {target.parent} ({_reason(exc)})", target) from None
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
        except OSError as exc:
            raise OutputError(f"cannot write ({_reason(exc)})", target) from None
        try:
            os.chmod(tmp, _file_mode(target))
            _move(tmp, target, overwrite)
        except OSError as exc:
            raise OutputError(f"cannot write ({_reason(exc)})", target) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _move(tmp: Path, target: Path, overwrite: bool) -> None:
    """Put ``tmp`` at ``target``; without ``overwrite`` never replace a file."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic, and fails if target exists
    except FileExistsError:
        raise OutputError(_EXISTS, target) from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise OutputError(_EXISTS, target) from None
        os.replace(tmp, target)
