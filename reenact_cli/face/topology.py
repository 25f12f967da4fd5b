"""Triangles, adjacency and hole loops of MediaPipe's face mesh, computed once.

MediaPipe publishes only an edge list (``FACEMESH_TESSELATION``, 1322 edges over
468 vertices). Its 3-cliques are 854 triangles, two of which are not faces: each
of their three edges already borders two real triangles. Dropping those leaves
852 faces, an orientable surface with four boundary loops: the face oval (36
vertices), the inner lip line (20) and the two lid margins (16 each).

For warping, the eye holes are closed by *strips* zipped between the upper and
lower lid chains (so a closing eye collapses its strip to zero area) and the
mouth opening likewise between the inner upper and lower lip.
"""
from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..conventions import NUM_FACE_VERTICES

# Corner vertices of the hole loops (MediaPipe indices). "Right" is the
# subject's right eye, which appears on the image's left.
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)
MOUTH_CORNERS = (78, 308)
#: Upper / lower inner lip mid points, used for mouth opening.
INNER_LIP_MID = (13, 14)
#: Outer lip corners (mouth width).
OUTER_MOUTH_CORNERS = (61, 291)
NOSE_TIP = 1
#: The chin's lowest midline point.
CHIN = 152
#: The face oval's ear-level extremes (subject's right, left).
EAR_LEVEL_OVAL = (234, 454)
#: Upper edge of both eyebrows (subject's right, then left).
UPPER_BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)


@dataclass(frozen=True)
class Hole:
    """A boundary loop split into two chains running corner to corner.

    ``upper`` and ``lower`` both start at ``corners[0]`` and end at ``corners[1]``.
    """

    name: str
    corners: tuple[int, int]
    upper: tuple[int, ...]
    lower: tuple[int, ...]

    @property
    def loop(self) -> np.ndarray:
        """All loop vertices once, ``(L,)`` int."""
        return np.array(self.upper + self.lower[1:-1][::-1], dtype=np.int64)


@dataclass(frozen=True)
class Topology:
    """Connectivity of the 468-vertex face mesh.

    Attributes:
        triangles: ``(852, 3)`` int64, consistently oriented.
        edges: ``(1322, 2)`` int64, sorted pairs.
        oval: ``(36,)`` outer boundary loop, in order.
        holes: the mouth and the two eyes as :class:`Hole`.
        eye_fill: ``(Te, 3)`` strip triangles closing both eyes.
        mouth_fill: ``(Tm, 3)`` strip triangles closing the mouth opening.
    """

    triangles: np.ndarray
    edges: np.ndarray
    oval: np.ndarray
    holes: dict[str, Hole]
    eye_fill: np.ndarray
    mouth_fill: np.ndarray

    @property
    def num_vertices(self) -> int:
        return NUM_FACE_VERTICES

    def adjacency(self) -> np.ndarray:
        """Dense symmetric ``(V, V)`` 0/1 adjacency matrix ``A``."""
        a = np.zeros((NUM_FACE_VERTICES, NUM_FACE_VERTICES), dtype=np.float32)
        a[self.edges[:, 0], self.edges[:, 1]] = 1.0
        a[self.edges[:, 1], self.edges[:, 0]] = 1.0
        return a


def _tessellation_edges() -> np.ndarray:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    return np.array(sorted({tuple(sorted(e)) for e in FACEMESH_TESSELATION}), dtype=np.int64)


def triangles_from_edges(edges: np.ndarray) -> np.ndarray:
    """Faces of an edge graph: its 3-cliques minus those whose every edge already
    borders two other cliques (the spurious ones). Returns ``(T, 3)`` sorted rows."""
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        neighbours[int(a)].add(int(b))
        neighbours[int(b)].add(int(a))
    cliques = sorted(
        {tuple(sorted((int(a), int(b), c))) for a, b in edges for c in neighbours[int(a)] & neighbours[int(b)]}
    )
    per_edge = Counter(e for t in cliques for e in itertools.combinations(t, 2))
    faces = [t for t in cliques if not all(per_edge[e] > 2 for e in itertools.combinations(t, 2))]
    return np.array(faces, dtype=np.int64)


def orient_consistently(triangles: np.ndarray) -> np.ndarray:
    """Flip triangles so that every shared edge is traversed in opposite
    directions by its two faces (breadth-first over face adjacency)."""
    tris = triangles.copy()
    by_edge: dict[tuple[int, int], list[int]] = defaultdict(list)
    for f, t in enumerate(tris):
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            by_edge[(min(a, b), max(a, b))].append(f)
    done = np.zeros(len(tris), dtype=bool)
    for seed in range(len(tris)):
        if done[seed]:
            continue
        done[seed] = True
        queue = [seed]
        while queue:
            f = queue.pop()
            t = tris[f]
            for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                for g in by_edge[(min(a, b), max(a, b))]:
                    if g == f or done[g]:
                        continue
                    u = tris[g]
                    directed = {(u[0], u[1]), (u[1], u[2]), (u[2], u[0])}
                    if (a, b) in directed:  # same direction: flip g
                        tris[g] = u[[0, 2, 1]]
                    done[g] = True
                    queue.append(g)
    return tris


