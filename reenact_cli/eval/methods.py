"""What is evaluated: generators and the two copy baselines, behind one interface.

A method turns one sample (source frame + driver frame, both already cropped)
into an output crop ``(S, S, 3)`` uint8 in the *source's* crop frame.

- ``geometric``: the geometric generator (no weights).
- ``source-copy``: the source crop unchanged (perfect identity, no motion).
- ``driver-copy``: the driver's own crop unchanged (perfect motion, the
  driver's identity; in the self protocol it is cropped around the driver's
  face, not the source's, so PSNR/SSIM also show how far the head moved).

:func:`build_methods` makes the list; a learned generator (a checkpoint) is one
more :class:`GeneratorMethod` with its own ``Reenactor`` and fingerprint.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..face.model import FaceModel
from ..face.regress import FaceCrop
from ..pipeline import DriverFace, PipelineConfig, Reenactor, SourceFace

BASELINES = ("source-copy", "driver-copy")


@dataclass(frozen=True)
class Sample:
    """One analysed sample.

    Attributes:
        key: the pair's id (sources with the same ``source_key`` are one source).
        source_key: ``file#frame`` of the source.
        source_frame: the source's full RGB frame.
        source: the source's face crop.
        driver: the driver's face crop.
        relative: drive relative to the source frame (self protocol: the source
            is the driver clip's reference frame, paper Table 1); source and
            driver are then frames of one video, so the driver's head
            translation and scale are measured in the source's crop.
    """

    key: str
    source_key: str
    source_frame: np.ndarray
    source: FaceCrop
    driver: FaceCrop
    relative: bool


class Method(Protocol):
    """Something that produces an output crop for a sample."""

    name: str
    kind: str
    checkpoint: str | None
    fingerprint: str

    def output(self, sample: Sample) -> np.ndarray: ...


@dataclass
class GeneratorMethod:
    """A generator run through :class:`~reenact_cli.pipeline.Reenactor` (no paste-back)."""

    name: str
    reenactor: Reenactor
    fingerprint: str
    checkpoint: str | None = None
    kind: str = "generator"
    _source: tuple[str, SourceFace] | None = field(default=None, repr=False)

    def output(self, sample: Sample) -> np.ndarray:
        if self._source is None or self._source[0] != sample.source_key:
            self._source = (sample.source_key, self.reenactor.source(sample.source_frame, sample.source_key))
        src = self._source[1]
        if not sample.relative:
            driver = DriverFace(sample.driver, self.reenactor.model.fit(sample.driver.mesh.vertices))
            return self.reenactor.drive(src, driver, paste_back=False).crop
        # Relative motion compares the driver's fit with the source's (its reference
        # frame), so both must be in one pixel frame: the driver's mesh is moved from
        # its own crop into the source's crop (the two are frames of one video).
        size = src.face.crop.size
        frame_size = sample.driver.crop.frame_size
        mesh = sample.driver.mesh.transformed(sample.driver.crop.crop_to_frame, frame_size)
        mesh = mesh.transformed(src.face.crop.frame_to_crop, (size, size))
        fit = self.reenactor.model.fit(mesh.vertices)
        return self.reenactor.drive(src, fit, driver_reference=src.fit, paste_back=False).crop


@dataclass(frozen=True)
class CopyMethod:
    """A baseline that returns one of the inputs' crops unchanged."""

    name: str
    fingerprint: str = "-"
    checkpoint: str | None = None
    kind: str = "baseline"

    def output(self, sample: Sample) -> np.ndarray:
        return sample.source.image if self.name == "source-copy" else sample.driver.image


def build_methods(config: PipelineConfig, model: FaceModel, baselines: bool = True, checkpoint: Path | None = None) -> list[Method]:
    """The methods one ``reenact eval`` run compares, in table order.

    The geometric generator always; the learned generator of ``checkpoint``
    when one is given; then the baselines.
    """
    from dataclasses import replace

    geometric = replace(config, checkpoint=None)
    methods: list[Method] = [
        GeneratorMethod("geometric", Reenactor(geometric, face_model=model), f"no weights; face model {model.fingerprint}"),
    ]
    if checkpoint is not None:
        learned = Reenactor(replace(config, checkpoint=checkpoint), face_model=model)
        ckpt = learned.generator.checkpoint
        methods.append(GeneratorMethod("learned", learned, ckpt.fingerprint(), str(checkpoint)))
    if baselines:
        methods.extend(CopyMethod(name) for name in BASELINES)
    return methods
