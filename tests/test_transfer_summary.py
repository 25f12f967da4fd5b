"""The photo-transfer summary: how much of the driver's pose change the output follows."""
from __future__ import annotations

import numpy as np
import pytest

from reenact_cli.eval.transfer import MouthShape, TransferMeasure, pose_followed, summarise


def test_pose_followed_is_one_plus_the_error_slope():
    rng = np.random.default_rng(0)
    changes = rng.normal(0.0, 15.0, size=(40, 3))
    errors = np.stack([-0.04 * changes[:, 0], -0.16 * changes[:, 1] + 0.8, np.zeros(40)], axis=1)
    np.testing.assert_allclose(pose_followed(errors, changes), [0.96, 0.84, 1.0], atol=1e-9)
    flat = changes.copy()
    flat[:, 2] = 3.0  # no variation: no slope to measure
    assert np.isnan(pose_followed(errors, flat)[2])


def test_summary_reports_the_followed_fraction():
    measures = []
    for k, change in enumerate((-20.0, -5.0, 0.0, 10.0, 30.0)):
        c = np.array([change, -change / 2, 1.0 + k])
        measures.append(TransferMeasure(-0.25 * c + [0.0, 0.0, 0.5], abs(change), 1.0, 2.0, 0.9,
                                        MouthShape(0.1 * k, 1.0 + k), MouthShape(0.1 * k + 0.01, 1.0 + k), c))
    s = summarise(measures + [None])
    np.testing.assert_allclose(s.pose_followed, [0.75, 0.75, 0.75], atol=1e-9)
    assert s.pairs == 5 and s.missed == 1
    assert any(line.startswith("pose change followed yaw 75  pitch 75  roll 75 %") for line in s.lines())
