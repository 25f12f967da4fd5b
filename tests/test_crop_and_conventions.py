"""Per-op tests of the pixel/grid conventions, square crops and Mesh transforms."""
from __future__ import annotations

import numpy as np
import pytest

from reenact_cli.conventions import grid_to_pixels, pixel_centres, pixels_to_grid
from reenact_cli.face.crop import CropTransform, crop_for_mesh, crop_to_frame_image, extract_crop
from reenact_cli.face.mesh import Mesh


def coordinate_image(w, h):
    """float32 ``(H, W, 3)`` whose channels 0/1 hold each pixel's centre x/y: any
    resampling of it reads back where it sampled (bilinear is exact on linear data)."""
    return np.dstack([pixel_centres(w, h), np.zeros((h, w), np.float32)]).astype(np.float32)


def predicted_frame_xy(crop):
    pc = pixel_centres(crop.size, crop.size).reshape(-1, 2).astype(np.float64)
    m = crop.crop_to_frame
    return (pc @ m[:, :2].T + m[:, 2]).reshape(crop.size, crop.size, 2)


def homogeneous(m):
    return np.vstack([m, [0.0, 0.0, 1.0]])


# ----------------------------------------------------------- conventions
def test_pixels_to_grid_corners():
    w, h = 200, 120
    xy = np.array([[0.0, 0.0], [w, h], [w / 2, h / 2], [0.0, h]])
    np.testing.assert_allclose(pixels_to_grid(xy, w, h), [[-1, -1], [1, 1], [0, 0], [-1, 1]], atol=1e-6)
    # first pixel centre is half a pixel in
    np.testing.assert_allclose(pixels_to_grid(np.array([0.5, 0.5]), w, h), [-1 + 1 / w, -1 + 1 / h], atol=1e-6)


def test_grid_to_pixels_corners():
    np.testing.assert_allclose(grid_to_pixels(np.array([[-1.0, -1.0], [1.0, 1.0]]), 64, 32), [[0, 0], [64, 32]])


