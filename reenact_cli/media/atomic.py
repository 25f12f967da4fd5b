"""Safe output: never overwrite unless asked, never leave a half-written file.

Every writer in the package goes through :func:`atomic_output`: the data is
written to a hidden temporary file beside the target, then renamed over it in
one step, so an interrupted run leaves the old file (or nothing) in place.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Validate an output path before any work is done.

    Raises:
        OutputError: if the file exists and ``overwrite`` is false, if the path is a
            directory, or if its directory cannot be created or written.
    """
    p = Path(path)
    if p.is_dir():
        raise OutputError("is a directory, expected a file name", p)
    if p.exists() and not overwrite:
        raise OutputError("already exists (pass --overwrite to replace it)", p)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create directory ({exc.strerror or exc})", parent) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError("directory is not writable", parent)
    return p


@contextlib.contextmanager
def atomic_output(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it to ``path``.

    The temporary file keeps ``path``'s suffix so format-sniffing writers work.
    """
    target = check_output(path, overwrite)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if target.exists() and not overwrite:  # appeared while we worked
            raise OutputError("already exists (pass --overwrite to replace it)", target)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
