"""Per-op tests of reenact_cli.face.model (the shipped default model) and the
named-expression edits, on a real mesh (Grace Hopper, via ``hopper_source``)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reenact_cli.errors import InputError
from reenact_cli.face.expressions import MEASUREMENTS, edit_fit, expression_direction
from reenact_cli.face.model import FaceFit, FaceModel, Take, load_face_model, pose_features
from reenact_cli.face.pose import Pose, euler_to_rotation

INNER_LIPS = (13, 14)


@pytest.fixture(scope="module")
def model():
    return load_face_model()


@pytest.fixture(scope="module")
def mesh(hopper_source):
    """Hopper's crop mesh as MediaPipe regressed it, ``(468, 3)`` crop pixels."""
    return np.asarray(hopper_source.face.mesh.vertices, dtype=np.float32)


@pytest.fixture(scope="module")
def fit(model, mesh):
    return model.fit(mesh)


def lip_gap(v):
    return float(np.linalg.norm(v[INNER_LIPS[0]] - v[INNER_LIPS[1]]))


def with_rotation(fit, rotation):
    return replace(fit, pose=Pose(fit.pose.scale, rotation, fit.pose.translation))


# ---------------------------------------------------------------- model
def test_model_shapes(model):
    assert model.mean.shape == (468, 3)
    assert model.id_basis.shape == (model.num_id, 468, 3)
    assert model.exp_basis.shape == (model.num_exp, 468, 3)
    assert model.sigma_id.shape == (model.num_id,) and model.sigma_exp.shape == (model.num_exp,)
    assert model.pose_weights.shape == model.fit_weights.shape == (468,)
    assert model.pose_basis.shape == (6, 468, 3)
    assert np.all(model.sigma_id > 0) and np.all(model.sigma_exp > 0)
    assert len(model.fingerprint) == 16


def test_bases_orthonormal(model):
    b = np.concatenate([model.id_basis, model.exp_basis]).reshape(model.num_id + model.num_exp, -1)
    np.testing.assert_allclose(b @ b.T, np.eye(len(b)), atol=1e-4)


def test_head_pivot_behind_nose_tip(model):
    pivot = model.head_pivot
    assert pivot.shape == (3,)
    assert pivot[2] > model.mean[1, 2]  # larger z = further from the camera
    # well behind: more than half the model's unit RMS radius
    assert pivot[2] - model.mean[1, 2] > 0.5


# ----------------------------------------------------------- pose basis
def test_pose_features_zero_for_frontal():
    np.testing.assert_array_equal(pose_features(np.eye(3)), np.zeros(6))
    f = pose_features(euler_to_rotation(30.0, -15.0, 6.0))
    np.testing.assert_allclose(f, [1.0, -0.5, 0.2, 1.0, 0.25, -0.5], atol=1e-9)


def test_pose_deformation_zero_for_frontal(model):
    d = model.pose_deformation(np.eye(3))
    assert d.shape == (468, 3)
    np.testing.assert_array_equal(d, 0.0)
    assert np.abs(model.pose_deformation(euler_to_rotation(25.0, 0.0, 0.0))).max() > 1e-3


def test_pose_deformation_linear_in_features(model):
    r = euler_to_rotation(20.0, 10.0, -5.0)
    expected = np.tensordot(pose_features(r), model.pose_basis, axes=1)
    np.testing.assert_allclose(model.pose_deformation(r), expected, atol=1e-6)


# ------------------------------------------------------------------ fit
def test_fit_reproduces_real_mesh(model, mesh, fit):
    assert fit.c_id.shape == (model.num_id,) and fit.c_exp.shape == (model.num_exp,)
    assert fit.residual.shape == (468, 3)
    err = np.abs(model.source_mesh(fit) - mesh).max()
    assert err < 1e-3, f"source_mesh differs from the fitted mesh by {err:.2e} px"


