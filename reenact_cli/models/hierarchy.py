"""The mesh hierarchy the motion net's encoder pools over (CoMA-style levels).

Instead of CoMA's quadric edge collapse we coarsen by *geodesic clustering*, a
documented equivalent that needs no mesh-decimation library and keeps every
level a connected graph:

1. Pick ``ceil(V / factor)`` cluster centres by farthest-point sampling on the
   face model's mean shape (deterministic: it starts at the vertex nearest the
   centroid), with distances measured along mesh edges (Dijkstra).
2. Every vertex joins its geodesically nearest centre (a Voronoi partition, so
   each cluster is connected).
3. Down-sampling ``D`` (``V_coarse x V_fine``) averages a cluster's members, so
   a constant signal stays that constant.
4. Two clusters are adjacent when an edge joins their members.
5. Up-sampling ``U`` (``V_fine x V_coarse``) interpolates each fine vertex from
   the centres of the clusters touching its 1-ring, weighted by inverse
   distance; rows sum to one, so constants are kept here too.

Everything is a function of the topology and the mean shape, so it is rebuilt
bit for bit from the face model (and cached per process).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

if TYPE_CHECKING:
    from ..face.model import FaceModel


@dataclass(frozen=True)
class MeshLevel:
    """One level of the hierarchy.

    Attributes:
        positions: ``(V_l, 3)`` representative positions (model units).
        edges: ``(E_l, 2)`` int64 undirected edges, each once, sorted pairs.
    """

    positions: np.ndarray
    edges: np.ndarray

    @property
    def num_vertices(self) -> int:
        return int(self.positions.shape[0])


@dataclass(frozen=True)
class MeshHierarchy:
    """Levels ``0..L`` and the sparse maps between consecutive levels.

    Attributes:
        levels: ``L + 1`` levels, level 0 = the full mesh.
        down: ``L`` CSR matrices, ``down[i]`` is ``(V_{i+1}, V_i)``.
        up: ``L`` CSR matrices, ``up[i]`` is ``(V_i, V_{i+1})``.
    """

    levels: tuple[MeshLevel, ...]
    down: tuple[sp.csr_matrix, ...]
    up: tuple[sp.csr_matrix, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(level.num_vertices for level in self.levels)


def _edge_graph(level: MeshLevel) -> sp.csr_matrix:
    i, j = level.edges[:, 0], level.edges[:, 1]
    length = np.linalg.norm(level.positions[i] - level.positions[j], axis=1) + 1e-9
    n = level.num_vertices
    g = sp.coo_matrix((np.concatenate([length, length]), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))
    return g.tocsr()


def geodesic_distances(level: MeshLevel) -> np.ndarray:
    """``(V, V)`` shortest-path lengths along the level's edges (inf between
    disconnected pieces)."""
    return dijkstra(_edge_graph(level))


def farthest_point_centres(distances: np.ndarray, positions: np.ndarray, count: int) -> np.ndarray:
    """``count`` vertex indices spread over the mesh by geodesic farthest-point
    sampling, starting from the vertex nearest the centroid.

    Args:
        distances: ``(V, V)`` from :func:`geodesic_distances`.
        positions: ``(V, 3)``.
    """
    first = int(np.argmin(np.linalg.norm(positions - positions.mean(axis=0), axis=1)))
    centres = [first]
    nearest = distances[first].copy()
    for _ in range(1, count):
        nxt = int(np.argmax(np.where(np.isfinite(nearest), nearest, -1.0)))
        centres.append(nxt)
        nearest = np.minimum(nearest, distances[nxt])
    return np.asarray(centres, dtype=np.int64)


def coarsen(level: MeshLevel, factor: int) -> tuple[MeshLevel, sp.csr_matrix, sp.csr_matrix]:
    """One coarsening step; returns ``(coarse level, D, U)``."""
    n = level.num_vertices
    count = max(1, int(np.ceil(n / factor)))
    distances = geodesic_distances(level)
    centres = farthest_point_centres(distances, level.positions, count)
    to_centre = distances[:, centres]  # (V, count)
    # Vertices no centre reaches (a disconnected piece) join the nearest centre in space.
    euclid = np.linalg.norm(level.positions[:, None, :] - level.positions[centres][None], axis=2)
    cluster = np.where(
        np.isfinite(to_centre).any(axis=1),
        np.argmin(np.where(np.isfinite(to_centre), to_centre, np.inf), axis=1),
        np.argmin(euclid, axis=1),
    ).astype(np.int64)
    members = np.bincount(cluster, minlength=count).astype(np.float64)
    down = sp.coo_matrix((1.0 / members[cluster], (cluster, np.arange(n))), shape=(count, n)).tocsr()
    positions = np.asarray(down @ level.positions)

    ci, cj = cluster[level.edges[:, 0]], cluster[level.edges[:, 1]]
    cross = ci != cj
    pairs = np.unique(np.sort(np.stack([ci[cross], cj[cross]], axis=1), axis=1), axis=0)
    coarse = MeshLevel(positions.astype(np.float64), pairs.astype(np.int64).reshape(-1, 2))

    # U: each fine vertex from the clusters touching its closed 1-ring.
    e0, e1 = level.edges[:, 0], level.edges[:, 1]
    rows = np.concatenate([e0, e1, np.arange(n)])
    cols = np.concatenate([cluster[e1], cluster[e0], cluster])
    touch = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, count)).tocsr().tocoo()
    d = np.linalg.norm(level.positions[touch.row] - positions[touch.col], axis=1)
    w = 1.0 / (d + 1e-3 * (d.max() + 1e-12))
    up = sp.coo_matrix((w, (touch.row, touch.col)), shape=(n, count)).tocsr()
    up = sp.diags(1.0 / np.asarray(up.sum(axis=1)).ravel()) @ up
    return coarse, down, up.tocsr()


def build_hierarchy(positions: np.ndarray, edges: np.ndarray, factors: tuple[int, ...]) -> MeshHierarchy:
    """Coarsen ``len(factors)`` times.

    Args:
        positions: ``(V, 3)`` the mean shape.
        edges: ``(E, 2)`` the mesh edges.
        factors: reduction per step, e.g. ``(4, 4, 4)``: 468 -> 117 -> 30 -> 8.
    """
    level = MeshLevel(np.asarray(positions, dtype=np.float64), np.asarray(edges, dtype=np.int64))
    levels, downs, ups = [level], [], []
    for f in factors:
        if f < 1:
            raise ValueError(f"down-sampling factors must be >= 1, got {factors}")
        level, d, u = coarsen(level, f)
        levels.append(level)
        downs.append(d)
        ups.append(u)
    return MeshHierarchy(tuple(levels), tuple(downs), tuple(ups))


_CACHE: dict[tuple[str, tuple[int, ...]], MeshHierarchy] = {}


def face_hierarchy(model: "FaceModel", factors: tuple[int, ...]) -> MeshHierarchy:
    """The hierarchy of our face topology on ``model``'s mean shape, computed
    once per (face model fingerprint, factors) and process."""
    from ..face.topology import face_topology

    key = (model.fingerprint, tuple(int(f) for f in factors))
    if key not in _CACHE:
        _CACHE[key] = build_hierarchy(model.mean, face_topology().edges, key[1])
    return _CACHE[key]
