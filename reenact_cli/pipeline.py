"""The reenactment pipeline, stage by stage.

Each stage is a plain function you can call alone::

    regress   image -> FaceCrop            reenact_cli.face.regress.MeshRegressor.face_crop
    fit       mesh  -> FaceFit             reenact_cli.face.model.FaceModel.fit
    compose   (fit_s, fit_d, take) -> M_d  reenact_cli.face.model.FaceModel.compose
    flow      (M_s, M_d) -> FlowField      reenact_cli.flow.geometric.geometric_flow
    render    (layers, flow) -> Rendered   reenact_cli.render.geometric.render
    paste     (frame, crop, ...) -> frame  reenact_cli.render.geometric.paste_back

:class:`Reenactor` strings them together for the common case and records
per-stage timings (milliseconds).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .conventions import DEFAULT_SIZE
from .errors import ReenactError
from .face.model import FaceFit, FaceModel, Take, load_face_model
from .face.pose import rotation_angle_deg
from .face.regress import FaceCrop, MeshRegressor
from .flow.geometric import FlowField, GeometricFlowConfig, geometric_flow


@dataclass(frozen=True)
class PipelineConfig:
    """Settings shared by every run.

    Attributes:
        size: working crop side in pixels.
        face_index: which face when an image has several (0 = largest).
        face_model: face model ``.npz``; None = the shipped default.
        device: ``auto``, ``cpu`` or ``cuda`` (used by the learned generator).
        flow: geometric flow tunables.
        checkpoint: a trained generator (``reenact train``); None = the
            geometric generator, which needs no weights.
    """

    size: int = DEFAULT_SIZE
    face_index: int = 0
    face_model: Path | None = None
    device: str = "auto"
    flow: GeometricFlowConfig = field(default_factory=GeometricFlowConfig)
    checkpoint: Path | None = None


@dataclass(frozen=True)
class SourceFace:
    """A source photo, analysed once and reused for every driver.

    Attributes:
        frame: the original RGB image.
        face: its face crop and mesh.
        fit: face-model fit of the crop mesh.
        mesh: ``M_s``, ``(468, 3)`` crop pixels.
        prepared: what the generator precomputed (e.g. layers).
    """

    frame: np.ndarray
    face: FaceCrop
    fit: FaceFit
    mesh: np.ndarray
    prepared: Any


@dataclass(frozen=True)
class DriverFace:
    """A driving image's face crop and fit."""

    face: FaceCrop
    fit: FaceFit


@dataclass(frozen=True)
class GeneratorOutput:
    """What a generator returns for one driving mesh.

    Attributes:
        crop: ``(S, S, 3)`` uint8 reenacted crop.
        flow: the flow used (for pictures and tests).
        unseen: ``(S, S)`` bool, pixels the source never showed.
        extra: generator-specific data its ``paste`` needs.
    """

    crop: np.ndarray
    flow: FlowField
    unseen: np.ndarray
    extra: Any = None


@dataclass(frozen=True)
class DriveResult:
    """One reenacted image.

    Attributes:
        crop: ``(S, S, 3)`` uint8, the reenacted crop.
        frame: the source frame with the crop pasted back (None if not asked).
        driving_mesh: ``M_d`` ``(468, 3)`` in source-crop pixels.
        output: the generator's full output.
        timings: milliseconds per stage.
        head_turn_deg: how far ``M_d``'s head rotation is from the source's,
            degrees (geodesic: yaw, pitch and roll together); a pure warp
            shows only what the source showed, so large turns look worse.
    """

    crop: np.ndarray
    frame: np.ndarray | None
    driving_mesh: np.ndarray
    output: GeneratorOutput
    timings: dict[str, float]
    head_turn_deg: float = 0.0


class Generator(Protocol):
    """Turns a source crop and two meshes into a reenacted crop.

    Two implementations share this interface: the geometric one (no weights)
    and the paper's learned one.
    """

    name: str

    def prepare(self, crop_image: np.ndarray, source_mesh: np.ndarray) -> Any: ...

    def generate(self, prepared: Any, source_mesh: np.ndarray, driving_mesh: np.ndarray) -> GeneratorOutput: ...

    def paste(self, frame: np.ndarray, face: FaceCrop, prepared: Any, output: GeneratorOutput) -> np.ndarray: ...


