"""Geometric flow: the dense backward flow implied by two meshes, no weights.

Rasterise the driving mesh ``M_d``; every covered pixel lies in one triangle at
some barycentric point, and the same barycentric point of the source mesh
``M_s`` is where that pixel's colour lives in the source (DESIGN.md). Holes:

* eyes are closed by lid-to-lid strips whose source positions follow the eye
  rigidly (corner-to-corner similarity), clamped inside the source opening, so
  a closing lid hides the iris instead of squashing it;
* the mouth opening is mapped to the source's opening when the source showed
  enough of it; otherwise its pixels are *unseen* and get local (u, t)
  coordinates for the renderer to paint an interior;
* off the face, the displacement is extended by push-pull and faded out with
  distance from the face, so hair and neck follow the head and the crop border
  stays put.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..conventions import pixel_centres, pixels_to_grid
from ..face.topology import EAR_LEVEL_OVAL, INNER_LIP_MID, NOSE_TIP, Topology, face_topology
from .extend import push_pull, smoothstep
from ..face.pose import procrustes, rotation_angle_deg
from .raster import Raster, linear_maps, rasterize, scatter_rows, signed_areas, take_rows


@dataclass(frozen=True)
class GeometricFlowConfig:
    """Tunables of the geometric flow (lengths in face heights unless stated).

    Attributes:
        reach_above: how far above/beside the face the head motion carries
            (hair), before fading to zero.
        reach_below: the same below the chin (neck; the torso stays).
        depth_fade_above, depth_fade_below: over what distance from the face
            the depth proxy off the face returns from the face edge's depth
            to the head's pivot depth (above the mouth; below the chin).
            Below the chin a longer return spreads the chin's sideways swing
            over the neck instead of folding the neck's outline under the jaw.
        depth_fade_top, depth_fade_trailing: at a large turn (see
            :attr:`large_turn_from`), the same above the top of the face,
            and beside it on the side the turn brings into view (the side
            away from which the nose moves). The mesh ends mid-forehead, and
            what lies just above it (the upper forehead, a fringe) or just
            beyond a foreshortened cheek (the cheek's rim, an ear, the side
            of a cap) is nearer the face's depth than the skull's: at the
            skull's depth a large turn shears it off the face into a smeared
            band across the forehead, or stretches it into a pale ghost
            beside the turned face.
        trailing_turn: how far the nose must move sideways, relative to the
            ear-to-ear width, for :attr:`depth_fade_trailing` to apply fully
            (it ramps in from no sideways move, so a nod has no side).
        large_turn_from, large_turn_full: head turns (geodesic angle between
            the meshes' rigid poses, degrees) over which the longer returns
            above ramp in. Below ``large_turn_from`` the proxy is the plain
            one: on real video, where turns are small, it places the hair's
            outline better (self-reenactment PSNR), and the smear and ghost
            that the longer returns prevent only show at large turns.
        nonrigid_fade_above, nonrigid_fade_below: the same for the fade of
            the face's non-rigid motion (expression) off the face.
        border: width of the band at the crop border where motion fades out,
            as a fraction of the crop side.
        mouth_seen_ratio: the source's mouth opening must be at least this
            fraction of the driver's for its interior to be warped rather than
            painted.
        stretch_unseen: a face triangle enlarged more than this (area ratio) is
            counted as unseen.
        mirror_margin: how much more squarely (cosine) the mirror side must face
            the camera in the source before it is used.
        mirror_edge: pixels over which the mirror reading fades out towards the
            face's edge.
    """

    reach_above: float = 0.6
    reach_below: float = 0.35
    depth_fade_above: float = 0.25
    depth_fade_below: float = 0.3
    depth_fade_top: float = 0.45
    depth_fade_trailing: float = 0.6
    trailing_turn: float = 0.1
    large_turn_from: float = 20.0
    large_turn_full: float = 35.0
    nonrigid_fade_above: float = 0.3
    nonrigid_fade_below: float = 0.4
    border: float = 0.06
    mouth_seen_ratio: float = 0.45
    stretch_unseen: float = 4.0
    mirror_margin: float = 0.1
    mirror_edge: float = 5.0


@dataclass(frozen=True)
class FlowField:
    """Backward flow from the output crop to the source crop.

    Attributes:
        source_xy: ``(H, W, 2)`` float32, for each output pixel the source pixel
            position to read (pixel convention of conventions.py).
        face: ``(H, W)`` bool, pixels covered by the driving face (eyes and mouth
            opening included).
        mouth: ``(H, W)`` bool, pixels inside the driving mouth opening whose
            interior the source never showed (to be painted).
        mouth_ut: ``(H, W, 2)`` float32, inside ``mouth``: u along the mouth
            (0 = right corner of the subject, 1 = left) and t across it
            (0 = upper inner lip, 1 = lower).
        unseen: ``(H, W)`` bool, face pixels the source never showed (painted
            mouth, triangles hidden or strongly stretched in the source).
        moving: ``(H, W)`` bool, pixels whose flow is non-zero.
        mirror_xy: ``(H, W, 2)`` float32, where the *mirror* point of the face
            lies in the source (the face's other side), for parts the source
            shows poorly.
        mirror_weight: ``(H, W)`` float32 in [0, 1], how much of the mirror
            reading to use (0 off the face and where the source view is good).
    """

    source_xy: np.ndarray
    face: np.ndarray
    mouth: np.ndarray
    mouth_ut: np.ndarray
    unseen: np.ndarray
    moving: np.ndarray
    mirror_xy: np.ndarray
    mirror_weight: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.face.shape
        return w, h

    @property
    def grid(self) -> np.ndarray:
        """``(1, H, W, 2)`` float32 backward grid for ``grid_sample``."""
        w, h = self.size
        return pixels_to_grid(self.source_xy, w, h)[None]

    @property
    def displacement(self) -> np.ndarray:
        """``(H, W, 2)`` source_xy minus the output pixel position, pixels."""
        w, h = self.size
        return self.source_xy - pixel_centres(w, h)


@lru_cache(maxsize=1)
def _mouth_ut_per_vertex() -> np.ndarray:
    """``(468, 2)`` (u, t) for the inner-lip vertices (zeros elsewhere)."""
    hole = face_topology().holes["mouth"]
    ut = np.zeros((468, 2), dtype=np.float32)
    for chain, t in ((hole.upper, 0.0), (hole.lower, 1.0)):
        n = len(chain) - 1
        for i, v in enumerate(chain):
            ut[v] = (i / n, t)
    for v in hole.corners:
        ut[v, 1] = 0.5
    return ut


def _eye_lookup(src: np.ndarray, drv: np.ndarray, topo: Topology) -> np.ndarray:
    """Source positions ``(468, 2)`` for the eye-strip vertices: the driving lid
    positions carried rigidly into the source eye, clamped inside its opening."""
    out = src[:, :2].copy()
    for name in ("right_eye", "left_eye"):
        hole = topo.holes[name]
        c0, c1 = hole.corners
        s0, s1 = src[c0, :2], src[c1, :2]
        d0, d1 = drv[c0, :2], drv[c1, :2]
        # 2-point similarity drv -> src as complex multiply: z' = a z + b.
        zs0, zs1 = complex(*s0), complex(*s1)
        zd0, zd1 = complex(*d0), complex(*d1)
        if abs(zd1 - zd0) < 1e-6:
            continue
        a = (zs1 - zs0) / (zd1 - zd0)
        loop = hole.loop
        z = drv[loop, 0] + 1j * drv[loop, 1]
        q = a * (z - zd0) + zs0
        axis = (zs1 - zs0) / abs(zs1 - zs0)
        # Eye frame: u along the corners, v across (positive = image down-ish).
        local_q = (q - zs0) / axis
        local_s = (src[loop, 0] + 1j * src[loop, 1] - zs0) / axis
        v_lo = np.minimum(local_s.imag, 0.0)
        v_hi = np.maximum(local_s.imag, 0.0)
        v = np.clip(local_q.imag, v_lo, v_hi)
        back = (local_q.real + 1j * v) * axis + zs0
        out[loop, 0] = back.real
        out[loop, 1] = back.imag
    return out


def geometric_flow(
    source_vertices: np.ndarray,
    driving_vertices: np.ndarray,
    size: int,
    config: GeometricFlowConfig = GeometricFlowConfig(),
    rigid_weights: np.ndarray | None = None,
    mirror: np.ndarray | None = None,
    head_occluder: np.ndarray | None = None,
) -> FlowField:
    """The backward flow that carries the source crop onto the driving mesh.

    Args:
        source_vertices: ``M_s``, ``(468, 3)`` crop pixels.
        driving_vertices: ``M_d``, ``(468, 3)`` crop pixels (same crop).
        size: crop side ``S``.
        rigid_weights: ``(468,)`` per-vertex weights for the rigid head motion
            between the meshes (the face model's ``pose_weights``); uniform if None.
        mirror: ``(468,)`` left/right partner of each vertex (the face model's
            ``mirror``); enables reading the face's other side where the source
            shows a part edge-on and the driver faces it. None disables it.
        head_occluder: ``(S, S)`` float32 in [0, 1] over the *source* crop:
            what is worn on or over the head in front of the forehead, off
            the face (the renderer's ``SourceLayers.head_occluder``). Off the
            face, where the head's rigid motion carries such a pixel, the
            depth proxy keeps the face edge's depth instead of curving back
            to the pivot, so a cap moves as one piece with the forehead.
    """
    if head_occluder is not None and head_occluder.shape != (size, size):
        raise ValueError(f"head_occluder must be ({size}, {size}) like the crop, got {head_occluder.shape}")
    topo = face_topology()
    src = np.asarray(source_vertices, dtype=np.float32)
    drv = np.asarray(driving_vertices, dtype=np.float32)
    n_face, n_eye = len(topo.triangles), len(topo.eye_fill)
    triangles = np.concatenate([topo.triangles, topo.eye_fill, topo.mouth_fill])

    # Rigid similarity M_d -> M_s (3-D): the head's motion, for off the face.
    rigid = procrustes(drv.astype(np.float64), src.astype(np.float64), rigid_weights)

    # Per-vertex values to interpolate over the driving triangles: where to read
    # in the source, depth, and the non-rigid rest (source minus rigid motion).
    # Eye strips read the rigid eye lookup instead of the lid positions.
    lookup = src[:, :2]
    eye_lookup = _eye_lookup(src, drv, topo)
    rigid_xy = rigid.apply(drv)[:, :2]
    mirror_xy, mirror_w = _mirror_lookup(src, drv, topo.triangles, mirror, config)
    per_vertex = np.concatenate([lookup, drv[:, 2:3], lookup - rigid_xy, mirror_xy, mirror_w[:, None]], axis=1)
    per_vertex_eye = np.concatenate([eye_lookup, drv[:, 2:3], eye_lookup - rigid_xy, eye_lookup, np.zeros((len(src), 1), np.float32)], axis=1)
    values = per_vertex[triangles]
    values[n_face : n_face + n_eye] = per_vertex_eye[topo.eye_fill]
    values[n_face + n_eye :, :, 7] = 0.0  # the mouth opening is never mirrored

    area_d = signed_areas(drv[:, :2], topo.triangles)
    area_s = signed_areas(src[:, :2], topo.triangles)
    front = np.sign(np.sum(area_d)) or 1.0
    draw = np.ones(len(triangles), dtype=bool)
    draw[:n_face] = area_d * front > 0
    raster = rasterize(drv, triangles, (size, size), draw)
    maps = linear_maps(raster.corners, values)
    at_pixels = raster.evaluate_planes(maps[:, :, :5])  # (5, P): source x, y, depth, non-rigid x, y
    _clamp_slivers(raster, maps, values, at_pixels)
    face = raster.mask

    # Unseen: triangles hidden (back-facing) or strongly stretched in the source.
    stretch = (area_d * front) / np.maximum(area_s * front, 1e-3)
    bad_tri = np.zeros(len(triangles), dtype=bool)
    bad_tri[:n_face] = (area_s * front <= 0) | (stretch > config.stretch_unseen)
    # (The triangle image's -1, no triangle, reads the appended False.)
    unseen = np.take(np.append(bad_tri, False), raster.triangle)

    # Mouth: warp the source's opening if it showed enough of it, else paint.
    mouth = np.zeros((size, size), dtype=bool)
    mouth_ut = np.zeros((size, size, 2), dtype=np.float32)
    open_s = float(np.linalg.norm(src[INNER_LIP_MID[0], :2] - src[INNER_LIP_MID[1], :2]))
    open_d = float(np.linalg.norm(drv[INNER_LIP_MID[0], :2] - drv[INNER_LIP_MID[1], :2]))
    if open_d > open_s + 1.5 and open_s < config.mouth_seen_ratio * open_d:
        in_mouth = raster.ids >= n_face + n_eye
        r, c = raster.rows[in_mouth], raster.cols[in_mouth]
        mouth[r, c] = True
        first = n_face + n_eye
        ut_maps = linear_maps(raster.corners[first:], _mouth_ut_per_vertex()[topo.mouth_fill])
        m = ut_maps[raster.ids[in_mouth] - first]
        mouth_ut[r, c] = (c + 0.5)[:, None] * m[:, 0] + (r + 0.5)[:, None] * m[:, 1] + m[:, 2]
        unseen |= mouth

    displacement, moving = _extend(raster, at_pixels, rigid, src, drv, size, config, head_occluder)
    source_xy = pixel_centres(size, size) + displacement
    mirror_field = np.zeros((size * size, 2), dtype=np.float32)
    weight_field = np.zeros(size * size, dtype=np.float32)
    mirrored_tri = values[:, :, 7].max(axis=1) > 0
    if mirrored_tri.any():
        sel = mirrored_tri[raster.ids]
        sub = Raster(raster.triangle, raster.rows[sel], raster.cols[sel], raster.ids[sel], raster.corners)
        at_mirror = sub.evaluate(maps[:, :, 5:])
        index = raster.flat[sel]
        scatter_rows(mirror_field, index, at_mirror[:, :2])
        weight = np.clip(at_mirror[:, 2], 0.0, 1.0)
        if weight.any():
            # The mirror of the face's edge is the other edge, where the source's
            # silhouette is: fade the mirror reading out over the outermost pixels.
            inside = cv2.distanceTransform(face.astype(np.uint8), cv2.DIST_L2, 3).reshape(-1)
            weight *= smoothstep(np.take(inside, index) / config.mirror_edge)
        weight_field[index] = weight
    return FlowField(
        source_xy, face, mouth, mouth_ut, unseen, moving,
        mirror_field.reshape(size, size, 2), weight_field.reshape(size, size),
    )


@lru_cache(maxsize=4)
def _incidence(triangles_key: bytes, num_vertices: int):
    """Sparse ``(V, T)`` vertex-triangle incidence matrix (cached per topology)."""
    from scipy.sparse import csr_matrix

    tris = np.frombuffer(triangles_key, dtype=np.int64).reshape(-1, 3)
    rows = tris.reshape(-1)
    cols = np.repeat(np.arange(len(tris)), 3)
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(num_vertices, len(tris)))


#: A triangle whose source position changes faster than this (source pixels
#: per output pixel) is a sliver seen edge-on; see :func:`_clamp_slivers`.
SLIVER_GRADIENT = 8.0


def _clamp_slivers(raster: Raster, maps: np.ndarray, values: np.ndarray, at_pixels: np.ndarray) -> None:
    """Edge pixels are covered when a triangle merely touches them, so their
    values are extrapolated a little outside the triangle. For a sliver (an
    edge-on triangle, whose map is steep) that extrapolation flies off: there,
    interpolate at the nearest point of the triangle instead (in place;
    ``at_pixels`` is ``(5, P)``, see :meth:`Raster.evaluate_planes`)."""
    steep = np.abs(maps[:, :2, :2]).max(axis=(1, 2)) > SLIVER_GRADIENT
    if not steep.any():
        return
    sel = np.flatnonzero(steep[raster.ids])
    if len(sel) == 0:
        return
    sub = Raster(raster.triangle, raster.rows[sel], raster.cols[sel], raster.ids[sel], raster.corners)
    bary = np.clip(sub.bary, 0.0, 1.0)
    bary /= np.maximum(bary.sum(axis=1, keepdims=True), 1e-6)
    at_pixels[:, sel] = np.einsum("pk,pkc->cp", bary, values[sub.ids][:, :, :5])


def vertex_facing(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(V,)`` in [0, 1]: how squarely each vertex faces the camera (cosine
    between its normal and the view axis; 0 = edge-on or turned away)."""
    v = vertices.astype(np.float64)
    a, b, c = v[triangles[:, 0]], v[triangles[:, 1]], v[triangles[:, 2]]
    n = np.cross(b - a, c - a)  # area-weighted triangle normals
    acc = _incidence(np.ascontiguousarray(triangles, dtype=np.int64).tobytes(), len(v)) @ n
    acc /= np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-12)
    # Camera looks along +z (smaller z = nearer): front faces point to -z.
    toward = -acc[:, 2]
    if np.sum(toward) < 0:  # orientation of the triangle list is the other way
        toward = -toward
    return np.clip(toward, 0.0, 1.0)


#: The last source mesh's :func:`vertex_facing` (a video drives one source
#: through many frames): key = the vertices' bytes.
_source_facing: dict[bytes, np.ndarray] = {}


def _source_vertex_facing(src: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """:func:`vertex_facing` of the source mesh, computed once per source."""
    key = np.ascontiguousarray(src).tobytes() + np.ascontiguousarray(triangles).tobytes()
    found = _source_facing.get(key)
    if found is None:
        found = vertex_facing(src, triangles)
        _source_facing.clear()
        _source_facing[key] = found
    return found


def _mirror_lookup(
    src: np.ndarray, drv: np.ndarray, triangles: np.ndarray, mirror: np.ndarray | None, config: GeometricFlowConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex mirror reading position ``(V, 2)`` and weight ``(V,)``.

    Weight is high where the source shows a vertex edge-on but its mirror
    partner squarely, and the driving mesh turns that vertex towards the camera.
    """
    if mirror is None:
        return src[:, :2].copy(), np.zeros(len(src), dtype=np.float32)
    f_s = _source_vertex_facing(src, triangles)
    f_d = vertex_facing(drv, triangles)
    better = smoothstep((f_s[mirror] - f_s - config.mirror_margin) / 0.3)
    needed = smoothstep((f_d - f_s) / 0.3)
    return src[mirror, :2].astype(np.float32), (better * needed).astype(np.float32)


#: The off-face extension is smooth by construction, so it is computed on a
#: grid this many times coarser than the crop and upsampled.
EXTENSION_STEP = 4


@lru_cache(maxsize=4)
def _block_sizes(size: int, n: int) -> np.ndarray:
    """``(n * n,)`` pixels of an ``size``-square image in each of the ``n x n``
    blocks of :func:`_block_means`."""
    edges = np.bincount(np.arange(size) * n // size, minlength=n)
    return np.outer(edges, edges).reshape(-1)


def _block_means(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Average per-pixel ``values (C, P)`` at pixels ``(rows, cols)`` of an
    ``size``-square image over an ``n x n`` grid of blocks (pixel ``r`` falls in
    block row ``r * n // size``). Returns ``cover (n, n)``, the fraction of each
    block's pixels given, and ``means (n, n, C)`` float32 over those (0 where none)."""
    block = (rows * n // size) * n + cols * n // size
    count = np.bincount(block, minlength=n * n)
    cover = (count / _block_sizes(size, n)).astype(np.float32).reshape(n, n)
    sums = np.stack([np.bincount(block, weights=channel, minlength=n * n) for channel in values], axis=1)
    means = (sums / np.maximum(count, 1)[:, None]).astype(np.float32).reshape(n, n, len(values))
    return cover, means


def _ear_span(vertices: np.ndarray) -> tuple[float, float]:
    """``(centre x, width)`` in pixels of the face oval's ear-level extremes
    (the width at least 1)."""
    a, b = float(vertices[EAR_LEVEL_OVAL[0], 0]), float(vertices[EAR_LEVEL_OVAL[1], 0])
    return 0.5 * (a + b), max(abs(b - a), 1.0)


def _nose_offset(vertices: np.ndarray) -> float:
    """How far the nose tip sits sideways of the midpoint between the face
    oval's ear-level extremes, in units of their distance (0 for a frontal
    face; positive when the nose points to larger x)."""
    centre, width = _ear_span(vertices)
    return (float(vertices[NOSE_TIP, 0]) - centre) / width


def _trailing_side(src: np.ndarray, drv: np.ndarray, x: np.ndarray, full_turn: float) -> np.ndarray:
    """Over image columns ``x`` (pixels, any shape), in [0, 1]: 1 on the side
    of the driving face that the turn from ``src`` to ``drv`` brings into
    view (opposite the way the nose moves), 0 on the other, ramping across
    the middle fifth of the ear-to-ear width; scaled down for a turn whose
    nose shift is under ``full_turn`` (0 without a turn)."""
    turn = _nose_offset(drv) - _nose_offset(src)
    centre, width = _ear_span(drv)
    side = smoothstep((centre - x) * np.sign(turn) / (0.2 * width))
    return side * smoothstep(abs(turn) / full_turn)


def _extend(
    raster, at_pixels: np.ndarray, rigid, src: np.ndarray, drv: np.ndarray, size: int, config: GeometricFlowConfig,
    head_occluder: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Displacement ``(S, S, 2)`` and its non-zero mask: the mesh's on the face;
    elsewhere the head's rigid motion on a depth proxy plus the extended
    non-rigid rest, faded to zero away from the head and at the crop border.

    ``at_pixels`` ``(5, P)`` holds, per covered pixel, (source x, source y, depth,
    non-rigid x, non-rigid y); ``src``, ``drv``: the meshes ``(468, 3)``.
    ``head_occluder``: see :func:`geometric_flow`.
    """
    rows, cols = raster.rows, raster.cols
    if len(rows) == 0:
        return np.zeros((size, size, 2), dtype=np.float32), np.zeros((size, size), dtype=bool)
    # Off the face the proxy surface curves back to ear depth (the face oval's
    # ear-level extremes), where a turning head's sides and hair are.
    pivot_z = float(0.5 * (drv[EAR_LEVEL_OVAL[0], 2] + drv[EAR_LEVEL_OVAL[1], 2]))
    flat = raster.flat
    face = raster.mask
    n = (size + EXTENSION_STEP - 1) // EXTENSION_STEP
    step = size / n
    cover, coarse = _block_means(rows, cols, at_pixels[2:], size, n)
    filled = push_pull(coarse, (cover > 0.99).astype(np.float32))

    y0, y1 = float(drv[:, 1].min()), float(drv[:, 1].max())
    face_h = max(y1 - y0, 1.0)
    dist = cv2.distanceTransform((cover < 0.5).astype(np.uint8), cv2.DIST_L2, 3) * step
    grid = pixel_centres(n, n) * step
    # 0 above the mouth, 1 below the chin: lengths change from their "above"
    # value to their "below" one (hair and temples; jaw and neck).
    below = smoothstep((grid[:, :1, 1] - (y0 + 0.75 * face_h)) / (0.35 * face_h))

    def length(above: float | np.ndarray, under: float) -> np.ndarray:
        return face_h * (above + (under - above) * below)

    # Depth proxy: the face's depth at its edge, curving back to the pivot
    # depth; at a large turn the return is longer over the top of the face
    # and on the side the turn brings into view (see GeometricFlowConfig).
    fade_above = config.depth_fade_above
    large = smoothstep((rotation_angle_deg(np.eye(3), rigid.rotation) - config.large_turn_from) / (config.large_turn_full - config.large_turn_from))
    if large > 0.0:
        trailing = _trailing_side(src, drv, grid[:1, :, 0], config.trailing_turn)
        # 1 above the top of the face, 0 from its upper corners down.
        top = smoothstep((y0 + 0.1 * face_h - grid[:, :1, 1]) / (0.15 * face_h))
        fade_above = fade_above + (config.depth_fade_trailing - fade_above) * (large * trailing)
        fade_above = fade_above + (config.depth_fade_top - fade_above) * (large * top)
    curve = smoothstep(dist / length(fade_above, config.depth_fade_below))
    sr = (rigid.scale * rigid.rotation).astype(np.float32)
    if head_occluder is not None:
        # ... except on what is worn over the head in front of the forehead:
        # where the rigid motion at the edge's depth reads the source's
        # occluder, the depth stays the edge's.
        edge_z = filled[:, :, 0]
        read = [grid[:, :, 0] * sr[k, 0] + grid[:, :, 1] * sr[k, 1] + edge_z * sr[k, 2] + (rigid.translation[k] - 0.5) for k in range(2)]
        worn = cv2.remap(head_occluder, read[0].astype(np.float32), read[1].astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        curve = curve * (1.0 - worn)
    z = filled[:, :, 0] + (pivot_z - filled[:, :, 0]) * curve
    # Rigid motion of (x, y, z), minus (x, y): an affine map of x, y and z.
    lin = sr[:2, :2] - np.eye(2, dtype=np.float32)
    shift = rigid.translation[:2].astype(np.float32)
    rigid_disp = np.empty((n, n, 2), dtype=np.float32)
    for k in range(2):
        rigid_disp[:, :, k] = grid[:, :, 0] * lin[k, 0] + grid[:, :, 1] * lin[k, 1] + z * sr[k, 2] + shift[k]
    nonrigid_fade = smoothstep(1.0 - dist / length(config.nonrigid_fade_above, config.nonrigid_fade_below))
    nonrigid = cv2.multiply(np.ascontiguousarray(filled[:, :, 1:]), cv2.merge([nonrigid_fade] * 2))

    # Fade with distance from the face: slower above (hair), faster below (neck).
    reach = length(config.reach_above, config.reach_below)
    weight = smoothstep(1.0 - dist / reach)
    # Fade to zero at the crop border so a pasted-back crop has no seam.
    band = max(1.0, config.border * size)
    edge = np.minimum(grid[0, :, 0], size - grid[0, :, 0])
    weight = weight * smoothstep(edge[:, None] / band) * smoothstep(edge[None, :] / band)
    coarse_disp = cv2.multiply(rigid_disp + nonrigid, cv2.merge([weight] * 2))
    out = cv2.resize(coarse_disp, (size, size), interpolation=cv2.INTER_LINEAR)
    face_disp = np.stack([at_pixels[0] - (cols.astype(np.float32) + 0.5), at_pixels[1] - (rows.astype(np.float32) + 0.5)], axis=1)
    # Within a few pixels of the face, blend from the nearest face pixel's
    # displacement to the coarse field, so the face edge has no seam.
    if EXTENSION_STEP > 1:
        band = 2.0 * EXTENSION_STEP
        # Work in the face's bounding box grown by the band.
        pad = int(np.ceil(band)) + 1
        r0, r1 = max(0, int(rows.min()) - pad), min(size, int(rows.max()) + 1 + pad)
        c0, c1 = max(0, int(cols.min()) - pad), min(size, int(cols.max()) + 1 + pad)
        box_face = face[r0:r1, c0:c1]
        d_box, labels = cv2.distanceTransformWithLabels(
            (~box_face).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
        )
        ring_r, ring_c = np.nonzero((d_box > 0) & (d_box < band))
        # Each face pixel is its own label: map labels to the pixels' positions.
        box_flat = (rows - r0) * (c1 - c0) + (cols - c0)
        label_to_pixel = np.zeros(int(labels.max()) + 1, dtype=np.int64)
        label_to_pixel[np.take(labels, box_flat)] = box_flat
        # The face edge's own values are noisy (slivers seen edge-on): use a
        # locally averaged face displacement as the value to blend from.
        box_disp = np.zeros(((r1 - r0) * (c1 - c0), 2), dtype=np.float32)
        scatter_rows(box_disp, box_flat, face_disp)
        weight_sum = cv2.GaussianBlur(box_face.astype(np.float32), (0, 0), 1.5)
        averaged = cv2.divide(cv2.GaussianBlur(box_disp.reshape(r1 - r0, c1 - c0, 2), (0, 0), 1.5), cv2.merge([np.maximum(weight_sum, 1e-6)] * 2))
        nearest = take_rows(averaged.reshape(-1, 2), label_to_pixel[labels[ring_r, ring_c]])
        b = smoothstep(d_box[ring_r, ring_c] / band)[:, None]
        ring = (ring_r + r0) * size + (ring_c + c0)
        out_flat = out.reshape(-1, 2)
        scatter_rows(out_flat, ring, nearest + b * (take_rows(out_flat, ring) - nearest))
    scatter_rows(out.reshape(-1, 2), flat, face_disp)
    # Moving: displacement of 1/64 pixel or more. OpenCV's remap rounds
    # positions to 1/32 pixel, so below half of that it reads the pixel itself
    # and the pixel is passed through unchanged.
    # (One inRange over both components: still means both strictly within.)
    still = float(np.nextafter(np.float32(1.0 / 64.0), np.float32(0.0)))
    moving = cv2.inRange(out, (-still, -still), (still, still)) == 0
    return out, moving
