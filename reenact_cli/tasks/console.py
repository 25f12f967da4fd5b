"""Shared console, progress bars and output naming for the command-line tasks."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

#: Messages go to stderr so stdout stays clean for data (JSON, tables).
console = Console(stderr=True, highlight=False)
#: Data a command exists to print (tables, descriptions) goes to stdout.
data_console = Console(highlight=False)


def progress() -> Progress:
    """A progress bar with counts, elapsed time and ETA (hidden when not a TTY)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def free_name(path: Path) -> Path:
    """``path`` itself if it does not exist, else ``stem-1.ext``, ``stem-2.ext`` ...
    Used only for *default* output names; an explicit ``-o`` is never renamed."""
    if not path.exists():
        return path
    i = 1
    while True:
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
        i += 1
