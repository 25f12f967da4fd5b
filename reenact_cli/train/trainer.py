"""`reenact train`: the training loop for the coefficient regressor and the
generator (paper §3.4 and §4), alone or under torchrun (DDP).

A run folder holds everything a run writes::

    RUN/last.pt            checkpoint (config, weights, optimiser + RNG state, step)
    RUN/log.jsonl          one JSON line of losses per --log-every steps
    RUN/samples/*.png      source | driver | output | warped source, per --sample-every

Stages:

* ``regressor``: the coefficient regressor learns the prepared fits (pose,
  c_id, c_exp), L1 in standardised units. Frozen afterwards.
* ``generator``: motion net + reenacting module against the WGAN-GP critic;
  per step one critic update (eq. 8) then one generator update with
  ``10 L_rec + 10 L_FM + 1 L_c + 1 L_adv`` (eq. 4-7). ``L_c`` compares the frozen
  regressor's reading of the output with its reading of the source (identity)
  and of the driver (expression and pose), as in eq. 6.

Never lose work: ``last.pt`` is written atomically every ``--checkpoint-every``
steps, at the end, and on Ctrl-C; a non-finite loss stops the run with the step
and the loss named (the last good checkpoint stays). ``--resume`` continues the
step count, the optimisers and the RNG state.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from ..errors import InputError, OutputError, ReenactError
from ..face.model import FaceModel, load_face_model
from ..models.checkpoint import Checkpoint, load_checkpoint, make_checkpoint, save_checkpoint, tensors_fingerprint
from ..models.config import ModelConfig
from ..models.critic import Critic
from ..models.generator import LearnedGenerator
from ..models.regressor import POSE_DIM, CoefficientRegressor
from . import distributed
from .distributed import DistContext

STAGES = ("regressor", "generator")
LAST = "last.pt"
LOG = "log.jsonl"


class TrainingError(ReenactError):
    """Training cannot go on (e.g. a non-finite loss)."""

    exit_code = 1


class TrainingInterrupted(ReenactError):
    """Ctrl-C: the run was saved and can be resumed."""

    exit_code = 130


@dataclass(frozen=True)
class TrainOptions:
    """What ``reenact train`` was asked to do.

    Attributes:
        dataset: a folder from ``reenact prepare``.
        run_dir: where checkpoints, logs and samples go.
        config: the model config (``paper``, ``tiny`` or from JSON).
        stage: ``regressor`` or ``generator``.
        steps: train until this step count (a resumed run counts on).
        batch_size: per process; None = the config's.
        device: ``auto``, ``cpu`` or ``cuda``.
        regressor: checkpoint with the frozen coefficient regressor (generator
            stage, needed unless the coefficient loss weight is 0).
        perceptual: ``vgg19`` (needs ``vgg_weights``) or ``random`` (tests only).
        vgg_weights: torchvision-format VGG19 state dict.
        resume: continue ``run_dir/last.pt``.
        overwrite: start over in a run folder that already holds a run.
        checkpoint_every, sample_every, log_every: in steps (``sample_every``
            0: one sheet at the end only).
        seed: of the weights' initialisation and of the pairing.
        workers: data-loading processes per training process.
        amp: bfloat16 autocast on CUDA (ignored on CPU).
        face_model: the face model (default: the dataset's).
    """

    dataset: Path
    run_dir: Path
    config: ModelConfig
    stage: str = "generator"
    steps: int = 1000
    batch_size: int | None = None
    device: str = "auto"
    regressor: Path | None = None
    perceptual: str = "vgg19"
    vgg_weights: Path | None = None
    resume: bool = False
    overwrite: bool = False
    checkpoint_every: int = 500
    sample_every: int = 250
    log_every: int = 10
    seed: int = 0
    workers: int = 2
    amp: bool = True
    face_model: Path | None = None


@dataclass
class TrainSummary:
    """What a run did (rank 0's view)."""

    stage: str
    first_step: int
    last_step: int
    seconds: float
    world_size: int
    device: str
    checkpoint: Path
    last_losses: dict[str, float] = field(default_factory=dict)

    @property
    def steps_per_second(self) -> float:
        done = self.last_step - self.first_step
        return done / self.seconds if self.seconds > 0 else float("nan")

    def line(self) -> str:
        losses = ", ".join(f"{k} {v:.4g}" for k, v in self.last_losses.items())
        return (
            f"{self.stage}: steps {self.first_step} -> {self.last_step} in {self.seconds:.1f} s "
            f"({self.steps_per_second:.2f} steps/s, {self.world_size} process(es) on {self.device}); "
            f"last losses: {losses}; saved {self.checkpoint}"
        )


# --------------------------------------------------------------------------- helpers


def _to(batch: dict[str, torch.Tensor], device: str) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_finite(step: int, losses: dict[str, torch.Tensor]) -> None:
    """Raise :class:`TrainingError` naming the step and the loss if any is NaN/inf."""
    for name, value in losses.items():
        if not torch.isfinite(value).all():
            raise TrainingError(
                f"step {step}: loss '{name}' is {value.item()} (not finite); stopped without saving it - "
                "the last good checkpoint is kept; try a lower learning rate or resume from it"
            )


def regressor_targets(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``(B, 12 + K_id + K_exp)`` fitted coefficients of the driver frames."""
    return torch.cat([batch["driver_pose"], batch["driver_c_id"], batch["driver_c_exp"]], dim=1)


def weights_fingerprint(modules: dict[str, nn.Module]) -> str:
    """16 hex digits over every learned parameter (to compare ranks). Buffers
    are left out: BatchNorm's running statistics follow each rank's own
    batches under DDP; the checkpoint holds rank 0's."""
    return tensors_fingerprint((f"{name}.{key}", t) for name, m in modules.items() for key, t in m.named_parameters())


def dataset_statistics(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of the regressor's targets over every prepared frame."""
    rows = [np.concatenate([g.pose, g.c_id, g.c_exp], axis=1) for g in dataset.geometry]
    allrows = np.concatenate(rows, axis=0).astype(np.float64)
    return torch.from_numpy(allrows.mean(axis=0)).float(), torch.from_numpy(allrows.std(axis=0) + 1e-6).float()


# --------------------------------------------------------------------------- stages


class _Standardised(nn.Module):
    """The regressor's raw standardised output as ``forward`` (what DDP wraps)."""

    def __init__(self, net: CoefficientRegressor) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net.standardised(image)


class RegressorStage:
    """Fits :class:`CoefficientRegressor` to the prepared coefficients."""

    name = "regressor"

    def __init__(self, opts: TrainOptions, ctx: DistContext, model: FaceModel, dataset) -> None:
        cfg = opts.config
        self.net = CoefficientRegressor(cfg.regressor, model.num_id, model.num_exp).to(ctx.device)
        mean, std = dataset_statistics(dataset)
        self.net.set_target_statistics(mean.to(ctx.device), std.to(ctx.device))
        wrapped = _Standardised(self.net)
        self.model = DDP(wrapped) if ctx.distributed else wrapped
        t = cfg.train
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.regressor.lr, betas=t.betas)
        self.ctx = ctx

    def modules(self) -> dict[str, nn.Module]:
        return {"regressor": self.net}

    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"regressor": self.opt}

    def step(self, step: int, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        pred = self.model(batch["driver"])
        target = (regressor_targets(batch) - self.net.target_mean) / self.net.target_std
        diff = (pred - target).abs()
        losses = {
            "l1": diff.mean(),
            "pose": diff[:, :POSE_DIM].mean(),
            "c_exp": diff[:, POSE_DIM + self.net.num_id :].mean(),
        }
        check_finite(step, losses)
        self.opt.zero_grad(set_to_none=True)
        losses["l1"].backward()
        self.opt.step()
        return {k: float(v.detach()) for k, v in losses.items()}

    def sample(self, batch: dict[str, torch.Tensor]) -> list[list[np.ndarray]] | None:
        return None


class GeneratorStage:
    """Motion net + reenacting module against the critic (eq. 4-8)."""

    name = "generator"

    def __init__(self, opts: TrainOptions, ctx: DistContext, model: FaceModel, dataset) -> None:
        from .losses import PerceptualLoss
        from .vgg import perceptual_network

        cfg = opts.config
        self.ctx = ctx
        self.weights = cfg.train.losses
        self.generator = LearnedGenerator(cfg, model).to(ctx.device)
        self.critic = Critic(cfg.critic).to(ctx.device)
        if ctx.distributed:
            self.g = DDP(self.generator)
            self.d = DDP(self.critic)
        else:
            self.g, self.d = self.generator, self.critic
        t = cfg.train
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=t.lr, betas=t.betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=t.lr, betas=t.betas)
        self.perceptual = PerceptualLoss(perceptual_network(opts.perceptual, opts.vgg_weights)).to(ctx.device)
        self.regressor: CoefficientRegressor | None = None
        if self.weights.coef > 0:
            if opts.regressor is None:
                raise InputError(
                    "the coefficient loss needs the frozen regressor: train it first with "
                    "'reenact train DATASET --stage regressor', then pass --regressor RUN/last.pt "
                    "(or switch the loss off with --no-coef-loss)"
                )
            ckpt = load_checkpoint(opts.regressor)
            ckpt.check_face_model(model)
            reg = CoefficientRegressor(ckpt.config.regressor, model.num_id, model.num_exp)
            ckpt.load_into("regressor", reg)
            self.regressor = reg.to(ctx.device).eval().requires_grad_(False)
        self.autocast = ctx.device.startswith("cuda") and opts.amp

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "critic": self.critic}

    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "critic": self.opt_d}

    def _amp(self):
        if self.autocast:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        import contextlib

        return contextlib.nullcontext()

    def _forward(self, batch: dict[str, torch.Tensor]):
        return self.g(batch["source"], batch["source_mesh"], batch["driving_mesh"], batch.get("prior_grid"))

    def critic_step(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """One WGAN-GP critic update; real, fake and the interpolates go through
        the critic in one pass (one DDP forward per backward)."""
        fake = fake.detach()
        b = real.shape[0]
        eps = torch.rand(b, 1, 1, 1, device=real.device, dtype=real.dtype)
        mixed = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
        with self._amp():
            scores, _ = self.d(torch.cat([real, fake, mixed], dim=0))
        scores = scores.float()
        s_real, s_fake, s_mixed = scores[:b], scores[b : 2 * b], scores[2 * b :]
        (grad,) = torch.autograd.grad(s_mixed.sum(), mixed, create_graph=True)
        penalty = ((grad.reshape(b, -1).norm(2, dim=1) - 1.0) ** 2).mean()
        wasserstein = s_fake.mean() - s_real.mean()
        return {"critic": wasserstein + self.weights.gp * penalty, "wasserstein": wasserstein, "gp": penalty}

    def step(self, step: int, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        from .losses import feature_matching_loss, generator_adversarial_loss

        self.g.train()
        self.d.train()
        real = batch["driver"]
        with self._amp():
            out = self._forward(batch)
        fake = out.image.float()

        d_losses = self.critic_step(real, fake)
        check_finite(step, d_losses)
        self.opt_d.zero_grad(set_to_none=True)
        d_losses["critic"].backward()
        self.opt_d.step()

        critic = self.critic.requires_grad_(False)
        try:
            with self._amp():
                fake_score, fake_feats = critic(fake)
                with torch.no_grad():
                    _, real_feats = critic(real)
            rec = self.perceptual(fake, real)
            fm = feature_matching_loss([f.float() for f in real_feats], [f.float() for f in fake_feats])
            adv = generator_adversarial_loss(fake_score.float())
            coef = self._coefficient_loss(batch, fake) if self.regressor is not None else fake.new_zeros(())
            w = self.weights
            total = w.generator_total(rec, coef, fm, adv)
            g_losses = {"rec": rec, "fm": fm, "coef": coef, "adv": adv, "total": total}
            check_finite(step, g_losses)
            self.opt_g.zero_grad(set_to_none=True)
            total.backward()
            self.opt_g.step()
        finally:
            critic.requires_grad_(True)
        logs = {f"g_{k}": float(v.detach()) for k, v in g_losses.items()}
        logs |= {f"d_{k}": float(v.detach()) for k, v in d_losses.items()}
        return logs

    def _coefficient_loss(self, batch: dict[str, torch.Tensor], fake: torch.Tensor) -> torch.Tensor:
        """Eq. 6 with the frozen regressor: identity of the output vs the
        regressor's reading of the source, expression and pose vs its reading
        of the driver, all in the regressor's standardised units."""
        from .losses import coefficient_loss

        reg = self.regressor

        def read(images: torch.Tensor) -> dict[str, torch.Tensor]:
            return reg.split(reg.standardised(images))

        with torch.no_grad():
            src, drv = read(batch["source"]), read(batch["driver"])
        return coefficient_loss(read, fake, {"c_id": src["c_id"], "c_exp": drv["c_exp"], "pose": drv["pose"]})

    @torch.no_grad()
    def sample(self, batch: dict[str, torch.Tensor]) -> list[list[np.ndarray]]:
        self.generator.eval()
        n = min(4, batch["source"].shape[0])
        sub = {k: v[:n] if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        out = self.generator(sub["source"], sub["source_mesh"], sub["driving_mesh"], sub.get("prior_grid"))

        def img(t: torch.Tensor) -> np.ndarray:
            return (t.float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

        return [[img(sub["source"][i]), img(sub["driver"][i]), img(out.image[i]), img(out.warped_source[i])] for i in range(n)]


# --------------------------------------------------------------------------- the loop


def _check_run_dir(opts: TrainOptions) -> Checkpoint | None:
    last = opts.run_dir / LAST
    if opts.resume:
        if not last.is_file():
            raise InputError(f"--resume: no {LAST} to continue from", opts.run_dir)
        ckpt = load_checkpoint(last)
        if not ckpt.training or ckpt.training.get("stage") != opts.stage:
            raise InputError(f"--resume: {LAST} is not a '{opts.stage}' training checkpoint", last)
        return ckpt
    if opts.run_dir.exists() and not opts.run_dir.is_dir():
        raise OutputError("the run folder is a file", opts.run_dir)
    if last.exists() and not opts.overwrite:
        raise OutputError(f"already holds a run ({LAST}): pass --resume to continue it or --overwrite to start over", opts.run_dir)
    return None


def _loader(dataset, opts: TrainOptions, ctx: DistContext, batch_size: int):
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(dataset, ctx.world_size, ctx.rank, shuffle=False, drop_last=True) if ctx.distributed else None
    if len(dataset) // ctx.world_size < batch_size:
        raise InputError(f"holds {len(dataset)} training pairs, fewer than one batch of {batch_size} per process", opts.dataset)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        drop_last=True,
        num_workers=opts.workers,
        pin_memory=ctx.device.startswith("cuda"),
        persistent_workers=False,
    )


def _batches(loader, dataset, first_epoch: int):
    """Endless batches; each epoch re-pairs the frames (``set_epoch``)."""
    epoch = first_epoch
    while True:
        dataset.set_epoch(epoch)
        if getattr(loader, "sampler", None) is not None and hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        for batch in loader:
            yield epoch, batch
        epoch += 1


def train(opts: TrainOptions) -> TrainSummary:
    """Run one stage until ``opts.steps``; see the module docstring."""
    if opts.stage not in STAGES:
        raise InputError(f"--stage must be one of {', '.join(STAGES)}, not '{opts.stage}'")
    ctx = distributed.start(opts.device)
    try:
        return _train(opts, ctx)
    finally:
        distributed.stop(ctx)


def _train(opts: TrainOptions, ctx: DistContext) -> TrainSummary:
    from .dataset import PairDataset
    from .prior import WithFlowPrior

    resume_ckpt = _check_run_dir(opts)
    config = resume_ckpt.config if resume_ckpt is not None else opts.config
    opts = replace(opts, config=config)
    torch.manual_seed(opts.seed + ctx.rank)
    model = load_face_model(opts.face_model) if opts.face_model is not None else None
    pairs = PairDataset(opts.dataset, model, seed=opts.seed)
    model = pairs.model
    if pairs.size != config.size:
        raise InputError(
            f"was prepared at {pairs.size} px but the '{config.name}' config works at {config.size} px: "
            f"prepare it again with --size {config.size} or pick a config of that size",
            opts.dataset,
        )
    stage_cls = RegressorStage if opts.stage == "regressor" else GeneratorStage
    if opts.stage == "generator" and config.motion.flow_prior:
        dataset = WithFlowPrior(pairs, model)
    else:
        dataset = pairs
    torch.manual_seed(opts.seed)  # identical initial weights on every rank
    stage = stage_cls(opts, ctx, model, pairs)
    torch.manual_seed(opts.seed + 1000 + ctx.rank)
    first_step = 0
    if resume_ckpt is not None:
        for name, module in stage.modules().items():
            resume_ckpt.load_into(name, module)
        for name, opt in stage.optimisers().items():
            opt.load_state_dict(resume_ckpt.training["optimisers"][name])
        first_step = int(resume_ckpt.training["step"])
        rng = resume_ckpt.training.get("rng", {}).get(str(ctx.rank))
        if rng is not None:
            _set_rng_state(rng)
    batch_size = opts.batch_size or config.train.batch_size
    loader = _loader(dataset, opts, ctx, batch_size)
    steps_per_epoch = max(1, len(loader))

    log_path = opts.run_dir / LOG
    if ctx.is_main:
        opts.run_dir.mkdir(parents=True, exist_ok=True)
        (opts.run_dir / "samples").mkdir(exist_ok=True)
        if not opts.resume and log_path.exists():
            log_path.unlink()  # --overwrite: a fresh run, a fresh log
        start_record = {
            "event": "resume" if opts.resume else "start", "step": first_step, "stage": opts.stage,
            "config": config.name, "perceptual": opts.perceptual, "world_size": ctx.world_size,
            "device": ctx.device, "batch_size": batch_size, "dataset": str(opts.dataset),
        }
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(start_record) + "\n")
    step = first_step
    summary = TrainSummary(opts.stage, first_step, first_step, 0.0, ctx.world_size, ctx.device, opts.run_dir / LAST)

    def save() -> None:
        rng = {str(ctx.rank): _rng_state()}
        if ctx.distributed:
            gathered: list[Any] = [None] * ctx.world_size
            torch.distributed.all_gather_object(gathered, rng)
            rng = {k: v for g in gathered for k, v in g.items()}
        if ctx.is_main:
            training = {
                "stage": opts.stage,
                "step": step,
                "optimisers": {n: o.state_dict() for n, o in stage.optimisers().items()},
                "rng": rng,
                "world_size": ctx.world_size,
                "perceptual": opts.perceptual,
            }
            save_checkpoint(make_checkpoint(config, model, stage.modules(), training), opts.run_dir / LAST, overwrite=True)
        distributed.barrier(ctx)

    from ..tasks.console import progress

    started = time.perf_counter()
    bar_ctx = progress() if ctx.is_main else None
    try:
        if bar_ctx is not None:
            bar_ctx.start()
            task = bar_ctx.add_task(f"training {opts.stage}", total=opts.steps, completed=step)
        batches = _batches(loader, dataset, first_step // steps_per_epoch)
        while step < opts.steps:
            epoch, batch = next(batches)
            batch = _to(batch, ctx.device)
            losses = stage.step(step, batch)
            step += 1
            if step % opts.log_every == 0 or step == opts.steps:
                avg = distributed.mean_over_ranks(ctx, losses)
                summary.last_losses = avg
                if ctx.is_main:
                    elapsed = time.perf_counter() - started
                    record = {"step": step, "epoch": epoch, "seconds": round(elapsed, 3), **{k: round(v, 6) for k, v in avg.items()}}
                    with open(log_path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(record) + "\n")
                    shown = "  ".join(f"{k} {v:.3g}" for k, v in list(avg.items())[:4])
                    bar_ctx.update(task, description=f"training {opts.stage}  {shown}")
            if ctx.is_main and ((opts.sample_every > 0 and step % opts.sample_every == 0) or step == opts.steps):
                rows = stage.sample(batch)
                if rows:
                    _write_sample(opts.run_dir / "samples" / f"step_{step:07d}.png", rows)
            if step % opts.checkpoint_every == 0 and step < opts.steps:
                save()
            if bar_ctx is not None:
                bar_ctx.update(task, completed=step)
        _check_ranks_agree(ctx, stage, step, log_path)
        save()
    except KeyboardInterrupt:
        save()
        raise TrainingInterrupted(f"interrupted at step {step}; saved {opts.run_dir / LAST} (continue with --resume)") from None
    finally:
        if bar_ctx is not None:
            bar_ctx.stop()
    summary.last_step = step
    summary.seconds = time.perf_counter() - started
    return summary


def _check_ranks_agree(ctx: DistContext, stage, step: int, log_path: Path) -> None:
    """Every rank must hold the same weights (DDP keeps them in step); the
    fingerprints go into the log's end record, a disagreement stops the run."""
    mine = weights_fingerprint(stage.modules())
    prints = [mine]
    if ctx.distributed:
        prints = [None] * ctx.world_size
        torch.distributed.all_gather_object(prints, mine)
    if ctx.is_main:
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"event": "end", "step": step, "rank_weights": prints}) + "\n")
    if len(set(prints)) != 1:
        raise TrainingError(f"step {step}: the {ctx.world_size} processes hold different weights ({', '.join(prints)})")


def _write_sample(path: Path, rows: list[list[np.ndarray]]) -> None:
    from ..media.image_io import write_image
    from ..media.visualize import contact_sheet

    labels = [["source", "driver", "output", "warped"][: len(rows[0])] for _ in rows]
    write_image(path, contact_sheet(rows, labels), overwrite=True)


