"""Per-op tests of reenact_cli.flow.raster (pixel-centre convention of conventions.py)."""
from __future__ import annotations

import numpy as np
import pytest

from reenact_cli.conventions import pixel_centres
from reenact_cli.flow.raster import linear_maps, rasterize, signed_areas

TRI = np.array([[0, 1, 2]])
# Chosen so that no pixel centre lies within 0.13 px of an edge (OpenCV snaps
# vertices to 1/16 px).
KNOWN = np.array([[6.5, 3.25, 0.0], [10.75, 3.25, 0.0], [11.0, 10.0, 0.0]], dtype=np.float32)
#: (row, col) of the pixels whose centres (col + 0.5, row + 0.5) lie inside KNOWN.
KNOWN_PIXELS = {
    (3, 7), (3, 8), (3, 9), (3, 10),
    (4, 7), (4, 8), (4, 9), (4, 10),
    (5, 8), (5, 9), (5, 10),
    (6, 9), (6, 10),
    (7, 9), (7, 10),
    (8, 10),
}


def outside_distance(points, a, b, c):
    """Signed distance of ``points (..., 2)`` to triangle abc: > 0 outside (max over
    edge half-planes), < 0 inside."""
    orient = np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
    assert orient != 0
    out = []
    for p, q in ((a, b), (b, c), (c, a)):
        e = q - p
        n = -orient * np.array([-e[1], e[0]]) / np.linalg.norm(e)
        out.append((points - p) @ n)
    return np.max(out, axis=0)


def centres_inside(vertices, size):
    w, h = size
    d = outside_distance(pixel_centres(w, h).astype(np.float64), *vertices[:, :2].astype(np.float64))
    return d < 0, d


def test_known_triangle_inside_centres():
    # the helper agrees with the hand-derived pixel set
    inside, d = centres_inside(KNOWN, (12, 12))
    assert np.abs(d).min() > 0.13
    assert {tuple(p) for p in np.argwhere(inside).tolist()} == KNOWN_PIXELS


def test_single_triangle_covers_expected_pixels():
    raster = rasterize(KNOWN, TRI, (12, 12))
    covered = {tuple(p) for p in np.argwhere(raster.mask).tolist()}
    assert KNOWN_PIXELS <= covered
    # nothing far away: every covered pixel touches the triangle
    inside, d = centres_inside(KNOWN, (12, 12))
    assert d[raster.mask].max() <= np.sqrt(0.5) + 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_single_triangle_pixel_set_bounds(seed):
    """What the current fill guarantees: every pixel whose centre is inside is
    covered, and no covered centre is further than half a pixel diagonal outside.
    A half-pixel offset in the convention would break both."""
    rng = np.random.default_rng(seed)
    v = np.c_[rng.uniform(3, 37, (3, 2)), np.zeros(3)].astype(np.float32)
    raster = rasterize(v, TRI, (40, 40))
    inside, d = centres_inside(v, (40, 40))
    assert np.all(raster.mask[inside])
    assert d[raster.mask].max() <= np.sqrt(0.5) + 1e-6


def test_large_triangle_coverage_centred():
    # Coverage centroid = triangle centroid (a half-pixel shift of the convention
    # would move it by ~0.5 px).
    v = np.array([[10.0, 12.0, 0.0], [110.0, 20.0, 0.0], [40.0, 100.0, 0.0]], dtype=np.float32)
    raster = rasterize(v, TRI, (128, 128))
    centroid = np.array([raster.cols.mean() + 0.5, raster.rows.mean() + 0.5])
    np.testing.assert_allclose(centroid, v[:, :2].mean(axis=0), atol=0.15)
    area = abs(signed_areas(v[:, :2], TRI)[0])
    assert abs(raster.mask.sum() - area) / area < 0.05


def test_raster_fields_consistent():
    raster = rasterize(KNOWN, TRI, (12, 16))
    assert raster.triangle.shape == (16, 12)  # size is (width, height)
    assert raster.triangle.dtype == np.int32
    rows, cols = np.nonzero(raster.mask)
    np.testing.assert_array_equal(np.sort(rows * 100 + cols), np.sort(raster.rows * 100 + raster.cols))
    np.testing.assert_array_equal(raster.triangle[raster.rows, raster.cols], raster.ids)
    assert raster.bary.shape == (len(raster.rows), 3) and raster.bary.dtype == np.float32
    np.testing.assert_allclose(raster.bary.sum(axis=1), 1.0, atol=1e-6)
    assert set(np.unique(raster.triangle).tolist()) == {-1, 0}


