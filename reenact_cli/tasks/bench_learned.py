"""`reenact bench --generator learned`: per-stage milliseconds of the paper's
generator, in the layout of the paper's Table 5 (median of N after warm-up).

Stages per driver frame: mesh regression (MediaPipe, tracking mode), fit and
compose, the geometric flow prior, the motion net, the occlusion net (with the
warp of the source), the appearance encoder, the decoder (with the feature
warp). The encoder is listed per frame as in the paper, although a video run
computes it once per source; ``total`` counts it.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..face.regress import MeshRegressor
from ..media.image_io import read_image
from ..pipeline import PipelineConfig, Reenactor
from .bench import CpuMeter, HostSpeed, machine_load
from .console import progress
from .demo import demo_portrait

LEARNED_STAGES = ("mesh_regression", "fit_compose", "flow_prior", "motion_net", "occlusion_net", "encoder", "decoder", "total")

#: The paper's Table 5 (ms at 256 x 256 on an Nvidia 2080 Ti), for reference.
PAPER_TABLE5_MS = {"mesh_regression": 64.0, "motion_net": 37.0, "occlusion_net": 10.0, "encoder": 7.0, "decoder": 12.0}


@dataclass(frozen=True)
class LearnedBenchResult:
    """Median and 90th-percentile milliseconds per stage of the learned generator."""

    config: str
    checkpoint: str | None
    size: int
    device: str
    device_name: str
    threads: int
    runs: int
    median_ms: dict[str, float]
    p90_ms: dict[str, float]
    parameters: dict[str, int]
    load_average: float = 0.0
    other_cpu: float | None = None
    cpu_reference_ms: float | None = None

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def _device_name(device: str) -> str:
    import platform

    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_learned_bench(
    source: Path | None,
    driver: Path | None,
    config: PipelineConfig,
    model_config: str,
    runs: int,
    warmup: int,
) -> LearnedBenchResult:
    """Time the learned generator stage by stage.

    ``config.checkpoint`` gives trained weights; without one the generator of
    ``model_config`` (``paper``, ``tiny`` or a JSON file) is built untrained
    (timing does not depend on the weights).
    """
    import torch

    from ..face.model import load_face_model
    from ..models.adapter import LearnedPipelineGenerator
    from ..models.checkpoint import load_generator
    from ..models.config import load_config
    from ..models.generator import LearnedGenerator, parameter_counts
    from ..pipeline import resolve_device

    face_model = load_face_model(config.face_model)
    device = resolve_device(config.device)
    if config.checkpoint is not None:
        net, _ = load_generator(config.checkpoint, face_model, device)
        name = f"checkpoint ({net.config.name})"
    else:
        cfg = load_config(model_config)
        net = LearnedGenerator(cfg, face_model).to(device).eval()
        name = f"{cfg.name} (untrained)"
    gen = LearnedPipelineGenerator(net, device, config.flow, face_model.pose_weights, face_model.mirror)
    r = Reenactor(config, generator=gen, face_model=face_model)
    src_img = read_image(source if source is not None else demo_portrait())
    src = r.source(src_img, "source")
    if driver is not None:
        frame = r.driver(read_image(driver), str(driver)).face.image
    else:
        frame = np.ascontiguousarray(src.face.image[:, ::-1])
    tracker = MeshRegressor(static=False, max_faces=1)

    def sync() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    samples: dict[str, list[float]] = {key: [] for key in LEARNED_STAGES}
    host = HostSpeed()
    with torch.no_grad(), progress() as bar:
        task = bar.add_task(f"benchmarking {name} on {device}", total=warmup + runs)
        meter = CpuMeter()
        for i in range(warmup + runs):
            if i == warmup:
                meter.start()
            t0 = sync()
            meshes = tracker.detect(frame)
            t1 = time.perf_counter()
            fit = r.model.fit(meshes[0].vertices)
            m_d = r.model.compose(src.fit, fit)
            t2 = time.perf_counter()
            prior = gen.prior(src.mesh, m_d, config.size)
            grid, ms, md = gen.inputs(src.prepared, src.mesh, m_d, prior)
            t3 = sync()
            flow = net.motion_net(ms, md, grid)
            t4 = sync()
            _, occ, mask = net.reenacting.occlusion(src.prepared.image, flow)
            t5 = sync()
            feats = net.reenacting.encode(src.prepared.image)
            t6 = sync()
            net.reenacting.render(feats, flow, occ, mask)
            t7 = sync()
            if i >= warmup:
                parts = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t7 - t0)
                for key, v in zip(LEARNED_STAGES, parts):
                    samples[key].append(v * 1e3)
                host.after_run(i - warmup)
            bar.advance(task)
    params = {f"motion_net.{k_}": v for k_, v in parameter_counts(net.motion_net).items() if k_ != "total"}
    params |= {f"reenacting.{k_}": v for k_, v in parameter_counts(net.reenacting).items() if k_ != "total"}
    params["total"] = sum(p.numel() for p in net.parameters())
    return LearnedBenchResult(
        name,
        str(config.checkpoint) if config.checkpoint else None,
        net.config.size,
        device,
        _device_name(device),
        torch.get_num_threads(),
        runs,
        {key: float(np.median(v)) for key, v in samples.items()},
        {key: float(np.percentile(v, 90)) for key, v in samples.items()},
        params,
        machine_load(),
        meter.stop(),
        host.median_ms(),
    )
