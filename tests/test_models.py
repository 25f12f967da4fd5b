"""The learned generator's modules (issue 4): shapes, gradients, the graph
operators against dense references, the mesh hierarchy, the flow prior, configs.

Meshes come from real faces: the matplotlib portrait everywhere, and photos of
../shared/faces where present.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reenact_cli.face.model import load_face_model
from reenact_cli.face.topology import face_topology
from reenact_cli.models.config import ModelConfig, ReenactingConfig, load_config, paper, tiny
from reenact_cli.models.critic import Critic
from reenact_cli.models.generator import LearnedGenerator, parameter_counts
from reenact_cli.models.graph import (
    ChebConv,
    GraphResBlock,
    normalized_laplacian,
    scaled_laplacian,
    sparse_vertex_matmul,
    to_torch_sparse,
)
from reenact_cli.models.hierarchy import build_hierarchy, face_hierarchy
from reenact_cli.models.motion_net import identity_grid
from reenact_cli.models.regressor import CoefficientRegressor
from reenact_cli.errors import InputError


@pytest.fixture(scope="module")
def face_model():
    return load_face_model()


@pytest.fixture(scope="module")
def real_meshes(hopper_source, reenactor):
    """``(M_s, M_d)`` of the portrait driven by its mirror image, 256-pixel crop."""
    mirrored = np.ascontiguousarray(hopper_source.frame[:, ::-1])
    drv = reenactor.driver(mirrored, "mirrored")
    m_d = reenactor.model.compose(hopper_source.fit, drv.fit)
    return hopper_source.mesh.astype(np.float32), m_d.astype(np.float32)


def batch_of(meshes, size: int, batch: int = 2):
    """Meshes scaled from the 256 crop to ``size``, as a batch (second item mirrored in time)."""
    k = size / 256.0
    ms = torch.from_numpy(np.stack([meshes[0], meshes[1]][:batch]) * k).float()
    md = torch.from_numpy(np.stack([meshes[1], meshes[0]][:batch]) * k).float()
    return ms, md


# --------------------------------------------------------------------------- graph operators


def test_scaled_laplacian_spectrum_is_in_minus_one_one():
    edges = face_topology().edges
    lap = scaled_laplacian(edges, 468).toarray()
    eig = np.linalg.eigvalsh(lap)
    assert np.allclose(lap, lap.T)
    assert eig.max() == pytest.approx(1.0, abs=1e-9)
    assert eig.min() >= -1.0 - 1e-9
    # The normalised Laplacian annihilates D^1/2 1.
    norm = normalized_laplacian(edges, 468).toarray()
    deg = np.bincount(edges.ravel(), minlength=468).astype(float)
    assert np.abs(norm @ np.sqrt(deg)).max() < 1e-9


def test_chebconv_equals_dense_reference():
    torch.manual_seed(0)
    edges = face_topology().edges
    lap = scaled_laplacian(edges, 468)
    conv = ChebConv(to_torch_sparse(lap), 6, 5, K=4)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(3, 468, 6)
    dense = torch.from_numpy(lap.toarray()).float()
    t = [torch.eye(468), dense]
    for _ in range(2, 4):
        t.append(2 * dense @ t[-1] - t[-2])
    expected = sum(torch.einsum("uv,bvi,io->buo", t[k], x, conv.weight[k]) for k in range(4)) + conv.bias
    assert torch.allclose(conv(x), expected, atol=1e-4)


def test_sparse_product_stays_float32_under_autocast():
    """CUDA has no bfloat16 sparse addmm (``reenact train --amp`` failed on an
    H100): the graph product must run in float32 under autocast and only its
    result take the input's dtype."""
    lap = to_torch_sparse(scaled_laplacian(face_topology().edges, 468))
    x = torch.randn(2, 468, 16).bfloat16()
    expected = torch.sparse.mm(lap, x.float().transpose(0, 1).reshape(468, 32)).reshape(468, 2, 16).transpose(0, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = sparse_vertex_matmul(lap, x)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, expected.bfloat16())


def test_chebconv_k1_is_a_per_vertex_linear_map():
    lap = to_torch_sparse(scaled_laplacian(face_topology().edges, 468))
    conv = ChebConv(lap, 3, 4, K=1)
    x = torch.randn(2, 468, 3)
    assert torch.allclose(conv(x), x @ conv.weight[0] + conv.bias, atol=1e-6)


def test_graph_res_block_shapes_and_skip():
    lap = to_torch_sparse(scaled_laplacian(face_topology().edges, 468))
    x = torch.randn(2, 468, 8)
    assert GraphResBlock(lap, 8, 16)(x).shape == (2, 468, 16)
    same = GraphResBlock(lap, 8, 8)
    with torch.no_grad():
        same.linear.linear.weight.zero_()
        same.linear.linear.bias.zero_()
    assert torch.allclose(same(x), x)  # with the branch silenced only the skip remains


# --------------------------------------------------------------------------- hierarchy