def test_fit_pose_is_plausible(model, mesh, fit):
    # a face crop: scale ~ half the crop per model unit, nose tip inside the crop
    assert 20 < fit.pose.scale < 120
    nose = fit.pose.apply(model.mean[1:2])[0]
    assert 0 < nose[0] < 256 and 0 < nose[1] < 256
    np.testing.assert_allclose(fit.pose_vector(), fit.pose.as_vector())


def test_fit_is_scale_and_translation_invariant(model, mesh, fit):
    # scaling/moving the observed mesh changes the pose, not the shape. (An
    # in-plane roll is not exactly neutral: the pose basis has a roll term, and a
    # 30 degree roll of the mesh moves c_exp by up to 0.48 sigma.)
    centre = mesh.mean(axis=0)
    moved = (1.5 * (mesh - centre) + centre + [10.0, -4.0, 3.0]).astype(np.float32)
    g = model.fit(moved)
    assert g.pose.scale == pytest.approx(1.5 * fit.pose.scale, rel=1e-4)
    np.testing.assert_allclose(g.pose.rotation, fit.pose.rotation, atol=1e-5)
    np.testing.assert_allclose(g.c_exp, fit.c_exp, atol=1e-4)
    np.testing.assert_allclose(g.c_id, fit.c_id, atol=1e-5)
    np.testing.assert_allclose(g.residual, fit.residual, atol=1e-4)


def test_fit_rejects_wrong_shape(model):
    with pytest.raises(ValueError, match="468"):
        model.fit(np.zeros((478, 3), np.float32))


def test_fit_recovers_synthetic_coefficients(model, fit):
    # a mesh made by the model itself, first expression components moved by 2 sigma
    c_exp = fit.c_exp.copy()
    c_exp[:2] += 2.0 * model.sigma_exp[:2]
    synthetic = replace(fit, c_exp=c_exp)
    g = model.fit(model.source_mesh(synthetic))
    delta = (g.c_exp[:2] - fit.c_exp[:2]) / model.sigma_exp[:2]
    np.testing.assert_allclose(delta, 2.0, atol=0.2)


def _expression_offset(model, c_exp) -> np.ndarray:
    """``(468, 3)`` float32 model-space offset of expression ``c_exp`` from the mean face."""
    return (model.shape(np.zeros(model.num_id, np.float32), c_exp) - model.mean).astype(np.float32)


def _strong_components(model):
    """Indices of the expression components whose held-back rest composition uses."""
    probe = np.eye(model.num_exp, dtype=np.float32)
    moved = [model.held_expression(FaceFit(Pose(1.0, np.eye(3), np.zeros(3)), np.zeros(model.num_id, np.float32),
                                               np.zeros(model.num_exp, np.float32), _expression_offset(model, e)))
             for e in probe]
    return np.array([k for k in range(model.num_exp) if abs(moved[k][k] - 1.0) < 1e-3])


def test_held_expression_is_the_prior_shrinkage_on_strong_components(model, fit):
    strong = _strong_components(model)
    assert 2 <= len(strong) < model.num_exp  # the mouth and smile components, not the weak tail
    assert list(strong) == list(range(len(strong)))  # the strongest components (largest sigma) first
    # A model-made face with a strong expression: the ridge fit shrinks it,
    # and adding what it held back in the residual recovers it.
    c_exp = np.zeros(model.num_exp, np.float32)
    c_exp[strong] = 2.0 * model.sigma_exp[strong]
    synthetic = FaceFit(fit.pose, fit.c_id, c_exp, np.zeros_like(fit.residual))
    g = model.fit(model.source_mesh(synthetic))
    shrunk = np.abs(g.c_exp[strong] - c_exp[strong]).max()
    recovered = np.abs(g.c_exp[strong] + model.held_expression(g)[strong] - c_exp[strong]).max()
    assert shrunk > 0.02 and recovered < 0.3 * shrunk, (shrunk, recovered)
    weak = np.setdiff1d(np.arange(model.num_exp), strong)
    assert not model.held_expression(g)[weak].any()