def test_barycentrics_reproduce_pixel_centres_large_triangle():
    v = np.array([[5.3, 4.1, 2.0], [60.2, 9.9, 7.0], [20.7, 58.6, -3.0]], dtype=np.float32)
    raster = rasterize(v, TRI, (64, 64))
    inside, _ = centres_inside(v, (64, 64))
    strict = inside[raster.rows, raster.cols]
    # inside pixels: barycentrics are convex weights
    assert raster.bary[strict].min() >= -1e-6 and raster.bary[strict].max() <= 1 + 1e-6
    xy = raster.interpolate(v[:, :2], TRI)
    centres = np.stack([raster.cols + 0.5, raster.rows + 0.5], axis=1)
    np.testing.assert_allclose(xy, centres, atol=1e-4)
    # depth is interpolated affinely too: z = plane through the three vertices
    z = raster.interpolate(v[:, 2:], TRI)[:, 0]
    a = np.c_[v[:, :2], np.ones(3)]
    plane = np.linalg.solve(a, v[:, 2])
    np.testing.assert_allclose(z, np.c_[centres, np.ones(len(centres))] @ plane, atol=1e-3)


def test_interpolate_vertex_values():
    raster = rasterize(KNOWN, TRI, (12, 12))
    vals = np.eye(3, dtype=np.float32)
    np.testing.assert_allclose(raster.interpolate(vals, TRI), raster.bary, atol=1e-6)


def _posed_model_mesh():
    from reenact_cli.face.model import load_face_model
    from reenact_cli.face.pose import Pose, euler_to_rotation
    from reenact_cli.face.topology import face_topology

    topo = face_topology()
    tris = np.concatenate([topo.triangles, topo.eye_fill, topo.mouth_fill])
    pose = Pose(46.0, euler_to_rotation(0.0, 0.0, 0.0), np.array([128.0, 128.0, 0.0]))
    return pose.apply(load_face_model().mean), tris


def test_barycentrics_reproduce_pixel_centres_face_mesh():
    v, tris = _posed_model_mesh()
    raster = rasterize(v, tris, (256, 256))
    xy = raster.interpolate(v[:, :2], tris)
    centres = np.stack([raster.cols + 0.5, raster.rows + 0.5], axis=1)
    np.testing.assert_allclose(xy, centres, atol=0.05)


def test_barycentrics_reproduce_pixel_centres_coarse_mesh():
    # A jittered grid of 8-px cells: every owner triangle is close enough that
    # the reproduction is exact.
    rng = np.random.default_rng(0)
    n, cell = 6, 8.0
    g = np.stack(np.meshgrid(np.arange(n + 1), np.arange(n + 1)), -1).reshape(-1, 2) * cell + 4.3
    g = g + rng.uniform(-1.5, 1.5, g.shape)
    v = np.c_[g, rng.uniform(0, 1, len(g))].astype(np.float32)
    tris = []
    for i in range(n):
        for j in range(n):
            a = i * (n + 1) + j
            tris += [(a, a + 1, a + n + 2), (a, a + n + 2, a + n + 1)]
    tris = np.array(tris)
    raster = rasterize(v, tris, (64, 64))
    xy = raster.interpolate(v[:, :2], tris)
    centres = np.stack([raster.cols + 0.5, raster.rows + 0.5], axis=1)
    np.testing.assert_allclose(xy, centres, atol=1e-3)


def test_evaluate_reproduces_pixel_centres_face_mesh():
    # The per-triangle affine maps extrapolate exactly, so positions come back
    # even where the conservative fill hands a pixel to a triangle not containing it.
    v, tris = _posed_model_mesh()
    raster = rasterize(v, tris, (256, 256))
    corners = v[:, :2][tris]
    xy = raster.evaluate(linear_maps(corners, corners))
    centres = np.stack([raster.cols + 0.5, raster.rows + 0.5], axis=1)
    np.testing.assert_allclose(xy, centres, atol=2e-3)


def test_linear_maps_match_interpolate_inside():
    rng = np.random.default_rng(7)
    v = np.array([[5.3, 4.1, 2.0], [60.2, 9.9, 7.0], [20.7, 58.6, -3.0]], dtype=np.float32)
    raster = rasterize(v, TRI, (64, 64))
    vals = rng.normal(size=(3, 4)).astype(np.float32)
    maps = linear_maps(v[:, :2][TRI], vals[TRI])
    assert maps.shape == (1, 3, 4) and maps.dtype == np.float32
    np.testing.assert_allclose(raster.evaluate(maps), raster.interpolate(vals, TRI), atol=1e-4)
    # the map reproduces the corner values at the corners
    for k in range(3):
        x, y = v[k, :2]
        np.testing.assert_allclose(x * maps[0, 0] + y * maps[0, 1] + maps[0, 2], vals[k], atol=1e-4)


