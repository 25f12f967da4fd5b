"""The fast paths of the per-frame work give exactly what the plain numpy /
OpenCV expression they replace gives."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reenact_cli.flow.raster import rasterize, scatter_rows, take_rows
from reenact_cli.render.geometric import (
    HIDDEN_FROM,
    HIDDEN_RAMP,
    hidden_face,
    inside_distance,
    sampling_maps,
)
from reenact_cli.flow.extend import smoothstep


@pytest.mark.parametrize("channels,dtype", [(1, np.float32), (2, np.float32), (3, np.float32), (5, np.float32), (2, np.int16), (3, np.uint8)])
def test_row_copies_match_fancy_indexing(channels, dtype):
    rng = np.random.default_rng(channels)
    table = (rng.random((500, channels)) * 100).astype(dtype)
    index = rng.choice(500, 200, replace=False)
    np.testing.assert_array_equal(take_rows(table, index), table[index])
    rows = (rng.random((200, channels)) * 100).astype(dtype)
    expected, got = table.copy(), table.copy()
    expected[index] = rows
    scatter_rows(got, index, rows)
    np.testing.assert_array_equal(got, expected)


def test_evaluate_gives_the_plain_affine_formula():
    rng = np.random.default_rng(0)
    verts = np.concatenate([rng.uniform(10, 110, (40, 2)), rng.uniform(0, 5, (40, 1))], axis=1).astype(np.float32)
    tris = np.array([rng.choice(40, 3, replace=False) for _ in range(60)])
    raster = rasterize(verts, tris, (128, 128))
    maps = rng.normal(size=(len(tris), 3, 4)).astype(np.float32)
    m = maps[raster.ids]
    x = (raster.cols.astype(np.float32) + 0.5)[:, None]
    y = (raster.rows.astype(np.float32) + 0.5)[:, None]
    np.testing.assert_array_equal(raster.evaluate(maps), x * m[:, 0] + y * m[:, 1] + m[:, 2])
    np.testing.assert_array_equal(raster.evaluate_planes(maps), raster.evaluate(maps).T)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inside_distance_matches_the_whole_array_transform(seed):
    rng = np.random.default_rng(seed)
    mask = np.zeros((90, 120), np.uint8)
    cv2.ellipse(mask, (int(rng.integers(30, 90)), int(rng.integers(25, 65))), (int(rng.integers(10, 40)), int(rng.integers(10, 30))), 0, 0, 360, 1, -1)
    mask[rng.random(mask.shape) < 0.02] ^= 1  # speckle: holes and islands
    expected = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    np.testing.assert_array_equal(inside_distance(mask), expected)
    assert not inside_distance(np.zeros((5, 5), np.uint8)).any()


@pytest.mark.parametrize("seed", [0, 1])
def test_hidden_face_matches_a_full_remap(seed):
    """hidden_face samples only where the face depth can be read; everywhere
    else the full remap would give 0."""
    rng = np.random.default_rng(seed)
    hull = np.zeros((128, 128), np.uint8)
    cv2.ellipse(hull, (64, 60), (30, 40), 0, 0, 360, 1, -1)
    depth = cv2.distanceTransform(hull, cv2.DIST_L2, 3)
    face = np.zeros((128, 128), np.uint8)
    cv2.ellipse(face, (70, 60), (26, 40), 0, 0, 360, 1, -1)
    # A smooth warp, with some reads leaving the crop.
    yy, xx = np.mgrid[0:128, 0:128].astype(np.float32) + 0.5
    source_xy = np.stack([xx + 12 * np.sin(yy / 20 + seed), yy + rng.normal(0, 3, yy.shape)], axis=-1).astype(np.float32)
    source_xy[:6] -= 20
    maps = sampling_maps(source_xy)
    full = cv2.remap(depth, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    expected = smoothstep((full - HIDDEN_FROM) / HIDDEN_RAMP) * (1.0 - face.astype(np.float32))
    got = hidden_face(depth, maps, face)
    assert (got > 0).sum() > 50  # the case is not empty
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(hidden_face(depth, source_xy, face), expected)


@pytest.mark.parametrize("size,n", [(256, 64), (200, 50), (250, 63)])
def test_block_means_average_the_given_pixels(size, n):
    """Coarse averages for the off-face extension: where the blocks tile the
    image exactly they are OpenCV's area resize of the scattered values
    divided by the coverage; otherwise every pixel still counts once."""
    from reenact_cli.flow.geometric import _block_means

    rng = np.random.default_rng(size)
    given = np.zeros((size, size), bool)
    cv2.circle(given.view(np.uint8), (size // 2, size // 2), size // 3, 1, -1)
    rows, cols = np.nonzero(given)
    values = rng.normal(size=(len(rows), 3)).astype(np.float32)
    cover, means = _block_means(rows, cols, values.T, size, n)
    assert cover.shape == (n, n) and means.shape == (n, n, 3)
    assert cover.min() == 0.0 and cover.max() == 1.0
    if size % n == 0:
        stack = np.zeros((size, size, 3), np.float32)
        stack[rows, cols] = values
        area = cv2.resize(given.astype(np.float32), (n, n), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(cover, area, atol=1e-6)
        expected = cv2.resize(stack, (n, n), interpolation=cv2.INTER_AREA) / np.maximum(area, 1e-6)[:, :, None]
        np.testing.assert_allclose(means, expected, atol=1e-5)
    # Every given value is counted once: the cover-weighted means sum to the total.
    from reenact_cli.flow.geometric import _block_sizes

    weights = (cover.reshape(-1) * _block_sizes(size, n))[:, None]
    np.testing.assert_allclose((means.reshape(-1, 3) * weights).sum(axis=0), values.sum(axis=0), rtol=1e-4, atol=1e-3)


def _push_pull_numpy(values: np.ndarray, known: np.ndarray, min_size: int = 2) -> np.ndarray:
    """push_pull written with numpy broadcasting (the plain form of the same float ops)."""
    v = values.astype(np.float32)
    squeeze = v.ndim == 2
    if squeeze:
        v = v[:, :, None]
    w = np.clip(known.astype(np.float32), 0.0, 1.0)
    levels = [(v * w[:, :, None], w)]
    while min(levels[-1][1].shape) > min_size:
        vw, ww = levels[-1]
        hh, wd = ww.shape
        size = ((wd + 1) // 2, (hh + 1) // 2)
        vw2 = cv2.pyrDown(vw, dstsize=size).reshape(size[1], size[0], -1)
        ww2 = cv2.pyrDown(ww, dstsize=size)
        mean = vw2 / np.maximum(ww2, 1e-8)[:, :, None]
        wc = np.minimum(ww2 * 4.0, 1.0)
        levels.append((mean * wc[:, :, None], wc))
    vw, ww = levels[-1]
    total = ww.sum()
    fill = vw.sum(axis=(0, 1)) / total if total > 0 else np.zeros(vw.shape[2], np.float32)
    filled = vw + (1.0 - ww)[:, :, None] * fill.astype(np.float32)
    for vw, ww in reversed(levels[:-1]):
        hh, wd = ww.shape
        up = cv2.pyrUp(filled, dstsize=(wd, hh)).reshape(hh, wd, -1)
        filled = vw + (1.0 - ww)[:, :, None] * up
    return filled[:, :, 0] if squeeze else filled


@pytest.mark.parametrize("shape", [(64, 64, 3), (67, 62, 3), (40, 33), (31, 45, 1), (50, 20, 2)])
def test_push_pull_matches_the_numpy_form(shape):
    from reenact_cli.flow.extend import push_pull

    rng = np.random.default_rng(sum(shape))
    values = rng.normal(size=shape).astype(np.float32)
    known = (rng.random(shape[:2]) > 0.7).astype(np.float32) * rng.random(shape[:2]).astype(np.float32)
    got = push_pull(values, known)
    assert got.shape == values.shape
    np.testing.assert_array_equal(got, _push_pull_numpy(values, known))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_face_model_products_match_tensordot(dtype):
    """shape() and pose_deformation() use cached flattened bases: the numbers
    are np.tensordot's, in the coefficients' precision."""
    from reenact_cli.face.model import load_face_model, pose_features
    from reenact_cli.face.pose import euler_to_rotation

    model = load_face_model()
    rng = np.random.default_rng(7)
    c_id = rng.normal(size=model.num_id).astype(dtype) * model.sigma_id
    c_exp = rng.normal(size=model.num_exp).astype(dtype) * model.sigma_exp
    expected = (model.mean + np.tensordot(c_id, model.id_basis, axes=1) + np.tensordot(c_exp, model.exp_basis, axes=1)).astype(np.float32)
    for _ in range(2):  # the second call reads the cache
        np.testing.assert_array_equal(model.shape(c_id, c_exp), expected)
    rot = euler_to_rotation(20.0, -8.0, 3.0)
    np.testing.assert_array_equal(
        model.pose_deformation(rot), np.tensordot(pose_features(rot), model.pose_basis, axes=1).astype(np.float32)
    )