def test_the_source_expression_held_in_its_residual_does_not_reach_the_driving_mesh(model, fit):
    """Two sources differing only by expression the prior held back in the
    residual (a strong component) compose to the same driving mesh; a
    difference in a weak component is the source's own shape and stays."""
    strong = _strong_components(model)
    weak = int(np.setdiff1d(np.arange(model.num_exp), strong)[0])
    driver = with_rotation(fit, euler_to_rotation(10.0, -5.0, 0.0))

    def bump(k: int) -> FaceFit:
        e = np.zeros(model.num_exp, np.float32)
        e[k] = 2.0 * model.sigma_exp[k]
        return replace(fit, residual=fit.residual + _expression_offset(model, e))

    base = model.compose(fit, driver)
    np.testing.assert_allclose(model.compose(bump(int(strong[0])), driver), base, atol=1e-3)
    assert np.abs(model.compose(bump(weak), driver) - base).max() > 0.1
    # With itself as driver, the source still comes back exactly.
    np.testing.assert_allclose(model.compose(bump(int(strong[0])), bump(int(strong[0]))), model.source_mesh(bump(int(strong[0]))), atol=1e-3)


# -------------------------------------------------------------- compose
def test_compose_source_with_itself(model, fit, hopper_source):
    out = model.compose(fit, fit)
    assert out.shape == (468, 3)
    np.testing.assert_allclose(out, model.source_mesh(fit), atol=1e-3)
    np.testing.assert_allclose(out, hopper_source.mesh, atol=1e-3)


@pytest.mark.parametrize("d_yaw", [-20.0, 10.0, 25.0])
def test_compose_driver_yaw_is_refit(model, fit, d_yaw):
    yaw, pitch, roll = fit.pose.euler()
    driver = with_rotation(fit, euler_to_rotation(yaw + d_yaw, pitch, roll))
    g = model.fit(model.compose(fit, driver))
    got = np.subtract(g.pose.euler(), fit.pose.euler())
    assert abs(got[0] - d_yaw) < 0.5, f"refit yaw change {got[0]:.2f}, expected {d_yaw}"
    assert abs(got[1]) < 0.5 and abs(got[2]) < 0.5


def test_compose_keeps_pivot_and_scale(model, fit):
    yaw, pitch, roll = fit.pose.euler()
    driver = with_rotation(fit, euler_to_rotation(yaw + 20.0, pitch, roll))
    driver = replace(driver, pose=Pose(3.0 * fit.pose.scale, driver.pose.rotation, driver.pose.translation + 40.0))
    g = model.fit(model.compose(fit, driver))
    # without a driver reference, scale and pivot stay the source's
    assert g.pose.scale == pytest.approx(fit.pose.scale, rel=0.01)
    pivot = model.head_pivot[None]
    np.testing.assert_allclose(g.pose.apply(pivot)[0], fit.pose.apply(pivot)[0], atol=1.0)


def test_compose_alpha_zero_is_source(model, fit):
    driver = edit_fit(model, fit, yaw=30.0, expressions={"mouth_open": 2.0})
    out = model.compose(fit, driver, Take(alpha=0.0))
    np.testing.assert_allclose(out, model.source_mesh(fit), atol=1e-3)


def test_compose_take_expression_only(model, fit):
    driver = edit_fit(model, fit, yaw=25.0, expressions={"mouth_open": 2.0})
    out = model.compose(fit, driver, Take(pose=False, expression=True))
    g = model.fit(out)
    np.testing.assert_allclose(g.pose.euler(), fit.pose.euler(), atol=0.5)
    assert lip_gap(out) > lip_gap(model.source_mesh(fit)) + 2.0


def test_compose_take_pose_only(model, fit):
    driver = edit_fit(model, fit, yaw=25.0, expressions={"mouth_open": 2.0})
    out = model.compose(fit, driver, Take(pose=True, expression=False))
    g = model.fit(out)
    assert g.pose.euler()[0] - fit.pose.euler()[0] == pytest.approx(25.0, abs=0.5)
    np.testing.assert_allclose(g.c_exp, fit.c_exp, atol=0.05 * model.sigma_exp.max())


