"""Off-face motion follows the skull, not the jaw (issue 3, nearly still clips).

A still head that opens its mouth or pouts must not drag its hair, ears or
collar: the rigid motion used off the face is fitted on the vertices at or
above the nose tip only (:attr:`FaceModel.skull_weights`).
"""
from __future__ import annotations

import numpy as np
import pytest

from reenact_cli.face.pose import procrustes
from reenact_cli.pipeline import GeometricGenerator

LOWER_FACE = (152, 13, 14, 17, 61, 291, 172, 397)  # chin, inner lips, lower lip, mouth corners, jaw
UPPER_FACE = (168, 6, 33, 263, 133, 362, 10, 151)  # nose bridge, eye corners, forehead


def test_skull_weights_ignore_the_lower_face(reenactor):
    m = reenactor.model
    w = m.skull_weights
    assert w.shape == m.pose_weights.shape and w.dtype == np.float32
    assert np.all(w[list(LOWER_FACE)] == 0.0)
    assert np.array_equal(w[list(UPPER_FACE)], m.pose_weights[list(UPPER_FACE)])
    assert w[1] == m.pose_weights[1]  # the nose tip itself is on the skull
    assert 0.4 < w.sum() / m.pose_weights.sum() < 0.9


@pytest.fixture(scope="module")
def still_source(reenactor, faces_dir):
    from reenact_cli.media.video import decode_video

    frames = decode_video(faces_dir / "videos" / "liveportrait_d18.mp4")
    first = next(iter(frames))
    if hasattr(frames, "close"):
        frames.close()
    return reenactor.source(first, "liveportrait_d18 frame 0")


def _jaw_drop(model, mesh: np.ndarray, pixels: float) -> np.ndarray:
    """The mesh with everything below the nose tip moved down, more towards the
    chin (up to ``pixels`` at the chin): a jaw drop with a perfectly still skull."""
    nose, chin = mesh[1, :2], mesh[152, :2]
    down = (chin - nose) / np.linalg.norm(chin - nose)
    t = np.clip((mesh[:, :2] - nose) @ down / np.linalg.norm(chin - nose), 0.0, None)
    out = mesh.copy()
    out[:, :2] += (pixels * t)[:, None] * down[None, :]
    return out


def test_jaw_drop_moves_no_hair(reenactor, still_source):
    src = still_source.mesh
    drv = _jaw_drop(reenactor.model, src, 12.0)
    rigid = procrustes(drv.astype(np.float64), src.astype(np.float64), reenactor.model.skull_weights)
    assert abs(rigid.scale - 1.0) < 1e-6 and np.allclose(rigid.rotation, np.eye(3), atol=1e-6)

    out = reenactor.generator.generate(still_source.prepared, src, drv)
    top = int(np.floor(src[:, 1].min()))
    face_h = float(src[:, 1].max() - src[:, 1].min())
    assert out.flow.moving[int(src[152, 1]) - 5 : int(src[152, 1]) + 5].any(), "the chin moves"
    # Above the face (forehead, hair) the flow is a few hundredths of a pixel
    # at most (the non-rigid fade, over 0.3 face heights) ...
    assert _displacement(out.flow)[: top - 2].max() < 0.05
    # ... and beyond that fade, hair and background are the source's pixels, bit for bit.
    far = int(top - 0.3 * face_h)
    assert far > 10 and not out.flow.moving[:far].any()
    assert np.array_equal(out.crop[:far], still_source.face.image[:far])


def test_jaw_drop_with_whole_face_pose_weights_would_drag_the_hair(reenactor, still_source):
    """The failure the skull weights fix: fitted on the whole face, the jaw's
    motion reads as a head motion and the hair above the face moves."""
    src = still_source.mesh
    drv = _jaw_drop(reenactor.model, src, 12.0)
    gen = GeometricGenerator(reenactor.config.flow, reenactor.model.pose_weights, reenactor.model.mirror)
    out = gen.generate(still_source.prepared, src, drv)
    top = int(np.floor(src[:, 1].min()))
    assert _displacement(out.flow)[: top - 2].max() > 0.5


def _displacement(flow) -> np.ndarray:
    """``(H, W)`` largest component of each pixel's displacement, pixels."""
    h, w = flow.moving.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    return np.maximum(np.abs(flow.source_xy[:, :, 0] - xs), np.abs(flow.source_xy[:, :, 1] - ys))
