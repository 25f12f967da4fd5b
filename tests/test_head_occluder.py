"""Something worn over the forehead (a cap) moves with the head as one piece.

The public-domain portrait inside matplotlib shows Grace Hopper in a naval
officer's cap: its crown lies above the face oval, its band partly inside.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from reenact_cli.face.pose import Pose, euler_to_rotation
from reenact_cli.face.segmentation import face_hull_mask
from reenact_cli.face.topology import CHIN, UPPER_BROWS
from reenact_cli.flow.geometric import geometric_flow
from reenact_cli.render.geometric import head_occluder


def _inputs(source):
    layers = source.prepared
    hull = face_hull_mask(source.mesh, layers.image.shape[:2])
    return layers.image, layers.person, hull, source.mesh


def _brow_y(mesh) -> float:
    return float(np.min(mesh[list(UPPER_BROWS), 1]))


def test_the_cap_is_found_above_the_brows_and_off_the_face(hopper_source):
    image, person, hull, mesh = _inputs(hopper_source)
    occ = head_occluder(image, person, hull, mesh)
    assert occ is not None and occ.dtype == np.float32
    assert hopper_source.prepared.head_occluder is not None  # prepared with the source
    solid = occ > 0.5
    rows = np.nonzero(solid)[0]
    assert solid.sum() > 2000  # the cap's crown, not a sliver
    assert rows.max() < _brow_y(mesh)  # all above the brows
    assert not (solid & (hull > 0)).any()  # off the face only
    assert 0.0 <= occ.min() and occ.max() <= 1.0


def test_skin_over_the_forehead_is_no_occluder(hopper_source):
    """Paint everything above the brows in the cheeks' colour: nothing is worn."""
    image, person, hull, mesh = _inputs(hopper_source)
    bare = image.copy()
    cheek = image[int(mesh[1, 1]) - 3 : int(mesh[1, 1]) + 3, int(mesh[50, 0]) - 3 : int(mesh[50, 0]) + 3].reshape(-1, 3).mean(0)
    bare[: int(_brow_y(mesh)) - 2] = cheek.astype(np.uint8)
    assert head_occluder(bare, person, hull, mesh) is None


def test_dark_shape_away_from_the_face_is_no_occluder(hopper_source):
    """A dark patch above the head that does not reach into the face oval is
    background or hair, not something worn over the forehead."""
    image, person, hull, mesh = _inputs(hopper_source)
    bare = image.copy()
    cheek = image[int(mesh[1, 1]) - 3 : int(mesh[1, 1]) + 3, int(mesh[50, 0]) - 3 : int(mesh[50, 0]) + 3].reshape(-1, 3).mean(0)
    bare[: int(_brow_y(mesh)) - 2] = cheek.astype(np.uint8)
    top = int(np.nonzero(hull.any(axis=1))[0][0])
    cx = int(mesh[1, 0])
    bare[max(0, top - 30) : top - 12, cx - 20 : cx + 20] = 20  # dark, near, but not touching the oval
    assert head_occluder(bare, np.ones_like(person), hull, mesh) is None


def test_the_flow_keeps_the_face_edge_depth_on_the_cap(reenactor, hopper_source):
    """Turn the head 25 degrees: with the cap known, the pixels the cap moves
    to shift further sideways (its depth stays the forehead's instead of
    curving back to the pivot); the face itself and the neck do not change."""
    model, src = reenactor.model, hopper_source
    yaw, pitch, roll = src.fit.pose.euler()
    turned = dataclasses.replace(src.fit, pose=Pose(src.fit.pose.scale, euler_to_rotation(yaw + 25.0, pitch, roll), src.fit.pose.translation))
    m_d = model.compose(src.fit, turned)
    size = src.prepared.image.shape[0]
    args = (src.mesh, m_d, size, reenactor.config.flow, model.pose_weights, model.mirror)
    plain = geometric_flow(*args)
    capped = geometric_flow(*args, src.prepared.head_occluder)
    np.testing.assert_array_equal(plain.face, capped.face)
    face = plain.face
    np.testing.assert_array_equal(plain.source_xy[face], capped.source_xy[face])
    chin_y = int(m_d[CHIN, 1])
    np.testing.assert_array_equal(plain.source_xy[chin_y + 20 :], capped.source_xy[chin_y + 20 :])
    # Where the output reads the cap, the sideways displacement grows.
    cap = src.prepared.head_occluder > 0.5
    xy = capped.source_xy
    reads_cap = cap[np.clip(xy[..., 1].astype(int), 0, size - 1), np.clip(xy[..., 0].astype(int), 0, size - 1)] & ~face
    assert reads_cap.sum() > 500
    dx_plain = np.abs(plain.displacement[..., 0][reads_cap]).mean()
    dx_capped = np.abs(capped.displacement[..., 0][reads_cap]).mean()
    assert dx_capped > dx_plain + 1.0, (dx_plain, dx_capped)


def test_caps_in_the_shared_photos_are_found(faces_dir, reenactor):
    from reenact_cli.media.image_io import read_image

    for name in ("deep3dfacerecon_000037.jpg", "deep3dfacerecon_015259.jpg"):
        src = reenactor.source(read_image(faces_dir / "images" / name), name)
        assert src.prepared.head_occluder is not None, name
        assert (src.prepared.head_occluder > 0.5).sum() > 1000, name


def test_a_face_too_small_to_sample_its_skin_has_no_occluder(hopper_source):
    """With too few cheek pixels to learn the skin's colour, nothing is flagged
    (rather than everything non-skin)."""
    image, person, hull, mesh = _inputs(hopper_source)
    k = 16 / image.shape[0]
    small = cv2.resize(image, (16, 16), interpolation=cv2.INTER_AREA)
    small_mesh = mesh * np.float32(k)
    small_hull = face_hull_mask(small_mesh, (16, 16))
    assert head_occluder(small, np.ones((16, 16), np.float32), small_hull, small_mesh) is None


def test_flow_refuses_an_occluder_of_another_size(reenactor, hopper_source):
    src = hopper_source
    with pytest.raises(ValueError, match="head_occluder must be"):
        geometric_flow(src.mesh, src.mesh, 256, head_occluder=np.zeros((128, 128), np.float32))
