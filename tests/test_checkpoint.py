"""Checkpoints and the learned generator inside the pipeline (issue 4):
save -> load -> identical outputs; every bad checkpoint is one clear error; an
untrained model with the flow prior reproduces the geometric flow on a real face.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from reenact_cli.errors import InputError, OutputError
from reenact_cli.face.model import load_face_model
from reenact_cli.models.checkpoint import load_checkpoint, load_generator, make_checkpoint, save_checkpoint
from reenact_cli.models.config import tiny
from reenact_cli.models.generator import LearnedGenerator
from reenact_cli.models.motion_net import identity_grid
from reenact_cli.pipeline import PipelineConfig, Reenactor


@pytest.fixture(scope="module")
def face_model():
    return load_face_model()


def perturbed_tiny(face_model, seed: int = 0) -> LearnedGenerator:
    """A tiny generator whose zero-initialised heads are randomised (so outputs
    depend on every weight)."""
    torch.manual_seed(seed)
    g = LearnedGenerator(tiny(), face_model)
    with torch.no_grad():
        g.motion_net.decoder.head.weight.normal_(std=1e-2)
        g.reenacting.occlusion_net.head.weight.normal_(std=1e-2)
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(std=0.1)
                m.running_var.uniform_(0.5, 1.5)
    return g.eval()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, face_model):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(make_checkpoint(tiny(), face_model, {"generator": perturbed_tiny(face_model)}), path)
    return path


def test_save_load_gives_identical_outputs(tmp_path, face_model, tiny_checkpoint):
    original = perturbed_tiny(face_model)
    loaded, ckpt = load_generator(tiny_checkpoint, face_model)
    assert ckpt.config == tiny() and ckpt.face_model_fingerprint == face_model.fingerprint
    torch.manual_seed(5)
    src = torch.rand(1, 3, 64, 64)
    ms = torch.rand(1, 468, 3) * 64
    md = ms + torch.randn_like(ms)
    prior = identity_grid(1, 64)
    with torch.no_grad():
        a, b = original(src, ms, md, prior), loaded(src, ms, md, prior)
    assert torch.equal(a.image, b.image) and torch.equal(a.grid, b.grid)
    assert not torch.equal(a.grid, prior)  # the perturbed head really moves the flow
    assert len(ckpt.fingerprint()) == 16
    assert ckpt.fingerprint() == load_checkpoint(tiny_checkpoint).fingerprint()


def test_save_refuses_to_overwrite(tmp_path, face_model):
    path = tmp_path / "x.pt"
    path.write_bytes(b"precious")
    ckpt = make_checkpoint(tiny(), face_model, {"generator": LearnedGenerator(tiny(), face_model)})
    with pytest.raises(OutputError):
        save_checkpoint(ckpt, path)
    assert path.read_bytes() == b"precious"
    save_checkpoint(ckpt, path, overwrite=True)
    assert load_checkpoint(path).config == tiny()


def test_bad_checkpoints_are_one_line_errors(tmp_path, face_model, tiny_checkpoint):
    with pytest.raises(InputError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="not a readable checkpoint") as info:
        load_checkpoint(junk)
    assert "\n" not in str(info.value) and str(junk) in str(info.value)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(InputError, match="not a reenact checkpoint"):
        load_checkpoint(other)
    newer = tmp_path / "newer.pt"
    payload = torch.load(tiny_checkpoint, weights_only=True)
    torch.save({**payload, "format_version": 99}, newer)
    with pytest.raises(InputError, match="newer than this reenact"):
        load_checkpoint(newer)


def test_face_model_mismatch_is_explained(tmp_path, face_model, tiny_checkpoint):
    payload = torch.load(tiny_checkpoint, weights_only=True)
    payload["face_model"]["fingerprint"] = "0123456789abcdef"
    path = tmp_path / "other_face_model.pt"
    torch.save(payload, path)
    with pytest.raises(InputError, match="trained with face model 0123456789abcdef.*--face-model"):
        load_generator(path, face_model)


def test_weights_that_do_not_match_the_config(tmp_path, face_model, tiny_checkpoint):
    payload = torch.load(tiny_checkpoint, weights_only=True)
    payload["config"]["motion"]["latent_dim"] = 48
    path = tmp_path / "mismatch.pt"
    torch.save(payload, path)
    with pytest.raises(InputError, match="'generator' weights do not match its config"):
        load_generator(path, face_model)


def test_untrained_learned_generator_keeps_the_geometric_flow(tmp_path, face_model, hopper, reenactor, hopper_source):
    """With the flow prior and an untrained model, the learned pipeline's flow
    equals the geometric generator's on a real face (pipeline side 256, model 64)."""
    path = tmp_path / "untrained.pt"
    save_checkpoint(make_checkpoint(tiny(), face_model, {"generator": LearnedGenerator(tiny(), face_model)}), path)
    learned = Reenactor(PipelineConfig(checkpoint=path, device="cpu"))
    assert learned.generator.name == "learned"
    src = learned.source(hopper, "hopper")
    drv = learned.driver(np.ascontiguousarray(hopper[:, ::-1]), "mirrored")
    got = learned.drive(src, drv)
    want = reenactor.drive(hopper_source, drv)
    assert got.crop.shape == want.crop.shape == (256, 256, 3)
    assert np.array_equal(got.driving_mesh, want.driving_mesh)
    # the flow survives 256 -> 64 -> 256 resampling; a bilinear round trip of a smooth field
    err = np.abs(got.output.flow.source_xy - want.output.flow.source_xy)[want.output.flow.face]
    assert np.median(err) < 0.5 and err.max() < 8.0
    # paste-back: the frame keeps its size; pixels far from the face are untouched
    assert got.frame.shape == hopper.shape
    assert np.array_equal(got.frame[:20, :20], hopper[:20, :20])
    assert not np.array_equal(got.frame, hopper)


def test_learned_flow_equals_geometric_at_the_model_side(tmp_path, face_model, hopper):
    """Same check without resampling: a model whose side equals the pipeline's."""
    cfg = replace(tiny(), size=128)
    path = tmp_path / "side128.pt"
    save_checkpoint(make_checkpoint(cfg, face_model, {"generator": LearnedGenerator(cfg, face_model)}), path)
    r = Reenactor(PipelineConfig(size=128, checkpoint=path, device="cpu"))
    src = r.source(hopper, "hopper")
    drv = r.driver(np.ascontiguousarray(hopper[:, ::-1]), "mirrored")
    got = r.drive(src, drv, paste_back=False)
    prior = r.generator.prior(src.mesh, got.driving_mesh, 128)
    assert np.allclose(got.output.flow.source_xy, prior.source_xy, atol=1e-4)
