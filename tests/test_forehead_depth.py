"""At a large head turn, the flow's depth proxy off the face stays the face
edge's for longer above the top of the face (``GeometricFlowConfig.
depth_fade_top``) and beside it on the side the turn brings into view
(``depth_fade_trailing``), so the turn carries the upper forehead, and what
lay just beyond a foreshortened cheek, with the face instead of shearing them
off it (a smeared band across the forehead, a pale ghost beside the turned
face). Small turns keep the plain proxy."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reenact_cli.face.pose import Pose, euler_to_rotation
from reenact_cli.face.topology import EAR_LEVEL_OVAL, NOSE_TIP
from reenact_cli.flow.geometric import EXTENSION_STEP, _nose_offset, _trailing_side, geometric_flow


def _turned(reenactor, source, yaw_turn: float) -> np.ndarray:
    src = source
    yaw, pitch, roll = src.fit.pose.euler()
    turned = dataclasses.replace(src.fit, pose=Pose(src.fit.pose.scale, euler_to_rotation(yaw + yaw_turn, pitch, roll), src.fit.pose.translation))
    return reenactor.model.compose(src.fit, turned)


def _flows(reenactor, source, m_d, *configs):
    model = reenactor.model
    size = source.prepared.image.shape[0]
    return [geometric_flow(source.mesh, m_d, size, c, model.pose_weights, model.mirror) for c in configs]


def _mesh(left: float, right: float, nose: float) -> np.ndarray:
    v = np.zeros((468, 3), np.float32)
    v[EAR_LEVEL_OVAL[0], 0], v[EAR_LEVEL_OVAL[1], 0], v[NOSE_TIP, 0] = left, right, nose
    return v


def test_nose_offset_is_relative_to_the_ears():
    assert _nose_offset(_mesh(100, 200, 150)) == 0.0
    assert _nose_offset(_mesh(100, 200, 170)) == pytest.approx(0.2)
    assert _nose_offset(_mesh(50, 250, 90)) == pytest.approx(-0.3)


def test_the_trailing_side_is_opposite_the_nose_motion():
    x = np.arange(0, 300, dtype=np.float32)
    frontal = _mesh(100, 200, 150)
    assert not _trailing_side(frontal, frontal, x, 0.1).any()  # no turn, no side
    to_the_right = _trailing_side(frontal, _mesh(100, 200, 175), x, 0.1)  # nose moved to larger x
    assert (to_the_right[x < 150] > 0).all() and (to_the_right[x >= 150] == 0).all()
    assert to_the_right[x < 130].min() == pytest.approx(1.0)
    to_the_left = _trailing_side(frontal, _mesh(100, 200, 125), x, 0.1)
    assert (to_the_left[x > 150] > 0).all() and (to_the_left[x <= 150] == 0).all()
    assert to_the_left[x > 170].min() == pytest.approx(1.0)
    slight = _trailing_side(frontal, _mesh(100, 200, 152), x, 0.1)  # a 0.02 shift: partly
    assert 0.0 < slight.max() < 0.5


def test_a_turn_carries_the_upper_forehead_with_the_face(reenactor, hopper_source):
    config = reenactor.config.flow
    assert config.depth_fade_top > config.depth_fade_above
    m_d = _turned(reenactor, hopper_source, 40.0)
    # Only the top differs between the two configurations.
    plain_sides = dataclasses.replace(config, depth_fade_trailing=config.depth_fade_above)
    skull_like = dataclasses.replace(plain_sides, depth_fade_top=config.depth_fade_above)
    flow, skull = _flows(reenactor, hopper_source, m_d, plain_sides, skull_like)
    face = flow.face
    y0, y1 = float(m_d[:, 1].min()), float(m_d[:, 1].max())
    face_h = y1 - y0
    # Columns across the middle third of the face's top: the face's topmost
    # pixel in each, and the pixel a tenth of a face height above it.
    cols = np.nonzero(face.any(axis=0))[0]
    mid = cols[len(cols) // 3 : 2 * len(cols) // 3]
    top = face[:, mid].argmax(axis=0)
    above = top - int(round(0.1 * face_h))
    assert (above >= 0).all()

    def shear(f) -> float:
        dx = f.displacement[..., 0]
        return float(np.abs(dx[above, mid] - dx[top, mid]).mean())

    # The skull-like proxy shears the band above the face sideways by pixels;
    # keeping the forehead's depth there holds it to a fraction of that.
    assert shear(skull) > 1.5, shear(skull)
    assert shear(flow) < 0.6 * shear(skull), (shear(flow), shear(skull))
    # The face itself, and everything from the face's upper corners down, is unchanged.
    np.testing.assert_array_equal(flow.source_xy[face], skull.source_xy[face])
    below = int(np.ceil(y0 + 0.1 * face_h)) + 2 * EXTENSION_STEP
    np.testing.assert_array_equal(flow.source_xy[below:], skull.source_xy[below:])


@pytest.mark.parametrize("yaw_turn", [-40.0, 40.0])
def test_a_turn_does_not_stretch_what_lay_beyond_the_trailing_cheek(reenactor, hopper_source, yaw_turn):
    config = reenactor.config.flow
    assert config.depth_fade_trailing > config.depth_fade_above
    m_d = _turned(reenactor, hopper_source, yaw_turn)
    plain = dataclasses.replace(config, depth_fade_trailing=config.depth_fade_above)
    flow, skull = _flows(reenactor, hopper_source, m_d, config, plain)
    face = flow.face
    # The nose moves one way; the other side is the trailing one.
    step = -int(np.sign(_nose_offset(m_d) - _nose_offset(hopper_source.mesh)))
    assert step != 0
    # At nose height, from 6 to 27 px beyond the face's edge on the trailing side:
    # how many source pixels the output reads per output pixel.
    row = int(m_d[NOSE_TIP, 1])
    covered = np.nonzero(face[row])[0]
    edge = covered.max() if step > 0 else covered.min()
    near, far = edge + 6 * step, edge + 27 * step

    def scale(f) -> float:
        return abs(float(f.source_xy[row, far, 0] - f.source_xy[row, near, 0])) / 21.0

    # The skull-like proxy magnifies it several times over (a pale, stretched
    # ghost of the source's cheek rim and ear); at the face edge's depth it
    # keeps most of its size.
    assert scale(skull) < 0.4, scale(skull)
    assert 0.7 < scale(flow) < 1.2, scale(flow)
    # The face, and the leading side (past the ramp's margin), are unchanged.
    np.testing.assert_array_equal(flow.source_xy[face], skull.source_xy[face])
    cx = 0.5 * float(m_d[EAR_LEVEL_OVAL[0], 0] + m_d[EAR_LEVEL_OVAL[1], 0])
    margin = 2 * EXTENSION_STEP
    lead = slice(None, int(cx) - margin) if step > 0 else slice(int(cx) + margin, None)
    np.testing.assert_array_equal(flow.source_xy[:, lead], skull.source_xy[:, lead])


@pytest.mark.parametrize("yaw_turn", [-15.0, 15.0])
def test_a_small_turn_keeps_the_plain_proxy(reenactor, hopper_source, yaw_turn):
    config = reenactor.config.flow
    assert abs(yaw_turn) < config.large_turn_from
    m_d = _turned(reenactor, hopper_source, yaw_turn)
    plain = dataclasses.replace(config, depth_fade_trailing=config.depth_fade_above, depth_fade_top=config.depth_fade_above)
    flow, skull = _flows(reenactor, hopper_source, m_d, config, plain)
    np.testing.assert_array_equal(flow.source_xy, skull.source_xy)
