"""Per-op tests of reenact_cli.face.topology: triangles, boundary loops, fills."""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from reenact_cli.face.topology import (
    INNER_LIP_MID,
    LEFT_EYE_CORNERS,
    MOUTH_CORNERS,
    RIGHT_EYE_CORNERS,
    boundary_loops,
    face_topology,
    orient_consistently,
    triangles_from_edges,
    zip_strip,
)

SPURIOUS = [(49, 64, 129), (279, 294, 358)]


@pytest.fixture(scope="module")
def topo():
    return face_topology()


def undirected_counts(triangles):
    return Counter(tuple(sorted(e)) for t in triangles for e in itertools.combinations(t.tolist(), 2))


def directed_edges(triangles):
    return Counter((int(t[i]), int(t[(i + 1) % 3])) for t in triangles for i in range(3))


def loop_edges(loop):
    loop = [int(v) for v in loop]
    return {tuple(sorted((loop[i], loop[(i + 1) % len(loop)]))) for i in range(len(loop))}


# ----------------------------------------------------------------- sizes
def test_counts(topo):
    assert topo.num_vertices == 468
    assert topo.triangles.shape == (852, 3)
    assert topo.edges.shape == (1322, 2)
    assert topo.triangles.dtype == np.int64 and topo.edges.dtype == np.int64


def test_indices_in_range_and_all_vertices_used(topo):
    assert topo.triangles.min() >= 0 and topo.triangles.max() < 468
    assert len(np.unique(topo.triangles)) == 468
    # no degenerate triangle, no duplicate triangle
    assert all(len(set(t)) == 3 for t in topo.triangles.tolist())
    assert len({tuple(sorted(t)) for t in topo.triangles.tolist()}) == 852


def test_edges_sorted_unique(topo):
    e = topo.edges
    assert np.all(e[:, 0] < e[:, 1])
    assert len({tuple(r) for r in e.tolist()}) == len(e)


# -------------------------------------------------------- edge usage
def test_triangle_edges_are_exactly_the_edge_list(topo):
    used = set(undirected_counts(topo.triangles))
    assert used == {tuple(r) for r in topo.edges.tolist()}


def test_every_edge_used_by_one_or_two_triangles(topo):
    count = undirected_counts(topo.triangles)
    per_edge = np.array([count[tuple(r)] for r in topo.edges.tolist()])
    assert per_edge.min() >= 1
    assert per_edge.max() <= 2


def test_spurious_cliques_excluded(topo):
    edge_set = {tuple(r) for r in topo.edges.tolist()}
    tris = {tuple(sorted(t)) for t in topo.triangles.tolist()}
    count = undirected_counts(topo.triangles)
    for clique in SPURIOUS:
        # They are cliques of the edge graph ...
        assert all(e in edge_set for e in itertools.combinations(clique, 2))
        # ... whose edges each already border two real faces, so they are not faces.
        assert all(count[e] == 2 for e in itertools.combinations(clique, 2))
        assert clique not in tris


def test_triangles_from_edges_drops_only_spurious():
    # A tetrahedron's surface has 4 cliques, each edge borders 2: nothing is dropped.
    tet = np.array(list(itertools.combinations(range(4), 2)))
    assert len(triangles_from_edges(tet)) == 4
    # An octahedron's graph has 8 face cliques and no others.
    octa = [(a, b) for a, b in itertools.combinations(range(6), 2) if {a, b} not in ({0, 1}, {2, 3}, {4, 5})]
    assert len(triangles_from_edges(np.array(octa))) == 8


# ------------------------------------------------------------ boundary
def test_boundary_loops_lengths(topo):
    loops = boundary_loops(topo.triangles)
    assert sorted(len(l) for l in loops) == [16, 16, 20, 36]


def test_boundary_loops_are_closed_cycles(topo):
    count = undirected_counts(topo.triangles)
    boundary = {e for e, c in count.items() if c == 1}
    loops = boundary_loops(topo.triangles)
    union = set()
    for loop in loops:
        assert len(set(loop.tolist())) == len(loop)
        edges = loop_edges(loop)
        assert edges <= boundary, "consecutive loop vertices (incl. last->first) must share a boundary edge"
        union |= edges
    assert union == boundary


def test_oval_is_longest_loop(topo):
    assert len(topo.oval) == 36
    assert loop_edges(topo.oval) == loop_edges(max(boundary_loops(topo.triangles), key=len))


def test_euler_characteristic(topo):
    v = len(np.unique(topo.triangles))
    assert v - len(topo.edges) + len(topo.triangles) == -2  # sphere with 4 holes


# ------------------------------------------------------------ orientation
def test_consistent_orientation(topo):
    directed = directed_edges(topo.triangles)
    assert max(directed.values()) == 1, "an edge is traversed twice in the same direction"
    count = undirected_counts(topo.triangles)
    for (a, b), c in count.items():
        if c == 2:
            assert directed[(a, b)] == 1 and directed[(b, a)] == 1


def test_orient_consistently_repairs_flips(topo):
    rng = np.random.default_rng(0)
    scrambled = topo.triangles.copy()
    flip = rng.random(len(scrambled)) < 0.5
    scrambled[flip] = scrambled[flip][:, [0, 2, 1]]
    fixed = orient_consistently(scrambled)
    assert max(directed_edges(fixed).values()) == 1
    # same faces as sets
    assert {tuple(sorted(t)) for t in fixed.tolist()} == {tuple(sorted(t)) for t in topo.triangles.tolist()}


