"""`reenact train`: options -> :class:`~reenact_cli.train.trainer.TrainOptions`,
run, print the summary (rank 0 only)."""
from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models.config import ModelConfig, load_config
from .console import console


def with_ablations(config: ModelConfig, no_occlusion: bool, no_coef_loss: bool, encoder: str) -> ModelConfig:
    """The config with Table 3's switches applied."""
    if encoder not in ("gcn", "cnn"):
        raise InputError(f"--encoder must be gcn or cnn, not '{encoder}'")
    if no_occlusion:
        config = replace(config, reenacting=replace(config.reenacting, occlusion=False))
    if encoder != config.motion.encoder:
        config = replace(config, motion=replace(config.motion, encoder=encoder))
    if no_coef_loss:
        config = replace(config, train=replace(config.train, losses=replace(config.train.losses, coef=0.0)))
    return config


def run_train(config_name: str, no_occlusion: bool, no_coef_loss: bool, encoder: str, **options: Any) -> None:
    """Build :class:`TrainOptions` from ``options`` (its fields but ``config``)
    and the config, train, print the summary on rank 0."""
    from ..train.trainer import TrainOptions, train

    dataset: Path = options["dataset"]
    if not dataset.is_dir():
        raise InputError("no such dataset folder (make one with 'reenact prepare')", dataset)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    if options.get("perceptual") == "random":
        from ..train.vgg import RandomVGGWarning

        warnings.simplefilter("ignore", RandomVGGWarning)  # said once, below, in one line
        if main_rank:
            console.print(
                "[bold red]warning:[/] --perceptual random: the reconstruction loss uses a RANDOM VGG19 "
                "(for tests only; train with --vgg-weights)",
            )
    config = with_ablations(load_config(config_name), no_occlusion, no_coef_loss, encoder)
    summary = train(TrainOptions(config=config, **options))
    if main_rank:
        console.print(summary.line(), markup=False, soft_wrap=True)
