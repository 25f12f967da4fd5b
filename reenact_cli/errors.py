"""User-facing errors: one line, naming the file and what is wrong."""
from __future__ import annotations

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