def test_hierarchy_sizes_and_constants(face_model):
    h = face_hierarchy(face_model, (4, 4, 4))
    assert h.sizes == (468, 117, 30, 8)
    for down, up in zip(h.down, h.up):
        assert np.allclose(down @ np.full(down.shape[1], 3.5), 3.5)  # down-sampling keeps a constant
        assert np.allclose(up @ np.full(up.shape[1], -2.0), -2.0)
        assert (down.toarray() >= 0).all() and (up.toarray() >= 0).all()
    # every coarse level stays one connected graph
    from scipy.sparse.csgraph import connected_components
    from reenact_cli.models.graph import normalized_laplacian as nl

    for level in h.levels[1:]:
        adj = (nl(level.edges, level.num_vertices) != 0).astype(int)
        assert connected_components(adj)[0] == 1


def test_hierarchy_is_deterministic(face_model):
    a = build_hierarchy(face_model.mean, face_topology().edges, (4, 3))
    b = build_hierarchy(face_model.mean, face_topology().edges, (4, 3))
    assert a.sizes == b.sizes == (468, 117, 39)
    for x, y in zip(a.down + a.up, b.down + b.up):
        assert (x != y).nnz == 0


def test_down_then_up_keeps_a_smooth_signal(face_model):
    """A linear function of position survives coarsening and back roughly."""
    h = face_hierarchy(face_model, (4, 4, 4))
    signal = face_model.mean[:, 0]
    back = h.up[0] @ (h.down[0] @ signal)
    spread = signal.max() - signal.min()
    assert np.abs(back - signal).mean() < 0.05 * spread


# --------------------------------------------------------------------------- networks


def test_generator_shapes_on_real_meshes(face_model, real_meshes):
    cfg = tiny()
    g = LearnedGenerator(cfg, face_model)
    ms, md = batch_of(real_meshes, cfg.size)
    src = torch.rand(2, 3, cfg.size, cfg.size)
    out = g(src, ms, md, identity_grid(2, cfg.size))
    s = cfg.size
    assert out.image.shape == (2, 3, s, s) and out.grid.shape == (2, s, s, 2)
    assert out.warped_source.shape == (2, 3, s, s)
    h = round(s * cfg.reenacting.occlusion_scale)
    assert out.occlusion.shape == (2, 1, h, h) and out.flow_mask.shape == (2, 1, s, s)
    for t in (out.image, out.occlusion, out.flow_mask):
        assert float(t.detach().min()) >= 0.0 and float(t.detach().max()) <= 1.0


def test_untrained_motion_net_returns_the_prior_exactly(face_model, real_meshes):
    cfg = tiny()
    g = LearnedGenerator(cfg, face_model)
    ms, md = batch_of(real_meshes, cfg.size)
    prior = identity_grid(2, cfg.size) + 0.05 * torch.randn(2, cfg.size, cfg.size, 2)
    assert torch.equal(g.motion_net(ms, md, prior), prior)
    with pytest.raises(ValueError, match="prior_grid"):
        g.motion_net(ms, md, None)


def test_gradients_reach_every_parameter(face_model, real_meshes):
    torch.manual_seed(1)
    cfg = tiny()
    g = LearnedGenerator(cfg, face_model)
    # Perturb the zero-initialised heads so gradients flow through every branch.
    with torch.no_grad():
        g.motion_net.decoder.head.weight.normal_(std=1e-2)
        g.reenacting.occlusion_net.head.weight.normal_(std=1e-2)
    ms, md = batch_of(real_meshes, cfg.size)
    src = torch.rand(2, 3, cfg.size, cfg.size)
    out = g(src, ms, md, identity_grid(2, cfg.size))
    critic = Critic(cfg.critic)
    score, feats = critic(out.image)
    loss = out.image.mean() + score.mean() + sum(f.mean() for f in feats)
    regressor = CoefficientRegressor(cfg.regressor, face_model.num_id, face_model.num_exp)
    coeffs = regressor(out.image)
    loss = loss + sum(v.pow(2).mean() for v in coeffs.values())
    loss.backward()
    for module in (g, critic, regressor):
        missing = [n for n, p in module.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, missing
        dead = [n for n, p in module.named_parameters() if float(p.grad.abs().sum()) == 0.0]
        assert not dead, dead


def test_without_occlusion_net(face_model, real_meshes):
    cfg = tiny()
    cfg = ModelConfig(**{**cfg.__dict__, "reenacting": ReenactingConfig(**{**cfg.reenacting.__dict__, "occlusion": False})})
    g = LearnedGenerator(cfg, face_model)
    ms, md = batch_of(real_meshes, cfg.size)
    out = g(torch.rand(2, 3, cfg.size, cfg.size), ms, md, identity_grid(2, cfg.size))
    assert out.occlusion is None and out.flow_mask is None and out.image.shape == (2, 3, cfg.size, cfg.size)
    assert g.reenacting.occlusion_net is None


def test_cnn_encoder_ablation(face_model, real_meshes):
    """Table 3's GCN -> CNN variant: the meshes rendered as images, then a CNN."""
    from reenact_cli.models.config import MotionNetConfig
    from reenact_cli.models.motion_net import MeshImageEncoder, render_mesh_image

    cfg = tiny()
    cfg = ModelConfig(**{**cfg.__dict__, "motion": MotionNetConfig(**{**cfg.motion.__dict__, "encoder": "cnn"})})
    g = LearnedGenerator(cfg, face_model)
    assert isinstance(g.motion_net.encoder, MeshImageEncoder)
    ms, md = batch_of(real_meshes, cfg.size)
    image = render_mesh_image(ms[0].numpy(), face_topology().triangles, cfg.size)
    assert image.shape == (4, 64, 64)
    covered = image[3] > 0
    assert 0.1 < covered.mean() < 0.9  # the face covers part of the crop
    assert np.abs(image[:3][:, ~covered]).max() == 0.0
    prior = identity_grid(2, cfg.size)
    assert torch.equal(g.motion_net(ms, md, prior), prior)  # the prior still passes through untrained
    with torch.no_grad():
        g.motion_net.decoder.head.weight.normal_(std=1e-2)
    g.motion_net(ms, md, prior).sum().backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in g.motion_net.encoder.parameters())


