"""Spectral graph layers on the face mesh (paper §3.2, eq. 2-3).

Shapes: vertex signals are ``(B, V, C)`` (batch, vertices, channels).
Operators are sparse ``(V, V)`` tensors. A layer keeps an operator as two
non-persistent dense buffers (its COO indices and values, see
:class:`SparseOperator`): checkpoints hold only learned weights, ``.to(device)``
moves them, and DDP (which cannot broadcast sparse tensors) syncs them.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn


def normalized_laplacian(edges: np.ndarray, num_vertices: int) -> sp.csr_matrix:
    """``L = I - D^-1/2 A D^-1/2`` of an undirected graph.

    Args:
        edges: ``(E, 2)`` int vertex pairs (each undirected edge once or twice).
        num_vertices: ``V``.

    Returns:
        ``(V, V)`` float64 CSR matrix. Isolated vertices get ``L_ii = 1``.
    """
    a = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(num_vertices, num_vertices))
    a = ((a + a.T) > 0).astype(np.float64).tocsr()
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv_sqrt = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0)
    d = sp.diags(inv_sqrt)
    return (sp.identity(num_vertices, format="csr") - d @ a @ d).tocsr()


def scaled_laplacian(edges: np.ndarray, num_vertices: int) -> sp.csr_matrix:
    """``L~ = 2 L / lambda_max - I`` (spectrum in [-1, 1]), the argument of the
    Chebyshev polynomials."""
    lap = normalized_laplacian(edges, num_vertices)
    lam_max = float(np.linalg.eigvalsh(lap.toarray()).max())
    return (2.0 / lam_max * lap - sp.identity(num_vertices, format="csr")).tocsr()


def to_torch_sparse(matrix: sp.spmatrix) -> torch.Tensor:
    """A SciPy sparse matrix as a coalesced float32 torch COO tensor."""
    coo = matrix.tocoo()
    index = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
    values = torch.as_tensor(coo.data, dtype=torch.float32)
    return torch.sparse_coo_tensor(index, values, coo.shape, check_invariants=True).coalesce()


def sparse_vertex_matmul(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(V_out, V_in)`` sparse times ``(B, V_in, C)`` -> ``(B, V_out, C)``.

    The product runs in the matrix's dtype (float32) even under autocast:
    CUDA has no bfloat16 sparse ``addmm``, and the result is cast back to
    ``x.dtype``.
    """
    b, v, c = x.shape
    flat = x.transpose(0, 1).reshape(v, b * c)
    with torch.autocast(device_type=x.device.type, enabled=False):
        out = torch.sparse.mm(matrix, flat.to(matrix.dtype)).to(x.dtype)
    return out.reshape(matrix.shape[0], b, c).transpose(0, 1)


class SparseOperator(nn.Module):
    """A fixed sparse ``(V_out, V_in)`` matrix stored as dense COO buffers.

    Calling it applies the matrix to every channel: ``(B, V_in, C) -> (B, V_out, C)``.
    """

    def __init__(self, matrix: torch.Tensor) -> None:
        super().__init__()
        matrix = matrix.coalesce()
        self.shape = tuple(matrix.shape)
        self.register_buffer("indices", matrix.indices(), persistent=False)
        self.register_buffer("values", matrix.values(), persistent=False)

    @property
    def matrix(self) -> torch.Tensor:
        return torch.sparse_coo_tensor(self.indices, self.values, self.shape, is_coalesced=True, check_invariants=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sparse_vertex_matmul(self.matrix, x)


class ChebConv(nn.Module):
    """Chebyshev spectral convolution (eq. 2-3): ``y = sum_k T_k(L~) x W_k + b``.

    ``T_0 x = x``, ``T_1 x = L~ x``, ``T_k x = 2 L~ T_{k-1} x - T_{k-2} x``.

    Args:
        laplacian: ``(V, V)`` sparse scaled Laplacian ``L~``.
        in_channels, out_channels: ``C_in``, ``C_out``.
        K: number of Chebyshev terms (polynomial order ``K - 1``); the paper uses 3.

    Shapes: ``(B, V, C_in) -> (B, V, C_out)``.
    """

    def __init__(self, laplacian: torch.Tensor, in_channels: int, out_channels: int, K: int = 3) -> None:
        super().__init__()
        if K < 1:
            raise ValueError("ChebConv needs K >= 1")
        self.K = K
        self.laplacian = SparseOperator(laplacian)
        self.weight = nn.Parameter(torch.empty(K, in_channels, out_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.xavier_uniform_(self.weight.view(K * in_channels, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        terms = [x]
        lap = self.laplacian.matrix if self.K > 1 else None
        if self.K > 1:
            terms.append(sparse_vertex_matmul(lap, x))
        for _ in range(2, self.K):
            terms.append(2.0 * sparse_vertex_matmul(lap, terms[-1]) - terms[-2])
        stacked = torch.stack(terms, dim=0)  # (K, B, V, C_in)
        return torch.einsum("kbvi,kio->bvo", stacked, self.weight) + self.bias


class GraphLinear(nn.Module):
    """A per-vertex linear layer (a 1x1 convolution over vertices).

    Shapes: ``(B, V, C_in) -> (B, V, C_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class VertexInstanceNorm(nn.Module):
    """Instance normalisation over the vertices of each channel.

    Shapes: ``(B, V, C) -> (B, V, C)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm1d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class GraphResBlock(nn.Module):
    """Spectral residual block: ``ChebConv -> InstanceNorm -> ReLU -> GraphLinear``,
    plus the input (through a :class:`GraphLinear` when the width changes).

    Shapes: ``(B, V, C_in) -> (B, V, C_out)``.
    """

    def __init__(self, laplacian: torch.Tensor, in_channels: int, out_channels: int, K: int = 3) -> None:
        super().__init__()
        self.conv = ChebConv(laplacian, in_channels, out_channels, K)
        self.norm = VertexInstanceNorm(out_channels)
        self.linear = GraphLinear(out_channels, out_channels)
        self.skip = nn.Identity() if in_channels == out_channels else GraphLinear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.relu(self.norm(self.conv(x)))) + self.skip(x)


class MeshResample(SparseOperator):
    """Down- or up-sampling between two levels of the mesh hierarchy: a fixed
    sparse ``(V_out, V_in)`` matrix applied to every channel.

    Shapes: ``(B, V_in, C) -> (B, V_out, C)``.
    """