class GeometricGenerator:
    """Dense flow from the two meshes + layered warp. Needs no trained weights."""

    name = "geometric"

    def __init__(
        self,
        flow_config: GeometricFlowConfig = GeometricFlowConfig(),
        rigid_weights: np.ndarray | None = None,
        mirror: np.ndarray | None = None,
    ) -> None:
        from .face.segmentation import PersonSegmenter

        self.flow_config = flow_config
        self.rigid_weights = rigid_weights
        self.mirror = mirror
        self._segmenter = PersonSegmenter()

    def prepare(self, crop_image: np.ndarray, source_mesh: np.ndarray) -> Any:
        from .render.geometric import prepare_layers

        return prepare_layers(crop_image, source_mesh, self._segmenter)

    def flow(
        self, source_mesh: np.ndarray, driving_mesh: np.ndarray, size: int, head_occluder: np.ndarray | None = None
    ) -> FlowField:
        """The geometric flow (``head_occluder``: the source layers' own, see
        :func:`geometric_flow`)."""
        return geometric_flow(source_mesh, driving_mesh, size, self.flow_config, self.rigid_weights, self.mirror, head_occluder)

    def generate(self, prepared: Any, source_mesh: np.ndarray, driving_mesh: np.ndarray) -> GeneratorOutput:
        from .render.geometric import render

        flow = self.flow(source_mesh, driving_mesh, prepared.image.shape[0], prepared.head_occluder)
        rendered = render(prepared, flow)
        return GeneratorOutput(rendered.image, flow, rendered.unseen, rendered)

    def paste(self, frame: np.ndarray, face: FaceCrop, prepared: Any, output: GeneratorOutput) -> np.ndarray:
        from .render.geometric import paste_back

        return paste_back(frame, face.crop, prepared, output.flow, output.extra)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cuda`` without a GPU is
    an error."""
    if device not in ("auto", "cpu", "cuda"):
        raise ReenactError(f"--device must be auto, cpu or cuda, not '{device}'")
    if device == "cpu":
        return "cpu"
    import importlib.util

    if device == "auto" and importlib.util.find_spec("torch") is None:
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ReenactError("--device cuda was requested but no CUDA device is available")
    return "cpu"


class Reenactor:
    """Source analysis, driver analysis and reenactment with one generator.

    Args:
        config: pipeline settings.
        generator: defaults to the learned generator of ``config.checkpoint``
            when one is given, else :class:`GeometricGenerator`.
        face_model: defaults to ``config.face_model`` or the shipped model.
        static: photo mode (detect every image) vs video tracking mode for drivers.
    """

    def __init__(
        self,
        config: PipelineConfig = PipelineConfig(),
        generator: Generator | None = None,
        face_model: FaceModel | None = None,
        static: bool = True,
    ) -> None:
        self.config = config
        self.model = face_model or load_face_model(config.face_model)
        if generator is None and config.checkpoint is not None:
            generator = self._learned_generator(config.checkpoint)
        self.generator = generator or GeometricGenerator(config.flow, self.model.skull_weights, self.model.mirror)
        self._source_regressor = MeshRegressor(static=True)
        self._driver_regressor = self._source_regressor if static else MeshRegressor(static=False, max_faces=1)

    @property
    def device(self) -> str:
        """The torch device the learned generator runs on (resolved on first use;
        the geometric generator never needs torch)."""
        if "_device" not in self.__dict__:
            self._device = resolve_device(self.config.device)
        return self._device

    def _learned_generator(self, checkpoint: Path) -> Generator:
        from .models.adapter import LearnedPipelineGenerator
        from .models.checkpoint import load_generator

        net, ckpt = load_generator(checkpoint, self.model, self.device)
        return LearnedPipelineGenerator(net, self.device, self.config.flow, self.model.skull_weights, self.model.mirror, ckpt)

    def source(self, image: np.ndarray, name: str = "source") -> SourceFace:
        """Find, crop, fit and prepare the source face."""
        face = self._source_regressor.face_crop(image, self.config.size, self.config.face_index, name)
        fit = self.model.fit(face.mesh.vertices)
        mesh = self.model.source_mesh(fit)
        prepared = self.generator.prepare(face.image, mesh)
        return SourceFace(image, face, fit, mesh, prepared)

    def driver(self, image: np.ndarray, name: str = "driver", timings: dict[str, float] | None = None) -> DriverFace:
        """Find, crop and fit a driving face."""
        t0 = time.perf_counter()
        face = self._driver_regressor.face_crop(image, self.config.size, self.config.face_index, name)
        t1 = time.perf_counter()
        fit = self.model.fit(face.mesh.vertices)
        if timings is not None:
            timings["mesh_regression"] = (t1 - t0) * 1e3
            timings["fit"] = (time.perf_counter() - t1) * 1e3
        return DriverFace(face, fit)

    def drive(
        self,
        source: SourceFace,
        driver: DriverFace | FaceFit,
        take: Take = Take(),
        driver_reference: FaceFit | None = None,
        paste_back: bool = True,
        timings: dict[str, float] | None = None,
    ) -> DriveResult:
        """Reenact ``source`` with ``driver``'s pose and expression."""
        timings = {} if timings is None else timings
        t0 = time.perf_counter()
        drv_fit = driver.fit if isinstance(driver, DriverFace) else driver
        driving_mesh = self.model.compose(source.fit, drv_fit, take, driver_reference)
        t1 = time.perf_counter()
        out = self.generator.generate(source.prepared, source.mesh, driving_mesh)
        t2 = time.perf_counter()
        frame = self.generator.paste(source.frame, source.face, source.prepared, out) if paste_back else None
        t3 = time.perf_counter()
        timings.update({"compose": (t1 - t0) * 1e3, "generate": (t2 - t1) * 1e3, "paste": (t3 - t2) * 1e3})
        turn = rotation_angle_deg(source.fit.pose.rotation, self.model.driving_rotation(source.fit, drv_fit, take, driver_reference))
        return DriveResult(out.crop, frame, driving_mesh, out, timings, turn)