# ----------------------------------------------------------- holes
def test_hole_names_and_corners(topo):
    assert set(topo.holes) == {"mouth", "right_eye", "left_eye"}
    assert topo.holes["mouth"].corners == MOUTH_CORNERS
    assert topo.holes["right_eye"].corners == RIGHT_EYE_CORNERS
    assert topo.holes["left_eye"].corners == LEFT_EYE_CORNERS


@pytest.mark.parametrize("name", ["mouth", "right_eye", "left_eye"])
def test_hole_chains_start_and_end_at_corners(topo, name):
    hole = topo.holes[name]
    for chain in (hole.upper, hole.lower):
        assert chain[0] == hole.corners[0]
        assert chain[-1] == hole.corners[1]
        assert len(chain) >= 3
    # chains share only their corners
    assert set(hole.upper) & set(hole.lower) == set(hole.corners)


@pytest.mark.parametrize("name,length", [("mouth", 20), ("right_eye", 16), ("left_eye", 16)])
def test_hole_loop_is_a_boundary_loop(topo, name, length):
    loop = topo.holes[name].loop
    assert len(loop) == length == len(set(loop.tolist()))
    loops = [loop_edges(l) for l in boundary_loops(topo.triangles)]
    assert loop_edges(loop) in loops


def test_upper_chains(topo):
    assert INNER_LIP_MID[0] in topo.holes["mouth"].upper
    assert INNER_LIP_MID[1] in topo.holes["mouth"].lower
    assert 159 in topo.holes["right_eye"].upper and 145 in topo.holes["right_eye"].lower
    assert 386 in topo.holes["left_eye"].upper and 374 in topo.holes["left_eye"].lower


# ----------------------------------------------------------- fills
def _fill_parts(topo):
    eyes = topo.eye_fill
    n_right = len(zip_strip(topo.holes["right_eye"].upper, topo.holes["right_eye"].lower))
    return {"right_eye": eyes[:n_right], "left_eye": eyes[n_right:], "mouth": topo.mouth_fill}


@pytest.mark.parametrize("name", ["mouth", "right_eye", "left_eye"])
def test_fill_uses_only_loop_vertices(topo, name):
    fill = _fill_parts(topo)[name]
    assert len(fill) == len(topo.holes[name].loop) - 2  # a polygon of L vertices needs L-2 triangles
    assert set(fill.ravel().tolist()) <= set(topo.holes[name].loop.tolist())
    assert all(len(set(t)) == 3 for t in fill.tolist())


@pytest.mark.parametrize("name", ["mouth", "right_eye", "left_eye"])
def test_fill_closes_its_hole(topo, name):
    fill = _fill_parts(topo)[name]
    count = undirected_counts(fill)
    for e in loop_edges(topo.holes[name].loop):
        assert count[e] == 1, f"hole edge {e} used {count[e]} times by the fill"
    # interior (diagonal) edges of the strip are shared by exactly two fill triangles
    for e, c in count.items():
        if e not in loop_edges(topo.holes[name].loop):
            assert c == 2
    # and the diagonals are not edges of the mesh itself
    mesh_edges = {tuple(r) for r in topo.edges.tolist()}
    assert not ({e for e in count} - loop_edges(topo.holes[name].loop)) & mesh_edges


def test_mesh_plus_fills_has_only_oval_boundary(topo):
    closed = np.concatenate([topo.triangles, topo.eye_fill, topo.mouth_fill])
    count = undirected_counts(closed)
    assert max(count.values()) == 2
    boundary = {e for e, c in count.items() if c == 1}
    assert boundary == loop_edges(topo.oval)
    loops = boundary_loops(closed)
    assert [len(l) for l in loops] == [36]
    # a disc: V - E + F = 1
    v = len(np.unique(closed))
    assert v - len(count) + len(closed) == 1


def test_fills_oriented_like_mesh(topo):
    closed = np.concatenate([topo.triangles, topo.eye_fill, topo.mouth_fill])
    assert max(directed_edges(closed).values()) == 1


def test_zip_strip_simple():
    # two chains 0-1-2-3 and 0-4-3 close a pentagon with 3 triangles
    tris = zip_strip((0, 1, 2, 3), (0, 4, 3))
    assert tris.shape == (3, 3)
    count = undirected_counts(tris)
    assert {e for e, c in count.items() if c == 1} == loop_edges([0, 1, 2, 3, 4])


# ----------------------------------------------------------- adjacency
def test_adjacency_symmetric_zero_diagonal(topo):
    a = topo.adjacency()
    assert a.shape == (468, 468)
    np.testing.assert_array_equal(a, a.T)
    np.testing.assert_array_equal(np.diag(a), 0)
    assert set(np.unique(a).tolist()) == {0.0, 1.0}
    assert int(a.sum()) == 2 * 1322
    # degree matches the edge list
    deg = np.bincount(topo.edges.ravel(), minlength=468)
    np.testing.assert_array_equal(a.sum(axis=1), deg)
