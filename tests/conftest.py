"""Shared fixtures.

Real data lives in ``../shared/faces`` beside the repository (CI has it; a
fresh clone does not): tests that need it use the ``faces_dir`` fixture and
skip with a reason when it is absent. The public-domain Grace Hopper portrait
that ships inside matplotlib keeps the core path tested everywhere.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("REENACT_FACES", REPO.parent / "shared" / "faces"))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """``../shared/faces`` (or $REENACT_FACES); skips when absent."""
    if not (FACES / "index.csv").is_file():
        pytest.skip(f"real test data not found at {FACES} (set REENACT_FACES or clone beside shared/)")
    return FACES


@pytest.fixture(scope="session")
def hopper_path() -> Path:
    """The public-domain portrait inside matplotlib."""
    from reenact_cli.tasks.demo import demo_portrait

    return demo_portrait()


@pytest.fixture(scope="session")
def hopper(hopper_path) -> np.ndarray:
    from reenact_cli.media.image_io import read_image

    return read_image(hopper_path)


@pytest.fixture(scope="session")
def reenactor():
    """One shared geometric Reenactor (MediaPipe graphs are slow to build)."""
    from reenact_cli.pipeline import Reenactor

    return Reenactor()


@pytest.fixture(scope="session")
def hopper_source(reenactor, hopper):
    return reenactor.source(hopper, "grace_hopper.jpg")
