"""The linear face model on MediaPipe's topology: fitting and mesh composition.

``V = mean + B_id c_id + B_exp c_exp`` in *model space* (unit RMS radius,
axes as in conventions.py). Bases are orthonormal (as flattened ``3V`` vectors);
coefficients are in model units, with per-component prior standard deviations
``sigma_id`` / ``sigma_exp``. Built by :mod:`reenact_cli.face.build`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..conventions import NUM_FACE_VERTICES
from ..errors import InputError
from .pose import Pose, procrustes, rotation_to_euler, slerp_rotation
from .topology import CHIN, EAR_LEVEL_OVAL, NOSE_TIP

#: Weights of the Gaussian priors in the ridge fit (observation noise variance
#: in model units^2, relative to the prior variances). Identity gets a strong
#: prior: MediaPipe's mesh of one face varies with pose about as much as two
#: faces differ, and what the prior holds back stays in the residual anyway.
#: Expression gets a weak one: it must follow the driver.
PRIOR_WEIGHT_ID = 0.1
PRIOR_WEIGHT_EXP = 0.005
FIT_ITERATIONS = 2
#: The prior shrinks every expression coefficient and leaves the rest of that
#: expression in the residual. Composition moves that rest back into the
#: expression for the components the fit keeps at least this fraction of
#: (the strong ones: mouth opening, smile, ...), so a source's own expression
#: does not leak into ``M_d`` through its residual; weaker components stay
#: as fitted, since what the prior holds back there is mostly MediaPipe's
#: pose-dependent placement, not expression (see :meth:`FaceModel.held_expression`).
HELD_EXPRESSION_KEEP = 0.8
#: See :attr:`FaceModel.head_pivot`: 0 = the face centroid, 1 = ear depth.
PIVOT_DEPTH = 0.6


#: Angle scale of the pose features (degrees): features are O(1) at this angle.
POSE_FEATURE_SCALE = 30.0


def pose_features(rotation: np.ndarray) -> np.ndarray:
    """``(6,)`` features of a head rotation: yaw, pitch, roll (in units of 30
    degrees), yaw^2, pitch^2, yaw*pitch. Zero for a frontal head."""
    yaw, pitch, roll = rotation_to_euler(rotation) / POSE_FEATURE_SCALE
    return np.array([yaw, pitch, roll, yaw * yaw, pitch * pitch, yaw * pitch])


@dataclass(frozen=True)
class FaceFit:
    """One face explained by the model.

    Attributes:
        pose: model -> crop pixels.
        c_id: ``(K_id,)`` identity coefficients.
        c_exp: ``(K_exp,)`` expression coefficients.
        residual: ``(468, 3)`` model-space remainder the bases do not explain
            (kept with the identity so fine source shape survives transfer).
    """

    pose: Pose
    c_id: np.ndarray
    c_exp: np.ndarray
    residual: np.ndarray

    def pose_vector(self) -> np.ndarray:
        """The paper's ``p`` in R^12."""
        return self.pose.as_vector()


@dataclass(frozen=True)
class Take:
    """What a composition takes from the driver, and how much (``alpha`` in [0, 1]).

    ``alpha`` blends the source's rotation and expression towards the driver's
    (slerp / lerp); 1 is full reenactment. ``relative`` (needs a driver
    reference frame) takes the driver's *change* since that frame, applied on
    top of the source's own rotation and expression, instead of the driver's
    absolute rotation and expression (the paper's mode).
    """

    pose: bool = True
    expression: bool = True
    alpha: float = 1.0
    relative: bool = False


