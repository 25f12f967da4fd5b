"""What shows where a turning head's far cheek is hidden (render.geometric.behind_fill)."""
from __future__ import annotations

import numpy as np

from reenact_cli.render.geometric import behind_fill


def _scene():
    """A 96x96 crop: the driving face is the disc on the right, a strip of
    re-drawn source cheek (pink) left of it is hidden, hair (brown) all round."""
    yy, xx = np.mgrid[:96, :96]
    face = ((xx - 60) ** 2 + (yy - 48) ** 2 < 24**2).astype(np.uint8)
    strip = ((xx - 48) ** 2 + (yy - 48) ** 2 < 26**2) & (face == 0)
    out = np.empty((96, 96, 3), np.uint8)
    out[:] = (110, 70, 40)
    out[strip] = (230, 170, 150)
    out[face > 0] = (220, 160, 140)
    return out, strip.astype(np.float32), face


def test_hidden_strip_takes_the_colour_around_it_not_the_face():
    out, hidden, face = _scene()
    rgb, alpha = behind_fill(out, hidden, face)
    assert np.all(alpha[hidden > 0] == 1.0)
    assert np.all(alpha[face > 0] == 0.0)  # the silhouette stays crisp
    hair = np.array([110, 70, 40])
    assert np.abs(rgb[hidden > 0].astype(int) - hair).max() <= 2


def test_outer_edge_is_a_ramp_not_a_cut():
    out, hidden, face = _scene()
    _, alpha = behind_fill(out, hidden, face)
    ring = (alpha > 0) & (alpha < 1)
    assert ring.sum() > 100
    # Off the face, neighbouring weights never jump by more than about a third.
    off = face == 0
    for d in (np.diff(alpha, axis=0)[off[1:] & off[:-1]], np.diff(alpha, axis=1)[off[:, 1:] & off[:, :-1]]):
        assert np.abs(d).max() < 0.4


def test_nothing_hidden_changes_nothing():
    out, hidden, face = _scene()
    rgb, alpha = behind_fill(out, np.zeros_like(hidden), face)
    assert not alpha.any() and not rgb.any()


def test_fill_comes_from_the_person_not_the_background_below():
    out, hidden, face = _scene()
    yy, _ = np.mgrid[:96, :96]
    person = (yy < 70).astype(np.float32)  # below row 70 is background (green)
    out[(yy >= 70) & (face == 0) & (hidden == 0)] = (40, 120, 40)
    rgb, _ = behind_fill(out, hidden, face, person)
    hair = np.array([110, 70, 40])
    assert np.abs(rgb[(hidden > 0) & (yy >= 70)].astype(int) - hair).max() <= 2