def test_critic_and_regressor_shapes(face_model):
    cfg = tiny()
    critic = Critic(cfg.critic)
    score, feats = critic(torch.rand(3, 3, 64, 64))
    assert score.shape == (3,)
    assert [f.shape[-1] for f in feats] == [32, 16, 8]
    reg = CoefficientRegressor(cfg.regressor, face_model.num_id, face_model.num_exp)
    out = reg(torch.rand(3, 3, 64, 64))
    assert out["pose"].shape == (3, 12)
    assert out["c_id"].shape == (3, face_model.num_id) and out["c_exp"].shape == (3, face_model.num_exp)
    mean = torch.arange(12 + face_model.num_id + face_model.num_exp, dtype=torch.float32)
    reg.set_target_statistics(mean, torch.full_like(mean, 2.0))
    with torch.no_grad():
        reg.head.weight.zero_()
        reg.head.bias.zero_()
    assert torch.allclose(reg(torch.rand(1, 3, 64, 64))["pose"][0], mean[:12])


def test_paper_config_runs_at_256(face_model, real_meshes):
    cfg = paper()
    g = LearnedGenerator(cfg, face_model).eval()
    ms, md = batch_of(real_meshes, 256, batch=1)
    with torch.no_grad():
        out = g(torch.rand(1, 3, 256, 256), ms, md, identity_grid(1, 256))
    assert out.image.shape == (1, 3, 256, 256) and out.grid.shape == (1, 256, 256, 2)
    counts = parameter_counts(g.motion_net)
    assert counts["encoder"] > 0 and counts["decoder"] > 0
    assert counts["total"] == counts["encoder"] + counts["decoder"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_matches_cpu(face_model, real_meshes):
    torch.manual_seed(2)
    cfg = tiny()
    g = LearnedGenerator(cfg, face_model).eval()
    with torch.no_grad():
        g.motion_net.decoder.head.weight.normal_(std=1e-2)
    ms, md = batch_of(real_meshes, cfg.size)
    src = torch.rand(2, 3, cfg.size, cfg.size)
    prior = identity_grid(2, cfg.size)
    with torch.no_grad():
        cpu = g(src, ms, md, prior)
        gpu = g.to("cuda")(src.cuda(), ms.cuda(), md.cuda(), prior.cuda())
    assert torch.allclose(cpu.grid, gpu.grid.cpu(), atol=1e-4)
    assert torch.allclose(cpu.image, gpu.image.cpu(), atol=1e-3)


# --------------------------------------------------------------------------- configs


def test_config_json_round_trip(tmp_path):
    for cfg in (paper(), tiny()):
        path = tmp_path / f"{cfg.name}.json"
        path.write_text(json.dumps(cfg.to_dict()))
        assert load_config(path) == cfg
    assert load_config("tiny") == tiny()


def test_config_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"motion": {"cheb_kk": 3}}))
    with pytest.raises(InputError, match="unknown MotionNetConfig keys: cheb_kk"):
        load_config(bad)
    with pytest.raises(InputError, match="no such config preset or file"):
        load_config(tmp_path / "missing.json")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"size": 128, "motion": {"cheb_k": 2}}))
    cfg = load_config(partial)
    assert cfg.size == 128 and cfg.motion.cheb_k == 2 and cfg.motion.latent_dim == paper().motion.latent_dim


def test_real_photo_meshes_through_the_motion_net(faces_dir, face_model, reenactor):
    """Meshes of two real photos of different people drive the tiny motion net."""
    from reenact_cli.media.image_io import read_image

    photos = sorted((faces_dir / "images").iterdir())[:2]
    src = reenactor.source(read_image(photos[0]), photos[0].name)
    drv = reenactor.driver(read_image(photos[1]), photos[1].name)
    m_d = reenactor.model.compose(src.fit, drv.fit)
    cfg = tiny()
    g = LearnedGenerator(cfg, face_model)
    k = cfg.size / 256
    ms = torch.from_numpy(src.mesh[None] * k).float()
    md = torch.from_numpy(m_d[None] * k).float()
    latent = g.motion_net.encoder(torch.cat([ms, md], -1) / cfg.size)
    assert latent.shape == (1, cfg.motion.latent_dim) and torch.isfinite(latent).all()
