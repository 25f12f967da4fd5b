"""Per-op tests of the .obj export and the debugging pictures."""
from __future__ import annotations

import numpy as np
import pytest

from reenact_cli.face.obj import obj_text, write_obj
from reenact_cli.face.topology import face_topology
from reenact_cli.media.visualize import contact_sheet, draw_wireframe, flow_to_rgb, label, mask_to_rgb


@pytest.fixture(scope="module")
def vertices():
    """The shipped model's mean face posed into a 128-px crop."""
    from reenact_cli.face.model import load_face_model
    from reenact_cli.face.pose import Pose

    return Pose(30.0, np.eye(3), np.array([64.0, 64.0, 0.0])).apply(load_face_model().mean)


# ------------------------------------------------------------------ obj
def test_obj_text_counts_and_indices(vertices):
    text = obj_text(vertices, comment="hello")
    lines = text.splitlines()
    assert lines[0] == "# hello"
    v = [l for l in lines if l.startswith("v ")]
    f = [l for l in lines if l.startswith("f ")]
    assert len(v) == 468 and len(f) == 852
    idx = np.array([[int(t) for t in l.split()[1:]] for l in f])
    assert idx.shape == (852, 3)
    assert idx.min() == 1 and idx.max() == 468  # 1-based, all vertices referenced
    np.testing.assert_array_equal(idx - 1, face_topology().triangles)
    xyz = np.array([[float(t) for t in l.split()[1:]] for l in v])
    np.testing.assert_allclose(xyz, vertices, atol=1e-4)
    assert text.endswith("\n")


def test_obj_text_without_comment(vertices):
    lines = obj_text(vertices).splitlines()
    assert sum(l.startswith("#") for l in lines) == 1


def test_write_obj(tmp_path, vertices):
    path = write_obj(tmp_path / "face.obj", vertices, comment="c")
    assert path.read_text() == obj_text(vertices, comment="c")


# ------------------------------------------------------------- flow_to_rgb
def test_flow_to_rgb_zero_is_white():
    rgb = flow_to_rgb(np.zeros((20, 30, 2), np.float32))
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, 255)


def test_flow_to_rgb_nonzero_is_coloured():
    d = np.zeros((20, 30, 2), np.float32)
    d[5:10, 5:10] = (3.0, 0.0)
    d[12:18, 20:25] = (0.0, -3.0)
    rgb = flow_to_rgb(d)
    assert rgb[7, 7].min() < 128  # a saturated colour, not white
    np.testing.assert_array_equal(rgb[0, 0], 255)  # still pixels stay white
    assert not np.array_equal(rgb[7, 7], rgb[15, 22])  # direction shows as hue


def test_flow_to_rgb_opposite_directions_differ_and_brightness_is_length():
    d = np.zeros((1, 4, 2), np.float32)
    d[0, 0] = (1.0, 0.0)
    d[0, 1] = (-1.0, 0.0)
    d[0, 2] = (0.25, 0.0)
    rgb = flow_to_rgb(d, max_norm=1.0).astype(int)
    assert np.abs(rgb[0, 0] - rgb[0, 1]).max() > 100
    # shorter vector: paler (closer to white)
    assert rgb[0, 2].min() > rgb[0, 0].min()


# ------------------------------------------------------------- mask / label
def test_mask_to_rgb():
    m = np.array([[0.0, 0.5, 1.0, 2.0]])
    rgb = mask_to_rgb(m)
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 128, 255, 255])
    np.testing.assert_array_equal(mask_to_rgb(np.array([[True, False]]))[0, :, 1], [255, 0])


def test_label_adds_caption_strip():
    img = np.zeros((64, 64, 3), np.uint8)
    out = label(img, "abc")
    assert out.shape == (86, 64, 3)
    np.testing.assert_array_equal(out[:64], img)
    strip = out[64:]
    assert strip.max() == 255 and strip.min() < 100  # white with dark text


# ------------------------------------------------------------- contact sheet
def test_contact_sheet_size_with_labels():
    rng = np.random.default_rng(0)
    tiles = [[rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)] for _ in range(2)]
    labels = [["a", "b", "c"], ["d", "e", "f"]]
    sheet = contact_sheet(tiles, labels)
    gap, strip = 4, 22
    assert sheet.shape == (2 * (64 + strip) + gap, 3 * 64 + 2 * gap, 3)
    assert sheet.dtype == np.uint8
    # tiles sit at their grid positions
    np.testing.assert_array_equal(sheet[:64, :64], tiles[0][0])
    np.testing.assert_array_equal(sheet[64 + strip + gap : 64 + strip + gap + 64, 2 * (64 + gap) :], tiles[1][2])
    # gaps are white
    np.testing.assert_array_equal(sheet[:, 64 : 64 + gap], 255)


def test_contact_sheet_size_without_labels():
    tiles = [[np.zeros((64, 64, 3), np.uint8)] * 3] * 2
    assert contact_sheet(tiles).shape == (2 * 64 + 4, 3 * 64 + 8, 3)
    assert contact_sheet(tiles, gap=0).shape == (128, 192, 3)


# ------------------------------------------------------------- wireframe
def test_draw_wireframe_changes_pixels(vertices):
    img = np.zeros((128, 128, 3), np.uint8)
    out = draw_wireframe(img, vertices)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert img.max() == 0, "input must not be modified"
    changed = (out != img).any(axis=2)
    assert changed.sum() > 500
    # only around the mesh: nothing drawn outside its bounding box (+1 px anti-aliasing)
    x0, y0 = np.floor(vertices[:, :2].min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(vertices[:, :2].max(axis=0)).astype(int) + 1
    outside = changed.copy()
    outside[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1] = False
    assert not outside.any()
    # drawn in the requested colour (green dominates)
    px = out[changed].astype(int)
    assert px[:, 1].mean() > px[:, 0].mean()


def test_draw_wireframe_pixel_convention():
    # even vertices at pixel centre (x, y) = (10.5, 20.5), odd ones at (30.5, 20.5):
    # every odd-even edge is the segment along row 20 from column 10 to 30
    v = np.tile(np.float32([10.5, 20.5, 0.0]), (468, 1))
    v[:, 0] = np.where(np.arange(468) % 2 == 0, 10.5, 30.5)
    out = draw_wireframe(np.zeros((40, 40, 3), np.uint8), v, colour=(255, 255, 255))
    rows = np.nonzero(out[..., 0].max(axis=1))[0]
    assert 20 in rows
    assert out[20, 10:31, 0].min() > 0  # the row holding the centres is fully drawn
    assert out[17].max() == 0 and out[23].max() == 0
    # centred on row 20: rows 19 and 21 equally bright, row 20 brightest
    np.testing.assert_array_equal(out[19, 12:28, 0], out[21, 12:28, 0])
    assert out[20, 12:28, 0].min() >= out[19, 12:28, 0].max()
