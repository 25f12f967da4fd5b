"""What shows where a turning head's far cheek is hidden (render.geometric.behind_fill)."""
from __future__ import annotations

import numpy as np

from reenact_cli.render.geometric import BEHIND_SHADE, behind_fill, occlusion_shade, skin_likeness

HAIR = np.array([110, 70, 40])


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


def _shaded_hair(face):
    """The hair colour as it should show behind the face: shaded towards it."""
    return HAIR * occlusion_shade(face > 0)[:, :, None]


def test_hidden_strip_takes_the_colour_around_it_not_the_face():
    out, hidden, face = _scene()
    rgb, alpha = behind_fill(out, hidden, face)
    assert np.all(alpha[hidden > 0] == 1.0)
    assert np.all(alpha[face > 0] == 0.0)  # the silhouette stays crisp
    assert np.abs(rgb - _shaded_hair(face))[hidden > 0].max() <= 2


def test_fill_darkens_towards_the_silhouette():
    """What lies just behind the face is in its shadow, which outlines the
    turned face; the shadow fades away from it and never lightens."""
    out, hidden, face = _scene()
    rgb, _ = behind_fill(out, hidden, face)
    _, xx = np.mgrid[:96, :96]
    lum = rgb.astype(float).sum(axis=2)
    strip = hidden > 0
    touching = strip & (np.roll(face, -1, axis=1) > 0)  # left neighbour of a face pixel
    far = strip & (xx <= 25)  # 11 or more pixels left of the face
    assert touching.sum() > 10 and far.sum() > 10
    assert lum[touching].mean() < 0.8 * HAIR.sum()
    assert lum[touching].mean() < lum[far].mean() - 20
    assert lum[strip].min() >= (1.0 - BEHIND_SHADE) * HAIR.sum() - 6
    assert lum[strip].max() <= HAIR.sum() + 6


def test_skin_coloured_surroundings_hardly_feed_the_fill():
    """A skin-coloured ear beside the strip is not continued into it (skin
    there reads as more cheek): the hair around is."""
    out, hidden, face = _scene()
    yy, xx = np.mgrid[:96, :96]
    ear = ((xx - 18) ** 2 / 36 + (yy - 48) ** 2 / 200 < 1) & (hidden == 0) & (face == 0)
    out[ear] = (220, 160, 140)
    rgb, _ = behind_fill(out, hidden, face)
    diff = np.abs(rgb - _shaded_hair(face))[hidden > 0]
    assert diff.mean() <= 3 and diff.max() <= 10


def test_skin_likeness_of_face_hair_and_near_skin():
    out, hidden, face = _scene()
    like = skin_likeness(out, face > 0)
    assert like.shape == face.shape and like.dtype == np.float32
    assert like[face > 0].min() > 0.9  # the face's own colour
    assert like[(face == 0) & (hidden == 0)].max() < 1e-3  # hair
    assert 0.2 < like[hidden > 0].min() < 0.9  # the strip's 10 levels lighter skin
    assert not skin_likeness(out, np.zeros_like(face, dtype=bool)).any()


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
    assert np.abs(rgb - _shaded_hair(face))[(hidden > 0) & (yy >= 70)].max() <= 2