def test_compose_driver_reference(model, fit):
    # a driver identical to its reference frame changes nothing ...
    driver = edit_fit(model, fit, yaw=15.0)
    np.testing.assert_allclose(model.compose(fit, driver, driver_reference=driver), model.compose(fit, driver), atol=1e-3)
    # ... and a driver that moved 10 px right of its reference moves the result by
    # 10 * s_src / s_ref px
    ref = replace(driver, pose=Pose(2.0 * fit.pose.scale, driver.pose.rotation, driver.pose.translation))
    moved = replace(ref, pose=Pose(ref.pose.scale, ref.pose.rotation, ref.pose.translation + [10.0, 0.0, 0.0]))
    shift = model.compose(fit, moved, driver_reference=ref) - model.compose(fit, ref, driver_reference=ref)
    np.testing.assert_allclose(shift[:, :2], np.broadcast_to([5.0, 0.0], (468, 2)), atol=1e-3)


def test_expression_change_leaves_identity(model, fit):
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(3):
        c_exp = (fit.c_exp + rng.normal(size=model.num_exp) * model.sigma_exp).astype(np.float32)
        g = model.fit(model.compose(fit, replace(fit, c_exp=c_exp)))
        worst = max(worst, float(np.abs((g.c_id - fit.c_id) / model.sigma_id).max()))
    print(f"max |delta c_id| / sigma_id after a 1-sigma expression change: {worst:.4f}")
    assert worst < 0.02


# ---------------------------------------------------------- expressions
def test_expression_direction_unknown_name(model):
    with pytest.raises(KeyError, match="mouth_open"):
        expression_direction(model, "frown")


@pytest.mark.parametrize("name", list(MEASUREMENTS))
def test_expression_direction_is_one_sigma(model, name):
    a, b, axis, sign = MEASUREMENTS[name]
    d = expression_direction(model, name)
    assert d.shape == (model.num_exp,) and d.dtype == np.float32
    g = sign * (model.exp_basis[:, b, axis] - model.exp_basis[:, a, axis]).astype(np.float64)
    # moves its measurement up, by the measurement's prior standard deviation
    assert float(g @ d) == pytest.approx(float(np.sqrt(g @ (model.sigma_exp.astype(np.float64) ** 2 * g))), rel=1e-4)
    assert float(g @ d) > 0


def test_mouth_open_increases_inner_lip_distance(model, fit):
    before = lip_gap(model.compose(fit, fit))
    gaps = [lip_gap(model.compose(fit, edit_fit(model, fit, expressions={"mouth_open": k}))) for k in (1.0, 2.0)]
    assert gaps[0] > before + 1.0, f"inner lips {before:.2f} -> {gaps[0]:.2f} px"
    assert gaps[1] > gaps[0]


def test_edit_fit_angles_and_scale(model, fit):
    e = edit_fit(model, fit, yaw=10.0, pitch=-5.0, roll=2.0, expression_scale=0.0)
    np.testing.assert_allclose(np.subtract(e.pose.euler(), fit.pose.euler()), [10.0, -5.0, 2.0], atol=1e-6)
    np.testing.assert_array_equal(e.c_exp, 0.0)
    # Neutral includes the expression the fit's prior held back in the residual.
    assert np.abs(model.held_expression(fit)).max() > 1e-3
    np.testing.assert_allclose(model.held_expression(e), 0.0, atol=1e-4)
    np.testing.assert_array_equal(e.c_id, fit.c_id)
    assert e.pose.scale == fit.pose.scale
    # No edit at all gives the source back.
    np.testing.assert_allclose(model.compose(fit, edit_fit(model, fit)), model.source_mesh(fit), atol=1e-3)