def test_linear_maps_degenerate_triangle_gives_mean():
    corners = np.array([[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]], dtype=np.float32)  # collinear
    vals = np.array([[[1.0], [2.0], [6.0]]], dtype=np.float32)
    maps = linear_maps(corners, vals)
    np.testing.assert_allclose(maps[0, :2], 0.0)
    np.testing.assert_allclose(maps[0, 2], [3.0])


# ------------------------------------------------------------ depth order
def _overlap_pair(z_first, z_second):
    v = np.array(
        [
            [2, 2, z_first], [30, 2, z_first], [2, 30, z_first],
            [8, 8, z_second], [36, 10, z_second], [10, 36, z_second],
        ],
        dtype=np.float32,
    )
    return v, np.array([[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("z_first,z_second,winner", [(1.0, 5.0, 0), (5.0, 1.0, 1), (-3.0, -2.0, 0), (10.0, -10.0, 1)])
def test_nearer_triangle_wins(z_first, z_second, winner):
    v, tris = _overlap_pair(z_first, z_second)
    raster = rasterize(v, tris, (40, 40))
    assert raster.triangle[14, 14] == winner  # centre (14.5, 14.5) is well inside both
    # every pixel covered by both gets the nearer one
    only = [rasterize(v, tris[[k]], (40, 40)).mask for k in (0, 1)]
    both = only[0] & only[1]
    assert both.sum() > 50
    assert np.all(raster.triangle[both] == winner)
    # outside the overlap each keeps its own pixels
    np.testing.assert_array_equal(raster.triangle[only[0] & ~only[1]], 0)
    np.testing.assert_array_equal(raster.triangle[only[1] & ~only[0]], 1)


def test_depth_order_independent_of_list_order():
    v, tris = _overlap_pair(1.0, 5.0)
    a = rasterize(v, tris, (40, 40)).triangle
    b = rasterize(v, tris[::-1], (40, 40)).triangle
    # same pixels, ids swapped
    np.testing.assert_array_equal(a == 0, b == 1)
    np.testing.assert_array_equal(a == 1, b == 0)


# --------------------------------------------------------------- draw mask
def test_draw_mask_respected():
    v, tris = _overlap_pair(1.0, 5.0)
    only_far = rasterize(v, tris, (40, 40), draw=np.array([False, True]))
    assert set(np.unique(only_far.triangle).tolist()) == {-1, 1}
    np.testing.assert_array_equal(only_far.mask, rasterize(v, tris[[1]], (40, 40)).mask)
    none = rasterize(v, tris, (40, 40), draw=np.array([False, False]))
    assert not none.mask.any()
    assert len(none.rows) == 0 and none.bary.shape == (0, 3)
    both = rasterize(v, tris, (40, 40), draw=np.array([True, True]))
    np.testing.assert_array_equal(both.triangle, rasterize(v, tris, (40, 40)).triangle)


def test_offscreen_triangle_is_clipped():
    v = np.array([[-20, -20, 0], [30, -10, 0], [-10, 25, 0]], dtype=np.float32)
    raster = rasterize(v, TRI, (16, 16))
    assert raster.mask[0, 0] and raster.mask.sum() > 0
    assert raster.rows.max() < 16 and raster.cols.max() < 16


# ----------------------------------------------------------- signed areas
def test_signed_area_value_and_sign():
    xy = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]])
    # right then down on screen (y down) = clockwise: positive
    assert signed_areas(xy, np.array([[0, 1, 2]]))[0] == pytest.approx(6.0)
    assert signed_areas(xy, np.array([[0, 2, 1]]))[0] == pytest.approx(-6.0)
    # cyclic permutations keep the sign
    np.testing.assert_allclose(signed_areas(xy, np.array([[1, 2, 0], [2, 0, 1]])), 6.0)


def test_signed_area_flips_with_orientation():
    rng = np.random.default_rng(3)
    xy = rng.uniform(-50, 50, (30, 2))
    tris = np.array([rng.choice(30, 3, replace=False) for _ in range(40)])
    a = signed_areas(xy, tris)
    np.testing.assert_allclose(signed_areas(xy, tris[:, [0, 2, 1]]), -a)
    np.testing.assert_allclose(signed_areas(xy + [13.0, -7.0], tris), a, atol=1e-9)
    # mirroring x flips every sign
    np.testing.assert_allclose(signed_areas(xy * [-1, 1], tris), -a)
    # magnitude = half the cross product norm
    p, q, r = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    u, v = q - p, r - p  # 2-D cross product by hand: numpy 2 rejects np.cross on 2-vectors
    np.testing.assert_allclose(np.abs(a), 0.5 * np.abs(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]))
