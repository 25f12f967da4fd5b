"""MediaPipe landmark lists are read from their serialised bytes: same numbers
as reading the protobuf attributes, and a fallback for any other layout."""
import numpy as np
import pytest

landmark_pb2 = pytest.importorskip("mediapipe.framework.formats.landmark_pb2")

from reenact_cli.face.regress import landmark_array


def _landmarks(points: np.ndarray, visibility: bool = False):
    msg = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in points:
        lm = msg.landmark.add()
        lm.x, lm.y, lm.z = float(x), float(y), float(z)
        if visibility:
            lm.visibility = 0.5
    return msg


def _by_attributes(msg) -> np.ndarray:
    return np.array([(p.x, p.y, p.z) for p in msg.landmark], dtype=np.float32)


@pytest.mark.parametrize("visibility", [False, True])
def test_same_numbers_as_the_attributes(visibility):
    rng = np.random.default_rng(3)
    points = rng.normal(size=(478, 3)).astype(np.float32)
    points[5] = 0.0  # zeros come through either path
    msg = _landmarks(points, visibility)
    got = landmark_array(msg)
    assert got.shape == (478, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got, _by_attributes(msg))
    np.testing.assert_array_equal(got, points)


def test_fast_path_layout_is_taken_for_plain_landmarks():
    points = np.random.default_rng(4).uniform(0.1, 0.9, size=(10, 3)).astype(np.float32)
    data = _landmarks(points).SerializeToString()
    assert len(data) == 10 * 17  # the fixed record landmark_array reads
    np.testing.assert_array_equal(landmark_array(_landmarks(points)), points)
