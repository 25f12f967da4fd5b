"""`reenact info`: what a checkpoint or a config holds, with parameter counts
per module (the paper's Fig. 2 split)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ModelInfo:
    """A generator described.

    Attributes:
        title: config name and where it came from.
        facts: ``(label, value)`` lines.
        parameters: ``(module, count)`` rows, the total last.
    """

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    parameters: list[tuple[str, int]] = field(default_factory=list)


def describe_model(checkpoint: Path | None, config_name: str, face_model_path: Path | None) -> ModelInfo:
    """Build every module of the generator (from ``checkpoint`` when given,
    else from the ``config_name`` preset or JSON file) and count parameters."""
    from ..face.model import load_face_model
    from ..models.checkpoint import load_checkpoint
    from ..models.config import load_config
    from ..models.critic import Critic
    from ..models.generator import LearnedGenerator, parameter_counts
    from ..models.regressor import CoefficientRegressor

    face_model = load_face_model(face_model_path)
    facts: list[tuple[str, str]] = []
    if checkpoint is not None:
        ckpt = load_checkpoint(checkpoint)
        cfg = ckpt.config
        title = f"{checkpoint} ({cfg.name} config)"
        facts += [
            ("written by", f"reenact {ckpt.package_version}"),
            ("weights fingerprint", ckpt.fingerprint()),
            ("face model", ckpt.face_model_fingerprint + ("" if ckpt.face_model_fingerprint == face_model.fingerprint else " (NOT the one in use)")),
            ("modules saved", ", ".join(sorted(ckpt.modules))),
        ]
        if ckpt.training:
            facts.append(("training step", str(ckpt.training.get("step", "?"))))
    else:
        cfg = load_config(config_name)
        title = f"{cfg.name} config (untrained)"
        facts.append(("face model", face_model.fingerprint))
    m = cfg.motion
    r = cfg.reenacting
    facts += [
        ("working size", f"{cfg.size} x {cfg.size}"),
        ("motion net", f"{len(m.encoder_channels)} ChebConv blocks (K={m.cheb_k}) {m.encoder_channels}, latent {m.latent_dim}, "
         f"decoder {m.decoder_start}px -> {m.decoder_channels}, flow prior {'on' if m.flow_prior else 'off'}"),
        ("reenacting module", f"encoder {r.encoder_channels}, occlusion net {'4-level hourglass ' + str(r.occlusion_channels) if r.occlusion else 'off'}, "
         f"{r.bottleneck_blocks} bottleneck blocks"),
        ("losses", f"rec {cfg.train.losses.rec:g}, FM {cfg.train.losses.fm:g}, coefficient {cfg.train.losses.coef:g}, adversarial {cfg.train.losses.adv:g}"),
    ]
    g = LearnedGenerator(cfg, face_model)
    rows = [(f"motion net / {k}", v) for k, v in parameter_counts(g.motion_net).items() if k != "total"]
    rows += [(f"reenacting / {k}", v) for k, v in parameter_counts(g.reenacting).items() if k != "total"]
    gen_total = sum(v for _, v in rows)
    rows.append(("generator total", gen_total))
    rows.append(("critic (training only)", parameter_counts(Critic(cfg.critic))["total"]))
    rows.append(("coefficient regressor (training only)", parameter_counts(CoefficientRegressor(cfg.regressor, face_model.num_id, face_model.num_exp))["total"]))
    return ModelInfo(title, facts, rows)