@dataclass(frozen=True)
class FaceModel:
    """Arrays of the model; see module docstring for shapes and units.

    Attributes:
        mean: ``(468, 3)``.
        id_basis: ``(K_id, 468, 3)``.
        exp_basis: ``(K_exp, 468, 3)``.
        sigma_id, sigma_exp: prior standard deviations per component.
        pose_weights: ``(468,)`` per-vertex weights for the Procrustes pose fit
            (high on rigid vertices: forehead, nose, temples).
        fit_weights: ``(468,)`` per-vertex weights for the coefficient fit
            (low on the sliding silhouette).
        pose_basis: ``(6, 468, 3)`` pose-dependent deformation: how MediaPipe's
            mesh of a face changes with the head's rotation beyond a similarity
            (perspective, sliding silhouette), linear in :func:`pose_features`.
        provenance: how and from what the model was built.
    """

    mean: np.ndarray
    id_basis: np.ndarray
    exp_basis: np.ndarray
    sigma_id: np.ndarray
    sigma_exp: np.ndarray
    pose_weights: np.ndarray
    fit_weights: np.ndarray
    pose_basis: np.ndarray
    provenance: dict = field(default_factory=dict)

    @property
    def num_id(self) -> int:
        return int(self.id_basis.shape[0])

    @property
    def num_exp(self) -> int:
        return int(self.exp_basis.shape[0])

    @property
    def head_pivot(self) -> np.ndarray:
        """``(3,)`` model-space point the head turns about: at ear level, a
        fraction :data:`PIVOT_DEPTH` of the way back from the face's centroid
        to the face oval's ear-level extremes (vertices 234 and 454).

        A real head turns about the neck, near the ears, so the face swings
        sideways as it turns; but a warp cannot show the side of the head that
        the swing would uncover, so the pivot sits part of the way back.
        """
        cached = self.__dict__.get("_pivot_cache")
        if cached is None:
            ears = 0.5 * (self.mean[EAR_LEVEL_OVAL[0]] + self.mean[EAR_LEVEL_OVAL[1]]).astype(np.float64)
            centre = self.mean.mean(axis=0).astype(np.float64)
            cached = np.array([ears[0], ears[1], centre[2] + PIVOT_DEPTH * (ears[2] - centre[2])])
            cached.flags.writeable = False
            object.__setattr__(self, "_pivot_cache", cached)
        return cached

    @property
    def skull_weights(self) -> np.ndarray:
        """``(468,)`` weights for the rigid motion of everything *off* the face
        (hair, ears, the head's outline): :attr:`pose_weights` on the vertices
        at or above the nose tip (vertex 1), zero on those below it.

        Hair and ears ride on the skull; below the nose tip lie the lips, chin
        and jaw line, which the mandible and the lip muscles move whatever the
        skull does. With them in the fit, a pout or a dropped jaw reads as a
        head rotation and a change of scale (on ``liveportrait_d18``, a still
        head saying "ooh" gave a fitted 2.6 degrees and +3.5 % while the hair,
        registered in the image, moved under 2 pixels), and the warp carried
        hair and collar with that false motion: several pixels at the head's
        outline, enough to lose to simply repeating the first frame. The face
        itself still follows the mesh; only the off-face extension uses these
        weights. Known limit: MediaPipe's upper-face landmarks are not wholly
        still either (the forehead rides with the brows, and the face model's
        expression basis carries some of that), so an expression edit can
        still move the outline a little.
        """
        cached = self.__dict__.get("_skull_cache")
        if cached is None:
            nose, chin = self.mean[NOSE_TIP].astype(np.float64), self.mean[CHIN].astype(np.float64)
            down = (chin - nose) / max(float(np.linalg.norm(chin - nose)), 1e-12)
            below = (self.mean.astype(np.float64) - nose) @ down > 0.0
            cached = np.where(below, 0.0, self.pose_weights).astype(np.float32)
            object.__setattr__(self, "_skull_cache", cached)
        return cached

    @property
    def mirror(self) -> np.ndarray:
        """``(468,)`` left/right mirror partner of each vertex (see
        :func:`~reenact_cli.face.topology.mirror_indices`)."""
        cached = self.__dict__.get("_mirror_cache")
        if cached is None:
            from .topology import mirror_indices

            cached = mirror_indices(self.mean)
            object.__setattr__(self, "_mirror_cache", cached)
        return cached

    @property
    def fingerprint(self) -> str:
        """Short SHA-256 of the arrays: identifies a model in checkpoints and reports."""
        h = hashlib.sha256()
        for a in (self.mean, self.id_basis, self.exp_basis, self.sigma_id, self.sigma_exp, self.pose_basis):
            h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ fitting
    def _solver(self) -> np.ndarray:
        cached = self.__dict__.get("_solver_cache")
        if cached is not None:
            return cached
        basis = np.concatenate([self.id_basis, self.exp_basis]).reshape(self.num_id + self.num_exp, -1).T
        w = np.repeat(self.fit_weights, 3)
        sigma = np.concatenate([self.sigma_id, self.sigma_exp])
        weight = np.concatenate([np.full(self.num_id, PRIOR_WEIGHT_ID), np.full(self.num_exp, PRIOR_WEIGHT_EXP)])
        prior = weight / np.maximum(sigma, 1e-6) ** 2
        lhs = basis.T @ (basis * w[:, None]) + np.diag(prior)
        solver = np.linalg.solve(lhs, basis.T * w[None, :]).astype(np.float64)
        object.__setattr__(self, "_solver_cache", solver)
        return solver

    def _held_projector(self) -> np.ndarray:
        """``(K_exp, 3V)``: the weighted least-squares projection of a residual
        onto the expression basis (no prior), on the components of
        :data:`HELD_EXPRESSION_KEEP`; zero rows for the others."""
        cached = self.__dict__.get("_held_cache")
        if cached is None:
            basis = self.exp_basis.reshape(self.num_exp, -1).T.astype(np.float64)
            w = np.repeat(self.fit_weights, 3).astype(np.float64)
            gram = basis.T @ (basis * w[:, None])
            prior = PRIOR_WEIGHT_EXP / np.maximum(self.sigma_exp.astype(np.float64), 1e-6) ** 2
            kept = np.diag(gram) / (np.diag(gram) + prior)  # what the ridge fit keeps of each component
            cached = np.linalg.solve(gram, basis.T * w[None, :]) * (kept >= HELD_EXPRESSION_KEEP)[:, None]
            object.__setattr__(self, "_held_cache", cached)
        return cached

    def held_expression(self, fit: FaceFit) -> np.ndarray:
        """``(K_exp,)`` float32: the expression the fit's prior held back in
        ``fit.residual``, in the strong components (:data:`HELD_EXPRESSION_KEEP`);
        zero in the others. ``fit.c_exp + held_expression(fit)`` is the
        least-squares expression on those components."""
        return (self._held_projector() @ fit.residual.reshape(-1).astype(np.float64)).astype(np.float32)

    def release_held_expression(self, fit: FaceFit) -> FaceFit:
        """The same face with :meth:`held_expression` moved from the residual
        into ``c_exp`` (the mesh is unchanged, up to float rounding)."""
        held = self.held_expression(fit)
        residual = (fit.residual - self._combine(held, "exp_basis")).astype(np.float32)
        return FaceFit(fit.pose, fit.c_id, (fit.c_exp + held).astype(np.float32), residual)

    def _combine(self, coeffs: np.ndarray, name: str) -> np.ndarray:
        """``coeffs (K,)`` times the basis ``name`` ``(K, 468, 3)``: ``(468, 3)``,
        computed as ``np.tensordot(coeffs, basis, axes=1)`` computes it (one
        ``(1, K) x (K, 1404)`` product), with the flattened basis converted to
        the product's precision once per model instead of on every call."""
        c = np.asarray(coeffs)
        basis = getattr(self, name)
        dtype = np.result_type(c.dtype, basis.dtype)
        key = f"_{name}_flat_{dtype}"
        flat = self.__dict__.get(key)
        if flat is None:
            flat = basis.reshape(len(basis), -1).astype(dtype)
            object.__setattr__(self, key, flat)
        return np.dot(c.astype(dtype).reshape(1, -1), flat).reshape(basis.shape[1:])

    def shape(self, c_id: np.ndarray, c_exp: np.ndarray) -> np.ndarray:
        """Model-space vertices ``(468, 3)`` for the given coefficients."""
        return (self.mean + self._combine(c_id, "id_basis") + self._combine(c_exp, "exp_basis")).astype(np.float32)

    def pose_deformation(self, rotation: np.ndarray) -> np.ndarray:
        """``(468, 3)`` model-space deformation the mesh shows at ``rotation``."""
        return self._combine(pose_features(rotation), "pose_basis").astype(np.float32)

    def fit(self, vertices: np.ndarray) -> FaceFit:
        """Explain observed vertices ``(468, 3)`` (crop pixels) by pose + coefficients.

        Alternates a weighted similarity Procrustes (rigid vertices) with a
        weighted ridge solve of ``[B_id B_exp]`` after removing the pose
        deformation; the residual is kept.
        """
        y = np.asarray(vertices, dtype=np.float64)
        if y.shape != (NUM_FACE_VERTICES, 3):
            raise ValueError(f"expected (468, 3) vertices, got {y.shape}")
        solver = self._solver()
        template = self.mean.astype(np.float64)
        coeffs = np.zeros(self.num_id + self.num_exp)
        for _ in range(FIT_ITERATIONS):
            pose = procrustes(template, y, self.pose_weights)
            deform = self.pose_deformation(pose.rotation)
            m = pose.inverse_apply(y).astype(np.float64) - deform
            coeffs = solver @ (m - self.mean).reshape(-1)
            template = self.shape(coeffs[: self.num_id], coeffs[self.num_id :]) + deform
        c_id, c_exp = coeffs[: self.num_id].astype(np.float32), coeffs[self.num_id :].astype(np.float32)
        residual = (m - self.shape(c_id, c_exp)).astype(np.float32)
        return FaceFit(pose, c_id, c_exp, residual)

    # -------------------------------------------------------------- composition
    def compose(
        self,
        source: FaceFit,
        driver: FaceFit,
        take: Take = Take(),
        driver_reference: FaceFit | None = None,
    ) -> np.ndarray:
        """The driving mesh ``M_d`` in the source's crop pixels, ``(468, 3)``.

        Source identity + residual, the driver's expression, posed with the
        driver's rotation (paper §3.1). Expressions are the fits' ``c_exp``
        plus what their priors held back (:meth:`held_expression`), which
        leaves the source's residual. The head turns about its pivot
        (:attr:`head_pivot`, between the ears), which stays where the source's
        is; with ``driver_reference`` (a video driver's reference frame) scale
        and pivot follow the driver's change since that frame:
        ``s = s_src * s_d / s_d0`` and ``P = P_src + (P_d - P_d0) * s_src / s_d0``.
        In ``take.relative`` mode the target rotation is ``R_d R_d0^T R_src`` and
        the target expression ``c_src + (c_d - c_d0)``.
        """
        a = float(np.clip(take.alpha, 0.0, 1.0))
        # Expressions include what each fit's prior held back in its residual.
        source = self.release_held_expression(source)
        target_exp = driver.c_exp + self.held_expression(driver)
        if take.relative:
            if driver_reference is None:
                raise ValueError("relative motion needs a driver reference frame")
            target_exp = source.c_exp + (target_exp - (driver_reference.c_exp + self.held_expression(driver_reference)))
        c_exp = source.c_exp + a * (target_exp - source.c_exp) if take.expression else source.c_exp
        rotation = self.driving_rotation(source, driver, take, driver_reference)
        shape = self.shape(source.c_id, c_exp) + source.residual + self.pose_deformation(rotation)
        pivot = self.head_pivot
        scale = source.pose.scale
        centre = source.pose.apply(pivot[None])[0].astype(np.float64)
        if take.pose and driver_reference is not None:
            ref = driver_reference.pose
            moved = driver.pose.apply(pivot[None])[0] - ref.apply(pivot[None])[0]
            scale = scale * (1.0 + a * (driver.pose.scale / ref.scale - 1.0))
            centre = centre + a * moved * source.pose.scale / ref.scale
        translation = centre - scale * rotation @ pivot
        return Pose(scale, rotation, translation).apply(shape)

    @staticmethod
    def driving_rotation(
        source: FaceFit, driver: FaceFit, take: Take = Take(), driver_reference: FaceFit | None = None
    ) -> np.ndarray:
        """The head rotation ``(3, 3)`` that :meth:`compose` gives ``M_d``: the
        driver's (or, in ``take.relative`` mode, ``R_d R_d0^T R_src``), reached
        by ``take.alpha`` from the source's; the source's if ``take.pose`` is off."""
        if not take.pose:
            return source.pose.rotation
        target = driver.pose.rotation
        if take.relative:
            if driver_reference is None:
                raise ValueError("relative motion needs a driver reference frame")
            target = driver.pose.rotation @ driver_reference.pose.rotation.T @ source.pose.rotation
        return slerp_rotation(source.pose.rotation, target, float(np.clip(take.alpha, 0.0, 1.0)))

    def source_mesh(self, fit: FaceFit) -> np.ndarray:
        """``M_s``: the fit reproduced exactly (residual included), crop pixels."""
        return fit.pose.apply(self.shape(fit.c_id, fit.c_exp) + fit.residual + self.pose_deformation(fit.pose.rotation))

    # ---------------------------------------------------------------------- I/O
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the model as ``.npz`` (atomically) with its provenance."""
        from ..media.atomic import atomic_output

        with atomic_output(path, overwrite) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh,
                    format_version=np.int32(1),
                    mean=self.mean.astype(np.float32),
                    id_basis=self.id_basis.astype(np.float32),
                    exp_basis=self.exp_basis.astype(np.float32),
                    sigma_id=self.sigma_id.astype(np.float32),
                    sigma_exp=self.sigma_exp.astype(np.float32),
                    pose_weights=self.pose_weights.astype(np.float32),
                    fit_weights=self.fit_weights.astype(np.float32),
                    pose_basis=self.pose_basis.astype(np.float32),
                    provenance=np.array(json.dumps(self.provenance, indent=1)),
                )
        return Path(path)

    @staticmethod
    def load(path: str | Path) -> "FaceModel":
        """Read a model written by :meth:`save`; bad files give an :class:`InputError`."""
        p = Path(path)
        if not p.is_file():
            raise InputError("no such face model file", p)
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception:
            raise InputError("not a face model (.npz written by 'reenact face-model build')", p) from None
        needed = {"mean", "id_basis", "exp_basis", "sigma_id", "sigma_exp", "pose_weights", "fit_weights", "pose_basis"}
        missing = needed - set(arrays)
        if missing:
            raise InputError(f"not a face model: missing {', '.join(sorted(missing))}", p)
        if arrays["mean"].shape != (NUM_FACE_VERTICES, 3):
            raise InputError(f"face model has mean of shape {arrays['mean'].shape}, expected (468, 3)", p)
        try:
            prov = json.loads(str(arrays["provenance"])) if "provenance" in arrays else {}
        except ValueError:
            raise InputError("face model provenance is not valid JSON", p) from None
        k_id, k_exp = arrays["id_basis"].shape[0], arrays["exp_basis"].shape[0]
        expected = {
            "id_basis": (k_id, NUM_FACE_VERTICES, 3),
            "exp_basis": (k_exp, NUM_FACE_VERTICES, 3),
            "sigma_id": (k_id,),
            "sigma_exp": (k_exp,),
            "pose_weights": (NUM_FACE_VERTICES,),
            "fit_weights": (NUM_FACE_VERTICES,),
            "pose_basis": (len(pose_features(np.eye(3))), NUM_FACE_VERTICES, 3),
        }
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise InputError(f"face model array '{name}' has shape {arrays[name].shape}, expected {shape}", p)
        return FaceModel(
            arrays["mean"],
            arrays["id_basis"],
            arrays["exp_basis"],
            arrays["sigma_id"],
            arrays["sigma_exp"],
            arrays["pose_weights"],
            arrays["fit_weights"],
            arrays["pose_basis"],
            prov,
        )


DEFAULT_FACE_MODEL_NAME = "face_model.npz"


def default_face_model_path() -> Path:
    """The face model shipped in the repository's ``weights/`` folder (installed
    as the package data ``reenact_cli.weights``)."""
    return Path(str(resources.files("reenact_cli.weights") / DEFAULT_FACE_MODEL_NAME))


_LOADED: dict[str, FaceModel] = {}


def load_face_model(path: str | Path | None = None) -> FaceModel:
    """Load (and cache) a face model; ``None`` means the shipped default."""
    p = Path(path) if path is not None else default_face_model_path()
    key = str(p.resolve())
    if key not in _LOADED:
        if path is None and not p.is_file():
            raise InputError(
                "the default face model is missing from this installation; "
                "build one with 'reenact face-model build' and pass --face-model",
                p,
            )
        _LOADED[key] = FaceModel.load(p)
    return _LOADED[key]