def test_grid_round_trip():
    rng = np.random.default_rng(0)
    xy = rng.uniform(-10, 300, (100, 2)).astype(np.float32)
    np.testing.assert_allclose(grid_to_pixels(pixels_to_grid(xy, 256, 192), 256, 192), xy, atol=1e-4)
    g = rng.uniform(-1.5, 1.5, (4, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(pixels_to_grid(grid_to_pixels(g, 37, 91), 37, 91), g, atol=1e-6)
    assert pixels_to_grid(xy, 256, 192).dtype == np.float32


def test_pixel_centres():
    pc = pixel_centres(4, 3)
    assert pc.shape == (3, 4, 2) and pc.dtype == np.float32
    np.testing.assert_array_equal(pc[0, 0], [0.5, 0.5])
    np.testing.assert_array_equal(pc[2, 3], [3.5, 2.5])  # (row 2, col 3) -> x = 3.5, y = 2.5


def test_grid_sample_reads_pixel_centres_exactly():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(1)
    h, w = 7, 11
    img = rng.random((1, 1, h, w)).astype(np.float32)
    grid = pixels_to_grid(pixel_centres(w, h), w, h)[None]
    out = F.grid_sample(torch.from_numpy(img), torch.from_numpy(grid), align_corners=False)
    np.testing.assert_allclose(out.numpy(), img, atol=1e-6)
    # and half a pixel right of centre (j + 1, i + 0.5) averages columns j and j+1
    shifted = pixels_to_grid(pixel_centres(w, h) + np.float32([0.5, 0.0]), w, h)[None]
    out = F.grid_sample(torch.from_numpy(img), torch.from_numpy(shifted), align_corners=False)
    np.testing.assert_allclose(out.numpy()[..., :-1], 0.5 * (img[..., :-1] + img[..., 1:]), atol=1e-6)


# ---------------------------------------------------------- CropTransform
@pytest.mark.parametrize("origin,scale", [((0.0, 0.0), 1.0), ((37.25, -12.5), 2.3), ((-5.0, 100.75), 0.4)])
def test_crop_affines_are_inverse(origin, scale):
    c = CropTransform(origin, scale, 256, (640, 480))
    np.testing.assert_allclose(homogeneous(c.frame_to_crop) @ homogeneous(c.crop_to_frame), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(homogeneous(c.crop_to_frame) @ homogeneous(c.frame_to_crop), np.eye(3), atol=1e-12)
    # crop corner (0, 0) is the origin, crop corner (S, S) is origin + S * scale
    np.testing.assert_allclose(c.crop_to_frame @ [0, 0, 1], origin)
    np.testing.assert_allclose(c.crop_to_frame @ [256, 256, 1], np.add(origin, 256 * scale))


def test_frame_box_clipped():
    c = CropTransform((-10.5, 20.2), 2.0, 100, (150, 180))
    assert c.frame_box() == (0, 20, 150, 180)
    c = CropTransform((10.5, 20.2), 0.5, 100, (150, 180))
    assert c.frame_box() == (10, 20, 61, 71)


def _box_mesh(x0, y0, x1, y1, size=(640, 480)):
    rng = np.random.default_rng(2)
    v = np.c_[rng.uniform([x0, y0], [x1, y1], (468, 2)), rng.normal(size=468)].astype(np.float32)
    v[0, :2] = (x0, y0)
    v[1, :2] = (x1, y1)
    return Mesh(v, np.zeros((10, 3), np.float32), size)


def test_crop_for_mesh_geometry():
    mesh = _box_mesh(200, 100, 300, 260)  # face 160 px (height is larger)
    c = crop_for_mesh(mesh, 256, scale=2.0, lift=0.1)
    side = 320.0
    assert c.scale == pytest.approx(side / 256)
    assert c.size == 256 and c.frame_size == (640, 480)
    cx, cy = 250.0, 180.0 - 0.1 * 160
    np.testing.assert_allclose(c.origin, (cx - side / 2, cy - side / 2))
    # the face box maps inside the crop, centred horizontally
    lo = c.frame_to_crop @ [200, 100, 1]
    hi = c.frame_to_crop @ [300, 260, 1]
    assert (lo[0] + hi[0]) / 2 == pytest.approx(128)
    assert 0 < lo[1] < hi[1] < 256


# ------------------------------------------------------------ extract_crop
def test_extract_crop_integer_translation_copies_pixels():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    c = CropTransform((30.0, 17.0), 1.0, 64, (160, 120))
    out = extract_crop(img, c)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, img[17:81, 30:94])


def test_extract_crop_frame_point_lands_on_predicted_pixel():
    # a single bright pixel at frame (row 50, col 70) must appear at crop pixel
    # (row 50 - 17, col 70 - 30); a half-pixel slip would smear it over two pixels
    img = np.zeros((120, 160, 3), np.uint8)
    img[50, 70] = (255, 128, 7)
    out = extract_crop(img, CropTransform((30.0, 17.0), 1.0, 64, (160, 120)))
    assert np.argwhere(out[..., 0] > 0).tolist() == [[33, 40]]
    np.testing.assert_array_equal(out[33, 40], (255, 128, 7))


@pytest.mark.parametrize(
    "origin,scale,frame",
    [
        ((100.25, 60.5), 0.7, (400, 300)),  # upsampling: linear path
        ((50.3, 40.7), 1.2, (400, 300)),  # mild downsampling: linear path
        ((11.3, 7.9), 2.0, (400, 300)),  # area pre-shrink, frame divisible by the scale
        ((500.3, 340.6), 2.0, (640, 480)),
    ],
)
def test_extract_crop_samples_where_crop_to_frame_says(origin, scale, frame):
    w, h = frame
    c = CropTransform(origin, scale, 64, frame)
    out = extract_crop(coordinate_image(w, h), c)
    err = np.abs(out[..., :2] - predicted_frame_xy(c)).max() / scale  # crop pixels
    assert err < 0.05, f"crop content off by {err:.3f} crop px"


def test_extract_crop_area_path_odd_frame():
    c = CropTransform((500.3, 340.6), 2.0, 64, (641, 481))
    out = extract_crop(coordinate_image(641, 481), c)
    err = np.abs(out[..., :2] - predicted_frame_xy(c)).max() / c.scale
    assert err < 0.05, f"crop content off by {err:.3f} crop px"


@pytest.mark.parametrize("scale", [0.7, 2.0])
def test_extract_crop_blob_centroid(scale):
    # uint8 pattern: a Gaussian blob at a known frame point shows up centred on
    # the predicted crop point
    w, h = 400, 300
    origin = (61.7, 23.4)
    c = CropTransform(origin, scale, 64, (w, h))
    target = np.array([32.3, 29.6])
    fx, fy = target * scale + origin
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    blob = np.round(255 * np.exp(-((xx - fx) ** 2 + (yy - fy) ** 2) / (2 * (3 * scale) ** 2))).astype(np.uint8)
    out = extract_crop(np.dstack([blob] * 3), c)[..., 0].astype(np.float64)
    yc, xc = np.mgrid[0:64, 0:64] + 0.5
    centroid = np.array([(out * xc).sum(), (out * yc).sum()]) / out.sum()
    np.testing.assert_allclose(centroid, target, atol=0.1)


def test_extract_crop_replicates_edges_outside_frame():
    img = np.zeros((50, 50, 3), np.uint8)
    img[:, 0] = 200  # left column
    out = extract_crop(img, CropTransform((-20.0, 0.0), 1.0, 32, (50, 50)))
    np.testing.assert_array_equal(out[:, :21, 0], 200)
    np.testing.assert_array_equal(out[:, 21:, 0], 0)


def test_crop_to_frame_image_inverts_extract_crop():
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    c = CropTransform((30.0, 17.0), 1.0, 64, (160, 120))
    back = crop_to_frame_image(extract_crop(img, c), c)
    assert back.shape == img.shape
    np.testing.assert_array_equal(back[17:81, 30:94], img[17:81, 30:94])
    assert back[:17].max() == 0 and back[:, :30].max() == 0


def test_crop_to_frame_image_scaled_round_trip():
    w, h = 400, 300
    c = CropTransform((100.25, 60.5), 0.7, 128, (w, h))
    back = crop_to_frame_image(extract_crop(coordinate_image(w, h), c), c)
    x0, y0, x1, y1 = c.frame_box()
    inner = back[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2, :2]
    np.testing.assert_allclose(inner, coordinate_image(w, h)[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2, :2], atol=0.05)


# ------------------------------------------------------------------ Mesh
def test_mesh_rejects_wrong_shape():
    with pytest.raises(ValueError, match="468"):
        Mesh(np.zeros((478, 3), np.float32), np.zeros((10, 3), np.float32), (10, 10))


def test_mesh_all_points_and_bbox():
    mesh = _box_mesh(10, 20, 30, 50)
    assert mesh.all_points.shape == (478, 3)
    assert mesh.bbox() == pytest.approx((10, 20, 30, 50))


@pytest.mark.parametrize("scale,angle", [(2.5, 0.0), (0.25, 30.0), (1.0, -90.0)])
def test_mesh_transformed_scales_z(scale, angle):
    rng = np.random.default_rng(5)
    v = rng.uniform(0, 100, (468, 3)).astype(np.float32)
    iris = rng.uniform(0, 100, (10, 3)).astype(np.float32)
    mesh = Mesh(v, iris, (100, 100), confidence=0.8)
    a = np.radians(angle)
    affine = np.array([[scale * np.cos(a), -scale * np.sin(a), 5.0], [scale * np.sin(a), scale * np.cos(a), -7.0]])
    out = mesh.transformed(affine, (256, 256))
    np.testing.assert_allclose(out.vertices[:, 2], v[:, 2] * scale, rtol=1e-5)
    np.testing.assert_allclose(out.iris[:, 2], iris[:, 2] * scale, rtol=1e-5)
    np.testing.assert_allclose(out.vertices[:, :2], v[:, :2] @ affine[:, :2].T + affine[:, 2], atol=1e-3)
    np.testing.assert_allclose(out.iris[:, :2], iris[:, :2] @ affine[:, :2].T + affine[:, 2], atol=1e-3)
    assert out.image_size == (256, 256) and out.confidence == 0.8
    assert out.vertices.dtype == np.float32
    # distances in 3-D scale uniformly (z stays in the same pixel units as x, y)
    d0 = np.linalg.norm(v[0] - v[1])
    d1 = np.linalg.norm(out.vertices[0] - out.vertices[1])
    assert d1 == pytest.approx(scale * d0, rel=1e-5)


def test_mesh_into_crop_and_back():
    mesh = _box_mesh(200, 100, 300, 260)
    c = crop_for_mesh(mesh, 256)
    there = mesh.transformed(c.frame_to_crop, (256, 256))
    back = there.transformed(c.crop_to_frame, mesh.image_size)
    np.testing.assert_allclose(back.vertices, mesh.vertices, atol=1e-3)
    np.testing.assert_allclose(there.vertices[:, 2], mesh.vertices[:, 2] / c.scale, rtol=1e-5)