def boundary_loops(triangles: np.ndarray) -> list[np.ndarray]:
    """Ordered boundary loops (edges used by exactly one triangle)."""
    count = Counter(tuple(sorted(e)) for t in triangles for e in itertools.combinations(t, 2))
    graph: dict[int, list[int]] = defaultdict(list)
    for (a, b), c in count.items():
        if c == 1:
            graph[a].append(b)
            graph[b].append(a)
    seen: set[int] = set()
    loops = []
    for start in sorted(graph):
        if start in seen:
            continue
        loop, prev, cur = [start], -1, start
        seen.add(start)
        while True:
            nxt = [n for n in graph[cur] if n != prev and n not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            loop.append(cur)
            seen.add(cur)
        loops.append(np.array(loop, dtype=np.int64))
    return loops


def _split_loop(loop: np.ndarray, corners: tuple[int, int], name: str, upper_probe: set[int]) -> Hole:
    """Split a closed loop at its two corners into two corner-to-corner chains;
    the chain containing any vertex of ``upper_probe`` is the upper one."""
    seq = list(loop)
    i0 = seq.index(corners[0])
    seq = seq[i0:] + seq[:i0]
    i1 = seq.index(corners[1])
    chain_a = tuple(seq[: i1 + 1])
    chain_b = tuple([seq[0]] + seq[i1:][::-1])
    if upper_probe & set(chain_b[1:-1]):
        chain_a, chain_b = chain_b, chain_a
    return Hole(name, corners, chain_a, chain_b)


def zip_strip(upper: tuple[int, ...], lower: tuple[int, ...]) -> np.ndarray:
    """Triangulate the region between two chains sharing their end points by
    zipping them from one end to the other (both chains run corner to corner)."""
    tris = []
    i = j = 0
    nu, nl = len(upper) - 1, len(lower) - 1
    while i < nu or j < nl:
        # Advance along whichever chain is behind in relative progress.
        if j >= nl or (i < nu and (i + 1) / nu <= (j + 1) / nl):
            tri = (upper[i], upper[i + 1], lower[j])
            i += 1
        else:
            tri = (upper[i], lower[j + 1], lower[j])
            j += 1
        if len(set(tri)) == 3:
            tris.append(tri)
    return np.array(tris, dtype=np.int64)


@lru_cache(maxsize=1)
def face_topology() -> Topology:
    """The topology, computed once per process from MediaPipe's edge list."""
    edges = _tessellation_edges()
    triangles = orient_consistently(triangles_from_edges(edges))
    loops = boundary_loops(triangles)
    by_len = sorted(loops, key=len, reverse=True)
    oval = by_len[0]
    holes = {}
    for loop in by_len[1:]:
        members = set(int(v) for v in loop)
        if set(MOUTH_CORNERS) <= members:
            holes["mouth"] = _split_loop(loop, MOUTH_CORNERS, "mouth", {INNER_LIP_MID[0]})
        elif set(RIGHT_EYE_CORNERS) <= members:
            holes["right_eye"] = _split_loop(loop, RIGHT_EYE_CORNERS, "right_eye", {159})
        elif set(LEFT_EYE_CORNERS) <= members:
            holes["left_eye"] = _split_loop(loop, LEFT_EYE_CORNERS, "left_eye", {386})
    eye_fill = np.concatenate([zip_strip(holes[k].upper, holes[k].lower) for k in ("right_eye", "left_eye")])
    mouth_fill = zip_strip(holes["mouth"].upper, holes["mouth"].lower)
    return Topology(triangles, edges, oval, holes, eye_fill, mouth_fill)


#: Known left/right vertex pairs of MediaPipe's mesh (and midline vertices that
#: are their own mirror), used to find the symmetry of a mean shape.
_MIRROR_ANCHORS = (
    (33, 263), (133, 362), (61, 291), (234, 454), (70, 300), (105, 334), (172, 397), (58, 288),
    (1, 1), (152, 152), (10, 10), (168, 168), (0, 0), (17, 17),
)


def mirror_indices(mean: np.ndarray) -> np.ndarray:
    """``(468,)`` index of each vertex's left/right mirror partner.

    Found on a (near-symmetric) mean shape ``(468, 3)``: reflect it in x, align
    the reflection to the shape (anchored on known pairs, then on all nearest
    neighbours), and match each reflected vertex to its nearest vertex.
    Midline vertices map to themselves.
    """
    from scipy.spatial import cKDTree

    from .pose import procrustes

    shape = np.asarray(mean, dtype=np.float64)
    reflected = shape * np.array([-1.0, 1.0, 1.0])
    a = np.array([p for p, _ in _MIRROR_ANCHORS] + [q for _, q in _MIRROR_ANCHORS])
    b = np.array([q for _, q in _MIRROR_ANCHORS] + [p for p, _ in _MIRROR_ANCHORS])
    tree = cKDTree(shape)
    idx = np.arange(len(shape))
    for _ in range(3):
        pose = procrustes(reflected[a], shape[b])
        _, idx = tree.query(pose.apply(reflected))
        a, b = np.arange(len(shape)), idx
    return idx.astype(np.int64)