# ------------------------------------------------------------------ I/O
def test_save_load_round_trip(model, tmp_path):
    path = model.save(tmp_path / "m.npz")
    assert path.is_file()
    back = FaceModel.load(path)
    for name in ("mean", "id_basis", "exp_basis", "sigma_id", "sigma_exp", "pose_weights", "fit_weights", "pose_basis"):
        np.testing.assert_array_equal(getattr(back, name), np.asarray(getattr(model, name), np.float32), err_msg=name)
    assert back.fingerprint == model.fingerprint
    assert back.provenance == model.provenance
    # and it fits the same
    np.testing.assert_allclose(back.mean, model.mean)


def test_save_refuses_to_overwrite(model, tmp_path):
    from reenact_cli.errors import OutputError

    path = model.save(tmp_path / "m.npz")
    with pytest.raises(OutputError):
        model.save(path)
    model.save(path, overwrite=True)


def test_fingerprint_changes_with_arrays(model):
    other = replace(model, mean=model.mean + np.float32(1e-3))
    assert other.fingerprint != model.fingerprint


def test_load_non_npz_raises_input_error(tmp_path):
    bad = tmp_path / "not_a_model.npz"
    bad.write_text("hello, I am text\n")
    with pytest.raises(InputError) as info:
        FaceModel.load(bad)
    msg = str(info.value)
    assert "\n" not in msg
    assert "not_a_model.npz" in msg
    assert info.value.path == bad


def test_load_missing_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="missing.npz"):
        FaceModel.load(tmp_path / "missing.npz")


def test_load_npz_missing_arrays(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, mean=np.zeros((468, 3), np.float32))
    with pytest.raises(InputError, match="missing") as info:
        FaceModel.load(path)
    assert "partial.npz" in str(info.value) and "\n" not in str(info.value)


def test_load_rejects_wrong_shapes_and_bad_provenance(tmp_path):
    import json as _json

    from reenact_cli.errors import InputError
    from reenact_cli.face.model import FaceModel, load_face_model

    model = load_face_model()
    arrays = {
        "mean": model.mean, "id_basis": model.id_basis, "exp_basis": model.exp_basis,
        "sigma_id": model.sigma_id, "sigma_exp": model.sigma_exp, "pose_weights": model.pose_weights,
        "fit_weights": model.fit_weights, "pose_basis": model.pose_basis,
        "provenance": np.array(_json.dumps({"ok": 1})),
    }
    bad_shape = dict(arrays, sigma_id=model.sigma_id[:-1])
    np.savez(tmp_path / "shape.npz", **bad_shape)
    with pytest.raises(InputError, match="sigma_id"):
        FaceModel.load(tmp_path / "shape.npz")
    bad_json = dict(arrays, provenance=np.array("{not json"))
    np.savez(tmp_path / "json.npz", **bad_json)
    with pytest.raises(InputError, match="JSON"):
        FaceModel.load(tmp_path / "json.npz")
    np.savez(tmp_path / "good.npz", **arrays)
    assert FaceModel.load(tmp_path / "good.npz").fingerprint == model.fingerprint


def test_relative_motion_applies_the_drivers_change(hopper_source):
    from reenact_cli.face.model import Take, load_face_model
    from reenact_cli.face.pose import Pose, euler_to_rotation

    model = load_face_model()
    src = hopper_source.fit
    ref = replace(src, pose=Pose(src.pose.scale, euler_to_rotation(-20.0, 0.0, 0.0), src.pose.translation))
    turned = replace(ref, pose=Pose(src.pose.scale, euler_to_rotation(-5.0, 0.0, 0.0), src.pose.translation))
    # The driver turned +15 degrees since its reference: the source turns +15 from its own yaw.
    mesh = model.compose(src, turned, Take(relative=True), driver_reference=ref)
    yaw = model.fit(mesh).pose.euler()[0]
    assert abs(yaw - (src.pose.euler()[0] + 15.0)) < 0.5
    # No change since the reference: the source comes back unchanged.
    same = model.compose(src, ref, Take(relative=True), driver_reference=ref)
    np.testing.assert_allclose(same, model.source_mesh(src), atol=1e-3)
    with pytest.raises(ValueError):
        model.compose(src, turned, Take(relative=True))
