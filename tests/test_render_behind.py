"""What shows where a turning head's far cheek is hidden (render.geometric.behind_fill)."""
from __future__ import annotations

import numpy as np

import cv2

from reenact_cli.render.geometric import (
    BEHIND_DETAIL_GAIN,
    BEHIND_DETAIL_LIMIT,
    BEHIND_SHADE,
    FACE_SEAM,
    behind_fill,
    face_rim_over,
    beyond_rim,
    far_rim,
    occlusion_shade,
    reflected_detail,
    skin_likeness,
)

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


def _textured_scene(seed=0):
    """The scene with hair that has grain (strands, +-8 levels) instead of a
    flat colour, and a wide hidden strip."""
    out, hidden, face = _scene()
    rng = np.random.default_rng(seed)
    grain = rng.normal(0.0, 8.0, (96, 96))
    hair = (hidden == 0) & (face == 0)
    out[hair] = np.clip(HAIR[None, :] + grain[hair][:, None], 0, 255).astype(np.uint8)
    return out, hidden, face


def _high_pass_std(rgb, mask):
    lum = rgb.astype(np.float32).mean(axis=2)
    high = lum - cv2.GaussianBlur(lum, (0, 0), 2.0)
    return float(high[mask].std())


def test_wide_strip_keeps_the_grain_of_what_surrounds_it():
    """A push-pull fill alone is smooth: a wide strip of it reads as a flat
    smear beside the turned face. The fill carries the hair's fine texture."""
    out, hidden, face = _textured_scene()
    rgb, alpha = behind_fill(out, hidden, face)
    yy, xx = np.mgrid[:96, :96]
    strip = (hidden > 0) & (cv2.erode(hidden, np.ones((3, 3), np.uint8)) > 0)
    hair = (hidden == 0) & (face == 0) & (alpha == 0)
    assert strip.sum() > 100
    assert _high_pass_std(rgb, strip) > 0.2 * _high_pass_std(out, hair)
    # ... while its colour still comes from the hair, not the face or the strip.
    assert np.abs(rgb.astype(float).mean(axis=2) - _shaded_hair(face).mean(axis=2))[strip].mean() <= 6


def test_reflected_detail_is_bounded_and_zero_where_known():
    out, hidden, face = _textured_scene(1)
    known = (hidden == 0) & (face == 0)
    out[face > 0] = (250, 250, 250)  # a strong edge next to the known pixels is not texture
    detail = reflected_detail(out.astype(np.float32), known)
    assert detail.shape == out.shape and detail.dtype == np.float32
    assert not detail[known].any()
    assert np.abs(detail).max() <= BEHIND_DETAIL_GAIN * BEHIND_DETAIL_LIMIT + 1e-3
    assert np.abs(detail[hidden > 0]).mean() > 1.0
    flat = np.full_like(out, 120, dtype=np.float32)
    flat[face > 0] = 250.0
    assert np.abs(reflected_detail(flat, known)).max() < 1e-3


