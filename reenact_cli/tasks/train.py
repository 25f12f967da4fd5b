"""`reenact train`: options -> :class:`~reenact_cli.train.trainer.TrainOptions`,
run, print the summary (rank 0 only)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path


def run_train(
    dataset: Path,
    output: Path,
    config_name: str,
    stage: str,
    steps: int,
    batch_size: int | None,
    device: str,
    regressor: Path | None,
    vgg_weights: Path | None,
    perceptual: str,
    no_occlusion: bool,
    no_coef_loss: bool,
    encoder: str,
    resume: bool,
    overwrite: bool,
    checkpoint_every: int,
    sample_every: int,
    log_every: int,
    seed: int,
    workers: int,
    amp: bool,
    face_model: Path | None,
) -> None:
    from ..errors import InputError
    from ..models.config import load_config
    from ..train.trainer import TrainOptions, train
    from .console import console

    if not dataset.is_dir():
        raise InputError("no such dataset folder (make one with 'reenact prepare')", dataset)
    import os

    main_rank = int(os.environ.get("RANK", "0")) == 0
    if perceptual == "random":
        import warnings

        from ..train.vgg import RandomVGGWarning

        warnings.simplefilter("ignore", RandomVGGWarning)  # said once, below, in one line
    if perceptual == "random" and main_rank:
        console.print(
            "[bold red]warning:[/] --perceptual random: the reconstruction loss uses a RANDOM VGG19 "
            "(for tests only; train with --vgg-weights)",
        )
    config = load_config(config_name)
    if no_occlusion:
        config = replace(config, reenacting=replace(config.reenacting, occlusion=False))
    if encoder not in ("gcn", "cnn"):
        raise InputError(f"--encoder must be gcn or cnn, not '{encoder}'")
    if encoder != config.motion.encoder:
        config = replace(config, motion=replace(config.motion, encoder=encoder))
    if no_coef_loss:
        config = replace(config, train=replace(config.train, losses=replace(config.train.losses, coef=0.0)))
    opts = TrainOptions(
        dataset, output, config, stage, steps, batch_size, device, regressor, perceptual, vgg_weights,
        resume, overwrite, checkpoint_every, sample_every if sample_every > 0 else steps + 1, log_every, seed, workers, amp,
        face_model,
    )
    summary = train(opts)
    if main_rank:
        console.print(summary.line(), markup=False, soft_wrap=True)
