"""User-facing errors: one line, naming the file and what is wrong; and
:func:`native_stderr`, which keeps native libraries' own output off that line."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path


class ReenactError(Exception):
    """An error caused by the user's input or environment.

    The CLI prints ``error: <message>`` on one line and exits with :attr:`exit_code`;
    no traceback. Library callers can catch it like any exception.
    """

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


class InputError(ReenactError):
    """A file that is missing, unreadable, not an image, or unusable."""


class NoFaceError(ReenactError):
    """No face was found where one was needed."""

    exit_code = 3


class OutputError(ReenactError):
    """An output that cannot be written or would overwrite an existing file."""

    exit_code = 4


# ---------------------------------------------------------------- native stderr
#
# C and C++ libraries (MediaPipe's absl log, TFLite, libjpeg, libpng) write
# straight to file descriptor 2, past Python's sys.stderr, and would break the
# one-line contract above. :func:`native_stderr` catches what they write.

_STDERR_LOCK = threading.RLock()


@contextlib.contextmanager
def native_stderr(handle: Callable[[bytes], bytes]) -> Iterator[None]:
    """Capture everything written to file descriptor 2 while the block runs.

    On exit ``handle`` gets the captured bytes and returns what to pass on to
    the previous stderr (``b""`` drops it all). Blocks are serialised process
    wide and may nest within one thread. Without a usable fd 2 or temporary
    space the block runs uncaptured and ``handle`` is not called.
    """
    with _STDERR_LOCK:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        try:
            tmp = tempfile.TemporaryFile()
        except OSError:
            yield
            return
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all
            tmp.close()
            yield
            return
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            try:
                tmp.seek(0)
                rest = memoryview(handle(tmp.read()))
                while rest:
                    rest = rest[os.write(2, rest) :]
            except OSError:
                pass
            finally:
                tmp.close()