def test_face_edge_fades_into_the_fill_behind_it():
    """Where a fill lies behind the driving face, the face's outermost pixels
    let it show through (a soft silhouette, not a cut-out sticker), fading to
    nothing a few pixels in; elsewhere the face stays untouched."""
    out, hidden, face = _scene()
    _, alpha = behind_fill(out, hidden, face)
    inside = cv2.distanceTransform(np.pad(face, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    before = alpha.copy()
    face_rim_over(alpha, inside, face)
    assert np.array_equal(alpha[face == 0], before[face == 0])
    touching = (face > 0) & (np.roll(hidden, 1, axis=1) > 0) & (inside <= 1.0)  # right neighbour of the strip
    assert touching.sum() > 10
    assert 0.5 < alpha[touching].min() and alpha[touching].max() < 1.0
    assert not alpha[(face > 0) & (inside >= FACE_SEAM)].any()
    _, xx = np.mgrid[:96, :96]
    assert not alpha[(face > 0) & (xx > 72)].any()  # far from the fill
    nothing = np.zeros_like(alpha)
    face_rim_over(nothing, inside, face)
    assert not nothing.any()


def _rim_scene():
    """A source: a skin face oval (hull) inside a wider skin silhouette (the
    cheek's rim beyond the mesh outline), a dark cap above, green around."""
    yy, xx = np.mgrid[:128, :128]
    hull = (((xx - 64) / 30.0) ** 2 + ((yy - 68) / 40.0) ** 2 < 1).astype(np.uint8)
    person = (((xx - 64) / 34.0) ** 2 + ((yy - 66) / 46.0) ** 2 < 1).astype(np.float32)
    image = np.empty((128, 128, 3), np.uint8)
    image[:] = (40, 120, 40)
    image[person > 0] = (200, 150, 120)
    image[(person > 0) & (yy < 40)] = (30, 30, 30)  # cap
    image[hull > 0] = (205, 152, 125)
    return image, person, hull, yy, xx


def test_far_rim_is_the_cheek_beside_the_oval_on_the_turned_away_side():
    """The skin between the mesh's outline and the silhouette, on the side the
    nose points to, between eye level and the jaw: what the off-face flow
    would otherwise draw again, stretched, as a ghost of the old silhouette."""
    image, person, hull, yy, xx = _rim_scene()
    rim = far_rim(image, person, hull, _rim_vertices(80.0))
    assert rim.dtype == np.float32 and rim.shape == hull.shape
    core = rim > 0.5
    assert core.sum() > 50
    assert xx[core].min() > 64  # the far side only
    assert not core[hull > 0].any() and not core[person == 0].any()
    assert yy[core].min() >= 60 and yy[core].max() < 108 - 0.2 * 80  # eye level to above the jaw
    # Turned the other way, the rim is on the other side.
    rim_left = far_rim(image, person, hull, _rim_vertices(48.0)) > 0.5
    assert rim_left.any() and xx[rim_left].max() < 64
    # Not skin (a green background hugging the oval): no rim.
    image[(hull == 0)] = (40, 120, 40)
    assert not (far_rim(image, person, hull, _rim_vertices(80.0)) > 0.5).any()


def test_beyond_rim_shows_what_lies_past_the_silhouette():
    """The rim reads the background (or hair) beyond it, reflected: its
    stripes come back mirrored, none of the rim's skin is left, and nothing
    else changes."""
    image, person, hull, yy, xx = _rim_scene()
    rim = far_rim(image, person, hull, _rim_vertices(80.0))
    stripes = (xx // 2) % 2 == 0
    image[(person == 0) & stripes] = (20, 90, 20)
    out = beyond_rim(image, rim, hull)
    core = rim > 0.5
    assert np.array_equal(out[rim == 0], image[rim == 0])
    skin = np.array([200, 150, 120])
    assert np.abs(out[core].astype(int) - skin).sum(axis=1).min() > 100  # no skin left
    g = out[core][:, 1].astype(int)
    assert g.min() <= 100 and g.max() >= 110  # both background stripes, not a flat fill


def _rim_vertices(nose_x):
    """Mesh stand-in: forehead top (10), chin (152), eye corners (33, 263) and
    nose tip (1), the rest at the oval's centre."""
    v = np.tile(np.array([64.0, 68.0, 0.0]), (468, 1))
    v[10, 1], v[152, 1] = 28.0, 108.0
    v[33, 1] = v[263, 1] = 60.0
    v[1, 0] = nose_x
    return v


def test_far_rim_is_replaced_only_where_the_flow_stretches_it():
    """A still or slightly moving head keeps its cheek's own edge; where the
    flow smears that rim out (a head turned away from it) what lies beyond it
    shows instead."""
    from reenact_cli.render.geometric import SourceLayers, _replace_far_rim, sampling_maps

    image, person, hull, yy, xx = _rim_scene()
    rim = far_rim(image, person, hull, _rim_vertices(80.0))
    layers = SourceLayers(
        image, person, person, image, np.zeros(3, np.float32), np.zeros_like(person), rim, beyond_rim(image, rim, hull)
    )
    centres = np.dstack([xx, yy]).astype(np.float32) + 0.5
    face = np.zeros_like(hull)  # the driving face lies elsewhere: all is off it
    still = image.copy()
    _replace_far_rim(still, layers, sampling_maps(centres), centres, face, 1.0)
    assert np.array_equal(still, image)
    # Stretch 3x about the rim's column: each output pixel reads a third as far.
    cx = float(xx[rim > 0.5].mean())
    stretched_xy = centres.copy()
    stretched_xy[:, :, 0] = cx + (centres[:, :, 0] - cx) / 3.0
    plain = cv2.remap(image, stretched_xy[:, :, 0] - 0.5, stretched_xy[:, :, 1] - 0.5, cv2.INTER_LINEAR)
    warped = plain.copy()
    _replace_far_rim(warped, layers, sampling_maps(stretched_xy), stretched_xy, face, 1.0)
    changed = np.abs(warped.astype(int) - plain.astype(int)).sum(axis=2) > 30
    assert changed.sum() > 3 * (rim > 0.5).sum()  # the smeared rim, three times as wide
    skin = np.array([200, 150, 120])
    assert np.abs(warped[changed].astype(int) - skin).sum(axis=1).mean() > 100
