"""Does a reenactment carry the driver's pose and expression and keep the
source's identity? Measured by regressing a mesh on the output and fitting the
face model to it, as one would on any photo.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..face.model import FaceFit, FaceModel
from ..face.regress import MeshRegressor
from ..face.topology import INNER_LIP_MID, OUTER_MOUTH_CORNERS


@dataclass(frozen=True)
class MouthShape:
    """Mouth opening and width in model units (pose scale removed)."""

    opening: float
    width: float


def mouth_shape(vertices: np.ndarray, fit: FaceFit) -> MouthShape:
    """Measure the inner-lip gap and the outer corner distance of ``vertices``."""
    s = fit.pose.scale
    a, b = INNER_LIP_MID
    c, d = OUTER_MOUTH_CORNERS
    return MouthShape(
        float(np.linalg.norm(vertices[a] - vertices[b]) / s),
        float(np.linalg.norm(vertices[c] - vertices[d]) / s),
    )


@dataclass(frozen=True)
class TransferMeasure:
    """One reenacted pair, measured.

    Attributes:
        pose_error: ``(3,)`` output minus driver (yaw, pitch, roll), degrees.
        yaw_change: |driver yaw - source yaw|, degrees (how hard the pair is).
        pose_change: ``(3,)`` driver minus source (yaw, pitch, roll), degrees.
        id_to_source, id_to_driver: distance of the output's c_id to each.
        exp_r: Pearson r between output and driver c_exp.
        mouth_out, mouth_drv: mouth shapes of output and driver.
    """

    pose_error: np.ndarray
    yaw_change: float
    id_to_source: float
    id_to_driver: float
    exp_r: float
    mouth_out: MouthShape
    mouth_drv: MouthShape
    pose_change: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @property
    def identity_kept(self) -> bool:
        return self.id_to_source < self.id_to_driver


def measure_transfer(
    model: FaceModel,
    regressor: MeshRegressor,
    output_crop: np.ndarray,
    source_fit: FaceFit,
    driver_fit: FaceFit,
    driver_vertices: np.ndarray,
) -> TransferMeasure | None:
    """Measure one output crop; None if no face is found in it."""
    found = regressor.detect(output_crop)
    if not found:
        return None
    out_v = found[0].vertices
    out_fit = model.fit(out_v)
    drv_euler = driver_fit.pose.euler()
    err = (out_fit.pose.euler() - drv_euler + 180.0) % 360.0 - 180.0
    change = (drv_euler - source_fit.pose.euler() + 180.0) % 360.0 - 180.0
    yaw_change = abs(float(change[0]))  # yaw lies in [-90, 90], so the wrap never applies
    r = float(np.corrcoef(out_fit.c_exp, driver_fit.c_exp)[0, 1])
    return TransferMeasure(
        err,
        yaw_change,
        float(np.linalg.norm(out_fit.c_id - source_fit.c_id)),
        float(np.linalg.norm(out_fit.c_id - driver_fit.c_id)),
        r,
        mouth_shape(out_v, out_fit),
        mouth_shape(driver_vertices, driver_fit),
        change,
    )


@dataclass(frozen=True)
class TransferSummary:
    """Aggregates over pairs (see :func:`summarise`)."""

    pairs: int
    missed: int
    pose_rms: np.ndarray
    identity_kept: float
    exp_r_mean: float
    mouth_open_r: float
    mouth_width_r: float
    pose_followed: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))

    def lines(self) -> list[str]:
        y, p, r = self.pose_rms
        fy, fp, fr = 100 * self.pose_followed
        return [
            f"pairs measured       {self.pairs} (no face found in {self.missed} outputs)",
            f"pose RMS error       yaw {y:.2f}  pitch {p:.2f}  roll {r:.2f} degrees",
            f"pose change followed yaw {fy:.0f}  pitch {fp:.0f}  roll {fr:.0f} % (slope of the output's angle on the driver's change)",
            f"identity kept        {100 * self.identity_kept:.0f} % of pairs (c_id nearer the source)",
            f"expression r         {self.exp_r_mean:.3f} (mean Pearson r of c_exp, output vs driver)",
            f"mouth opening r      {self.mouth_open_r:.3f}",
            f"mouth width r        {self.mouth_width_r:.3f}",
        ]


def pose_followed(errors: np.ndarray, changes: np.ndarray) -> np.ndarray:
    """``(3,)`` how much of the driver's change of each angle the output shows:
    1 plus the least-squares slope of the error ``(N, 3)`` on the change
    ``(N, 3)`` (with an intercept), so 1 = follows fully, 0.8 = falls 20 %
    short of every change; NaN where the changes do not vary."""
    out = np.full(3, np.nan)
    for k in range(3):
        c = changes[:, k] - changes[:, k].mean()
        var = float(c @ c)
        if len(c) >= 2 and var > 1e-12:
            out[k] = 1.0 + float(c @ (errors[:, k] - errors[:, k].mean())) / var
    return out


def summarise(measures: list[TransferMeasure | None]) -> TransferSummary:
    """RMS pose error per angle, identity-kept rate, mean expression r, the
    across-pair correlation of mouth opening and width (output vs driver),
    and how much of the driver's pose change the output follows."""
    ok = [m for m in measures if m is not None]
    if not ok:
        raise ValueError("no measured pairs")
    errs = np.array([m.pose_error for m in ok])
    opens = np.array([(m.mouth_out.opening, m.mouth_drv.opening) for m in ok])
    widths = np.array([(m.mouth_out.width, m.mouth_drv.width) for m in ok])
    return TransferSummary(
        len(ok),
        len(measures) - len(ok),
        np.sqrt((errs**2).mean(axis=0)),
        float(np.mean([m.identity_kept for m in ok])),
        float(np.mean([m.exp_r for m in ok])),
        float(np.corrcoef(opens[:, 0], opens[:, 1])[0, 1]),
        float(np.corrcoef(widths[:, 0], widths[:, 1])[0, 1]),
        pose_followed(errs, np.array([m.pose_change for m in ok])),
    )
