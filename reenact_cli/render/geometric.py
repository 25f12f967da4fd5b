"""Geometric renderer: warp the source by a :class:`FlowField`, as layers.

A pure backward warp drags the background with the face (a "bubble") or shows
the source's old silhouette where the head turned away (a crease, a ghost
head). So the crop is treated as two layers (DESIGN.md):

* the *person* (face, hair, neck; MediaPipe selfie segmentation) moves with the
  flow, its alpha warped with it;
* the *background* stays put; where the person used to be and no longer is,
  it shows a plate inpainted once per source, not the smeared old head;
* off the driving face, source *face* pixels are not shown again: where the
  head turns away its far cheek passes behind the new silhouette, and the
  smooth off-face flow would otherwise draw that cheek a second time outside
  it (a face wider on the far side, which reads as a smaller turn). What
  shows there instead is the hair, ear or background around that strip,
  continued smoothly into it (not the precomputed plate, whose colours do not
  match its surroundings and cut a hard-edged crescent out of the head).

Pixels that do not move are passed through exactly (bit-identical).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from ..conventions import pixel_centres
from ..face.crop import CropTransform
from ..face.segmentation import PersonSegmenter, face_hull_mask
from ..face.topology import CHIN, INNER_LIP_MID, LEFT_EYE_CORNERS, NOSE_TIP, RIGHT_EYE_CORNERS, UPPER_BROWS, face_topology
from ..flow.extend import push_pull, smoothstep
from ..flow.geometric import FlowField
from ..flow.raster import take_rows
from .mouth import paint_mouth

#: Person-mask threshold and dilation (fraction of the crop) for the plate.
PLATE_THRESHOLD = 0.25
PLATE_DILATE = 0.03
#: How far below the chin (in face heights) the head ends and the neck begins.
HEAD_BELOW_CHIN = 0.08
#: Pixels over which the face's edge blends into its surroundings.
FACE_FEATHER = 2.5
#: Pixels over which the face's edge fades into a fill behind it (see
#: :func:`face_rim_over`).
FACE_SEAM = 3.0
#: Pixels by which the person mask is grown to cover its soft fringe.
HALO = 5
#: Off the driving face, a pixel that reads the source this many pixels or
#: more inside the source's face oval shows what lies behind the face (its
#: surroundings, continued); the hiding ramps in over the next
#: :data:`HIDDEN_RAMP` pixels.
HIDDEN_FROM = 1.0
HIDDEN_RAMP = 2.0
#: Pixels by which the hidden region is grown outwards (it covers the source
#: face's own rim, skin that would otherwise outline it) and softened.
HIDDEN_GROW = 3
HIDDEN_SOFT = 2.0
#: The strip behind a hidden cheek is continued from the hair, ear shadow or
#: background around it rather than from skin (skin there reads as more
#: cheek, a face wider on the far side): a surrounding pixel within this many
#: standard deviations (Mahalanobis, RGB) of the driving face's colours counts
#: as skin and feeds the fill with little weight.
BEHIND_SKIN_SIGMA = 2.0
#: uint8 levels added (as a standard deviation) to the face's colour spread, so
#: that a flat or grey face does not make every other shade "not skin".
BEHIND_SKIN_NOISE = 6.0
#: Weight kept by the most skin-like pixels: where only skin surrounds the
#: strip (the neck under a raised chin) the fill still continues it.
BEHIND_SKIN_FLOOR = 0.02
#: The face's colours are sampled every this many rows and columns (fast).
BEHIND_SKIN_STEP = 3
#: What lies just behind a silhouette is shaded by the cheek or jaw in front of
#: it (ambient occlusion), which is also what outlines the turned face: the
#: fill is darkened by this fraction at the driving face's edge, the
#: darkening falling off (1/e) over :data:`BEHIND_SHADE_WIDTH` pixels.
BEHIND_SHADE = 0.3
BEHIND_SHADE_WIDTH = 8.0
#: A push-pull fill is smooth: a wide strip of it reads as a flat smear. The
#: fill keeps the fine texture (detail finer than :data:`BEHIND_DETAIL_SIGMA`
#: pixels) of what lies around the strip, reflected into it across the strip's
#: outer edge, scaled by :data:`BEHIND_DETAIL_GAIN` and limited to
#: :data:`BEHIND_DETAIL_LIMIT` uint8 levels: grain and strands carry over, a
#: strong contour (the ear's rim) does not come back as its mirror image.
BEHIND_DETAIL_SIGMA = 2.0
BEHIND_DETAIL_GAIN = 0.8
BEHIND_DETAIL_LIMIT = 10.0
#: The nearest-edge offsets of the reflection are smoothed over this many
#: pixels so the reflected texture has no seams where the nearest edge jumps.
BEHIND_REFLECT_SMOOTH = 3.0
#: The mesh's outline lies a few pixels inside the cheek's real silhouette. On
#: the side the source face is turned away from, the skin-coloured person
#: pixels (:func:`skin_likeness` above :data:`FAR_RIM_SKIN`) within this
#: fraction of the crop beside the face oval, between eye level and the
#: oval's lower part (the forehead's rim is under hair or a cap, the neck is
#: not cheek), are that rim of cheek. Off the driving face the
#: head-motion flow reads it, stretched, beside a head turning away from it:
#: a ghost of the old silhouette. There it shows what lies beyond the
#: silhouette instead (:func:`beyond_rim`).
FAR_RIM = 0.04
FAR_RIM_SKIN = 0.3
FAR_RIM_ABOVE_CHIN = 0.2
#: ... but only where the flow stretches the rim out (source area read per
#: output pixel, relative to the face's as a whole, at most this, fully; none
#: from :data:`FAR_RIM_STRETCH_NONE`):
#: where it does not, the rim is the cheek's own edge beside a face that has
#: hardly turned.
FAR_RIM_STRETCH_FULL = 0.5
FAR_RIM_STRETCH_NONE = 0.8
#: The stretch is averaged over this many pixels (Gaussian sigma), read from
#: a margin of :data:`FAR_RIM_STRETCH_PAD` pixels around the rim.
FAR_RIM_STRETCH_SMOOTH = 2.0
FAR_RIM_STRETCH_PAD = 6
#: Something worn on or over the head in front of the forehead (a cap's brim
#: and crown, a fringe) shows partly inside the face oval and partly above
#: it. Inside, it moves with the forehead; off the face the head-motion flow
#: would give it the depth of a skull curving back, so a turn shears it in
#: two (a second brim, a smeared logo). Such an occluder is found as the
#: non-skin person pixels (skin likeness under :data:`OCCLUDER_SKIN`, skin
#: sampled on the cheeks and nose) above the brows (:data:`OCCLUDER_ABOVE_BROWS`
#: face heights over their upper edge) that are connected to non-skin pixels
#: inside the oval, within :data:`OCCLUDER_REACH` face heights of it; the
#: flow keeps the face edge's depth there (see ``geometric_flow``). Its mask is
#: softened over :data:`OCCLUDER_SOFT` pixels.
OCCLUDER_SKIN = 0.1
OCCLUDER_ABOVE_BROWS = 0.03
OCCLUDER_REACH = 0.35
OCCLUDER_SOFT = 2.0


@dataclass(frozen=True)
class SourceLayers:
    """What the renderer precomputes once per source crop.

    Attributes:
        image: ``(S, S, 3)`` uint8 source crop (resampled as is: fast and exact).
        person: ``(S, S)`` float32 person alpha.
        person_halo: ``person`` dilated by a few pixels (covers its soft fringe).
        background: ``(S, S, 3)`` uint8, the crop with the head inpainted away.
        lip_rgb: ``(3,)`` float32 mean colour of the source's lips.
        face_depth: ``(S, S)`` float32, how far (pixels) each pixel lies inside
            the source's face oval (0 outside).
        far_rim: ``(S, S)`` float32 in [0, 1], the cheek between the mesh's
            outline and the real silhouette on the source's far side
            (:func:`far_rim`).
        far_rim_rgb: ``(S, S, 3)`` uint8, what is read off the face where
            ``far_rim`` is: what lies beyond the silhouette, reflected into it.
        head_occluder: ``(S, S)`` float32 in [0, 1] or None: off the face, what
            is worn on or over the head in front of the forehead
            (:func:`head_occluder`); None when there is none.
    """

    image: np.ndarray
    person: np.ndarray
    person_halo: np.ndarray
    background: np.ndarray
    lip_rgb: np.ndarray
    face_depth: np.ndarray
    far_rim: np.ndarray
    far_rim_rgb: np.ndarray
    head_occluder: np.ndarray | None = None

    # Derived once per source (every frame reads them).
    @cached_property
    def far_rim_box(self) -> tuple[slice, slice] | None:
        """Bounding box of :attr:`far_rim`, grown by a pixel."""
        return _active_box(self.far_rim > 0.01, margin=1)

    @cached_property
    def deep_face_box(self) -> tuple[slice, slice] | None:
        """Bounding box of the face pixels at least :data:`HIDDEN_FROM` deep."""
        return _active_box(self.face_depth >= HIDDEN_FROM, margin=0)

    @cached_property
    def face_area(self) -> float:
        """Pixels inside the source's face oval."""
        return float(np.count_nonzero(self.face_depth))


@dataclass(frozen=True)
class Rendered:
    """A rendered crop.

    Attributes:
        image: ``(S, S, 3)`` uint8 RGB.
        alpha: ``(S, S)`` float32 warped person alpha.
        revealed: ``(S, S)`` float32, background uncovered by the move (inpainted).
        mouth_rgb, mouth_alpha: the painted mouth layer, uint8 RGB and float32
            alpha (0 where none).
        behind_rgb, behind_alpha: what shows where the source's face is now
            hidden behind the driving face's silhouette (the far cheek of a
            turning head), uint8 RGB and float32 alpha (0 where none).
        unseen: ``(S, S)`` bool, pixels the source never showed.
    """

    image: np.ndarray
    alpha: np.ndarray
    revealed: np.ndarray
    mouth_rgb: np.ndarray
    mouth_alpha: np.ndarray
    behind_rgb: np.ndarray
    behind_alpha: np.ndarray
    unseen: np.ndarray


def lip_colour(image: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Mean RGB in [0, 1] of the lip band between the outer and inner lip lines."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_LIPS

    pts = np.array(sorted({v for e in FACEMESH_LIPS for v in e}))
    mask = np.zeros(image.shape[:2], dtype=np.uint8)
    hull = cv2.convexHull(np.round(vertices[pts, :2] - 0.5).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    inner = face_topology().holes["mouth"].loop
    cv2.fillPoly(mask, [np.round(vertices[inner, :2] - 0.5).astype(np.int32)], 0)
    if mask.sum() < 4:
        return np.array([0.6, 0.35, 0.35], dtype=np.float32)
    return (image[mask.astype(bool)].reshape(-1, 3).mean(axis=0)).astype(np.float32)


def prepare_layers(crop_image: np.ndarray, source_vertices: np.ndarray, segmenter: PersonSegmenter) -> SourceLayers:
    """Person alpha, background plate and lip colour of a source crop.

    The plate is what lies *behind the head*: the head (the person above the
    chin, and the face) is inpainted from its surroundings, so revealed pixels
    take background colours at the sides and top and neck colours below,
    while the torso, which does not move, is kept as it is.
    """
    size = crop_image.shape[0]
    image = crop_image.astype(np.float32) / 255.0
    person = segmenter(crop_image)
    hull = face_hull_mask(source_vertices, (size, size))
    person = np.maximum(person, hull)
    k = max(3, int(PLATE_DILATE * size) | 1)
    chin_y = float(source_vertices[CHIN, 1])
    face_h = float(np.ptp(source_vertices[:, 1]))
    rows = (np.arange(size, dtype=np.float32) + 0.5)[:, None]
    head = (person > PLATE_THRESHOLD) & (rows < chin_y + HEAD_BELOW_CHIN * face_h) | (hull > 0)
    hole = cv2.dilate(head.astype(np.uint8), np.ones((k, k), np.uint8))
    # Where the face itself was, what shows through is the side of the head:
    # inpaint the face alone from the hair and skin around it. Elsewhere in the
    # head, inpaint the whole head from background (sides, top) and neck (below).
    face_hole = cv2.dilate(hull.astype(np.uint8), np.ones((k, k), np.uint8))
    head_plate = _inpaint_small(crop_image, hole)
    face_plate = _inpaint_small(crop_image, face_hole)
    inside = cv2.GaussianBlur(face_hole.astype(np.float32), (0, 0), size / 64.0)[:, :, None]
    plate = face_plate * inside + head_plate * (1.0 - inside)
    background = np.where(hole[:, :, None] > 0, plate, image)
    halo = cv2.dilate(person, np.ones((HALO, HALO), np.uint8))
    rim = far_rim(crop_image, person, hull, source_vertices)
    return SourceLayers(
        crop_image,
        person.astype(np.float32),
        halo,
        np.clip(background * 255.0 + 0.5, 0, 255).astype(np.uint8),
        lip_colour(image, source_vertices),
        cv2.distanceTransform(hull.astype(np.uint8), cv2.DIST_L2, 3),
        rim,
        beyond_rim(crop_image, rim, hull),
        head_occluder(crop_image, person, hull, source_vertices),
    )


def beyond_rim(image: np.ndarray, rim: np.ndarray, hull: np.ndarray) -> np.ndarray:
    """``(S, S, 3)`` uint8: ``image`` with the ``rim`` (float ``(S, S)``)
    replaced by what lies beyond it, off the face oval ``hull``: the pixels
    across its outer edge, reflected into it (:func:`reflection_maps`)."""
    out = image.copy()
    box = _active_box(rim > 0, margin=int(np.ceil(2 * FAR_RIM * image.shape[0])) + 2)
    if box is None:
        return out
    ys, xs = box
    known = (rim[ys, xs] <= 0) & (hull[ys, xs] <= 0)
    if not known.any():
        return out
    map_x, map_y = reflection_maps(known)
    here = np.ascontiguousarray(image[ys, xs])
    beyond = cv2.remap(here, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    out[ys, xs] = np.where((rim[ys, xs] > 0)[:, :, None], beyond, here)
    return out


def _eye_line(vertices: np.ndarray) -> float:
    """Row (crop pixels) of the eyes: the mean height of their outer corners."""
    return float(0.5 * (vertices[RIGHT_EYE_CORNERS[0], 1] + vertices[LEFT_EYE_CORNERS[1], 1]))


def far_rim(image: np.ndarray, person: np.ndarray, hull: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """``(S, S)`` float32 in [0, 1]: the skin-coloured person pixels of the
    uint8 ``image`` within
    :data:`FAR_RIM` of the face oval ``hull``, beside it on the side the face
    is turned away from (the side the nose tip points to), from eye level down
    to :data:`FAR_RIM_ABOVE_CHIN` face heights above the chin: the rim of
    cheek between the mesh's outline and the silhouette."""
    size = hull.shape[0]
    face = hull > 0
    near = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 3) <= FAR_RIM * size
    xs = np.flatnonzero(face.any(axis=0))
    if len(xs) == 0:
        return np.zeros((size, size), np.float32)
    centre = 0.5 * (xs[0] + xs[-1] + 1)
    cols = np.arange(size, dtype=np.float32) + 0.5
    side = (cols > centre) if vertices[NOSE_TIP, 0] > centre else (cols < centre)
    rows = (np.arange(size, dtype=np.float32) + 0.5)[:, None]
    chin_y = float(vertices[CHIN, 1])
    face_h = float(np.ptp(vertices[:, 1]))
    eye_y = _eye_line(vertices)
    band = (rows > eye_y) & (rows < chin_y - FAR_RIM_ABOVE_CHIN * face_h)
    rim = near & ~face & (person > 0.5) & side[None, :] & band
    rim &= skin_likeness(image, face) > FAR_RIM_SKIN
    return cv2.GaussianBlur(rim.astype(np.float32), (0, 0), 1.0)


def head_occluder(image: np.ndarray, person: np.ndarray, hull: np.ndarray, vertices: np.ndarray) -> np.ndarray | None:
    """``(S, S)`` float32 in [0, 1], or None if there is none: the part off the
    face oval ``hull`` of anything worn on or over the head in front of the
    forehead (a cap, a fringe) in the uint8 ``image``; see
    :data:`OCCLUDER_SKIN`."""
    size = hull.shape[0]
    face = hull > 0
    rows = (np.arange(size, dtype=np.float32) + 0.5)[:, None]
    face_h = float(np.ptp(vertices[:, 1]))
    eye_y = _eye_line(vertices)
    mouth_y = float(vertices[INNER_LIP_MID[0], 1])
    cheeks = face & (rows > eye_y + 0.05 * face_h) & (rows < mouth_y - 0.03 * face_h)
    if np.count_nonzero(cheeks[::BEHIND_SKIN_STEP, ::BEHIND_SKIN_STEP]) < 16:
        return None  # too few skin samples to tell skin from anything else
    brow_y = float(np.min(vertices[list(UPPER_BROWS), 1]))
    above = rows < brow_y - OCCLUDER_ABOVE_BROWS * face_h
    near = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 3) < OCCLUDER_REACH * face_h
    candidate = above & near & (person > 0.5) & (skin_likeness(image, cheeks) < OCCLUDER_SKIN)
    count, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
    if count <= 1:
        return None
    worn = np.unique(labels[candidate & face])
    mask = np.isin(labels, worn[worn > 0]) & ~face
    if not mask.any():
        return None
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), OCCLUDER_SOFT)


def _inpaint_small(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Inpaint ``hole`` at quarter size (fast; a soft fill is what something
    seen behind a moving head should look like); float32 [0, 1] at full size."""
    size = image.shape[0]
    small = max(32, size // 4)
    img_s = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)
    hole_s = cv2.resize(hole, (small, small), interpolation=cv2.INTER_NEAREST)
    plate = cv2.resize(cv2.inpaint(img_s, hole_s, 5, cv2.INPAINT_TELEA), (size, size), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(plate, (0, 0), size / 128.0).astype(np.float32) / 255.0


def reveal_mask(person_halo: np.ndarray, warped_alpha: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Where the person was (fringe included) and no longer is: ``(S, S)`` in
    [0, 1]. Zero wherever nothing moves, so still pixels pass through exactly."""
    if not moving.any():
        return np.zeros_like(warped_alpha)
    m = moving.astype(np.float32)
    r = np.clip(2.0 * (person_halo - warped_alpha), 0.0, 1.0) * m
    return cv2.GaussianBlur(r, (3, 3), 0) * m


def hidden_face(
    face_depth: np.ndarray,
    source_xy: "np.ndarray | SamplingMaps",
    face: np.ndarray,
    deep_box: tuple[slice, slice] | None = None,
) -> np.ndarray:
    """``(h, w)`` in [0, 1]: how much each pixel off the driving ``face`` reads
    the source's face (1 = well inside the source's face oval). Those pixels
    show source face that the driving face now hides (the far cheek of a head
    turning away): the renderer shows what lies around them there instead
    (:func:`behind_fill`). ``source_xy``: read positions ``(h, w, 2)`` or
    their :func:`sampling_maps`; ``deep_box``: the bounding box of
    ``face_depth >= HIDDEN_FROM`` if known (:attr:`SourceLayers.deep_face_box`)."""
    fixed, frac = source_xy if isinstance(source_xy, tuple) else sampling_maps(source_xy)
    hidden = np.zeros(face.shape, dtype=np.float32)
    deep = deep_box if deep_box is not None else _active_box(face_depth >= HIDDEN_FROM, margin=0)
    if deep is None:
        return hidden
    # Only pixels off the face whose bilinear read (integer corner x, y and
    # x + 1, y + 1) touches the deep box can read a depth past HIDDEN_FROM
    # (elsewhere it reads zeros, or depths of at most HIDDEN_FROM): sample those.
    ry, rx = deep
    lower, upper = (float(rx.start - 1), float(ry.start - 1)), (float(rx.stop - 1), float(ry.stop - 1))
    index = np.flatnonzero((cv2.inRange(fixed, lower, upper) > 0) & (face == 0))
    if len(index) == 0:
        return hidden
    depth = _remap_at(face_depth, (fixed, frac), index, cv2.BORDER_CONSTANT)
    hidden.reshape(-1)[index] = smoothstep((depth - HIDDEN_FROM) / HIDDEN_RAMP)
    return hidden


def skin_likeness(rgb: np.ndarray, face: np.ndarray) -> np.ndarray:
    """``(h, w)`` float32 in [0, 1 - :data:`BEHIND_SKIN_FLOOR`]: how much each
    pixel of the uint8 ``rgb (h, w, 3)`` looks like the skin of the ``face``
    pixels (bool ``(h, w)``): a Gaussian of its Mahalanobis distance to their
    colours (sampled every :data:`BEHIND_SKIN_STEP` rows and columns), in
    units of :data:`BEHIND_SKIN_SIGMA`. All zero when fewer than 16 face
    pixels are sampled."""
    step = BEHIND_SKIN_STEP
    skin = rgb[::step, ::step][face[::step, ::step]].astype(np.float64)
    if len(skin) < 16:
        return np.zeros(rgb.shape[:2], np.float32)
    cov, mean = cv2.calcCovarMatrix(skin, None, cv2.COVAR_NORMAL | cv2.COVAR_ROWS | cv2.COVAR_SCALE)
    cov += BEHIND_SKIN_NOISE**2 * np.eye(3)
    mean = mean[0]
    # d' C^-1 d = |L^-1 d|^2 with C = L L': whiten with one affine cv2.transform.
    white = np.linalg.inv(np.linalg.cholesky(cov))
    y = cv2.transform(rgb.astype(np.float32), np.hstack([white, -(white @ mean)[:, None]]).astype(np.float32))
    d2 = cv2.transform(cv2.multiply(y, y), np.full((1, 3), -0.5 / BEHIND_SKIN_SIGMA**2, np.float32))
    return cv2.exp(d2) * np.float32(1.0 - BEHIND_SKIN_FLOOR)


def occlusion_shade(face: np.ndarray) -> np.ndarray:
    """``(h, w)`` float32 factor in [1 - :data:`BEHIND_SHADE`, 1] for what lies
    behind the silhouette of ``face`` (bool ``(h, w)``): darkest next to the
    face, fading with the distance (pixels) from it."""
    dist = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 3)
    return 1.0 - BEHIND_SHADE * cv2.exp(dist * np.float32(-1.0 / BEHIND_SHADE_WIDTH))


def behind_fill(out: np.ndarray, hidden: np.ndarray, face: np.ndarray, person: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What shows where the source face is now hidden: the region is grown by
    :data:`HIDDEN_GROW` pixels and softened (except against the driving face,
    whose silhouette stays crisp), and filled smoothly (push-pull) from the
    composited ``out`` around it, off the face: the hair, ear or background
    beside the turned cheek continues behind it. Where the warped ``person``
    alpha is given, the fill is taken from the person around the strip (the
    side of the head lies behind a cheek, not the background below the jaw).
    Surrounding pixels coloured like the face's skin hardly count
    (:func:`skin_likeness`), and the fill is shaded towards the face's edge
    (:func:`occlusion_shade`), so the far silhouette reads as an edge, not as
    more cheek. Returns ``(rgb uint8, alpha)``."""
    rgb, alpha = np.zeros_like(out), np.zeros_like(hidden)
    if not (hidden > 0.01).any():
        return rgb, alpha
    k = 2 * HIDDEN_GROW + 1
    # The strip grown and softened (Gaussian radius 4 sigma) stays within this
    # margin of the hidden pixels; the fill reads 4 k pixels around that.
    hy, hx = _active_box(hidden > 0.0, margin=HIDDEN_GROW + int(np.ceil(4 * HIDDEN_SOFT)) + 1)
    grown = cv2.dilate(hidden[hy, hx], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    soft = cv2.GaussianBlur(grown, (0, 0), HIDDEN_SOFT)
    strip = np.maximum(hidden[hy, hx], soft) * (face[hy, hx] == 0)
    strip[strip < 0.02] = 0.0
    inner = _active_box(strip > 0.0, margin=0)
    if inner is None:
        return rgb, alpha
    alpha[hy, hx] = strip
    h, w = hidden.shape
    m = 4 * k
    ys = slice(max(0, hy.start + inner[0].start - m), min(h, hy.start + inner[0].stop + m))
    xs = slice(max(0, hx.start + inner[1].start - m), min(w, hx.start + inner[1].stop + m))
    face_box = face[ys, xs] > 0
    known = ((alpha[ys, xs] <= 0.0) & ~face_box).astype(np.float32)
    if person is not None:
        person_box = person[ys, xs]
        if (known * person_box > 0.5).sum() >= 16:
            known *= person_box
    if not known.any():
        return rgb, np.zeros_like(hidden)
    near = out[ys, xs].astype(np.float32)
    detail = reflected_detail(near, known > 0.5)
    known *= 1.0 - skin_likeness(out[ys, xs], face_box)
    shade = occlusion_shade(face_box)
    fill = cv2.multiply(push_pull(near, known) + detail, cv2.merge([shade, shade, shade]))
    rgb[ys, xs] = np.clip(fill + 0.5, 0, 255).astype(np.uint8)
    return rgb, alpha


def reflection_maps(known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV ``remap`` maps (x, y; float32 ``(h, w)``, integer = pixel
    centre) that read each pixel outside ``known`` (bool ``(h, w)``, some
    pixel known) at its mirror image across the edge of the known pixels:
    what lies just beyond a strip, reflected into it. A pixel ``d`` pixels
    from the nearest known one reads ``2 d - 1`` pixels further on, along the
    direction in which that distance falls fastest (smoothed over
    :data:`BEHIND_REFLECT_SMOOTH` pixels, so the reflection has no seams where
    the nearest known pixel jumps)."""
    h, w = known.shape
    dist = cv2.distanceTransform((~known).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    smooth = cv2.GaussianBlur(dist, (0, 0), BEHIND_REFLECT_SMOOTH)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    # Step 2d - 1 down the distance's gradient (none on known pixels).
    step = np.maximum(2.0 * dist - 1.0, 0.0) / np.maximum(cv2.magnitude(gx, gy), 1e-6)
    # OpenCV's maps put pixel centres at integers, ours at +0.5.
    centres = pixel_centres(w, h)
    return (centres[:, :, 0] - 0.5) - gx * step, (centres[:, :, 1] - 0.5) - gy * step


def reflected_detail(rgb: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` float32: fine texture for the pixels outside ``known``
    (bool ``(h, w)``): the high-pass (finer than :data:`BEHIND_DETAIL_SIGMA`)
    of ``rgb`` (float32) over the ``known`` pixels, read at each pixel's
    mirror image across the nearest ``known`` pixel (the texture just outside
    a strip, reflected into it; :func:`reflection_maps`), limited to
    :data:`BEHIND_DETAIL_LIMIT`, scaled by :data:`BEHIND_DETAIL_GAIN`. Zero
    on ``known``."""
    if known.all() or not known.any():
        return np.zeros_like(rgb)
    # High-pass against the local mean of the known pixels alone, so the edge
    # between them and the rest (the face, the background) is not texture.
    k = known.astype(np.float32)
    k3 = cv2.merge([k, k, k])
    weight = np.maximum(cv2.GaussianBlur(k, (0, 0), BEHIND_DETAIL_SIGMA), np.float32(1e-3))
    local = cv2.divide(cv2.GaussianBlur(cv2.multiply(rgb, k3), (0, 0), BEHIND_DETAIL_SIGMA), cv2.merge([weight] * 3))
    high = cv2.multiply(np.clip(rgb - local, -BEHIND_DETAIL_LIMIT, BEHIND_DETAIL_LIMIT), k3)
    map_x, map_y = reflection_maps(known)
    # Unknown pixels' high-pass is zero, so a reading that strays off the
    # known pixels fades by itself.
    mirrored = cv2.remap(high, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mirrored[known] = 0.0
    return mirrored * np.float32(BEHIND_DETAIL_GAIN)


def face_rim_over(behind_alpha: np.ndarray, inside: np.ndarray, face: np.ndarray) -> None:
    """Let the fill behind a hidden cheek show through the face's outermost
    pixels, in place: the face's edge is the rasterised mesh's, a staircase,
    and cut hard against a fill of much the same colour it reads as a pasted
    sticker with a jagged outline. Face pixels within :data:`FACE_SEAM` of the
    edge (``inside``: their distance from it, pixels) and next to the fill
    get its alpha, fading to zero inwards, so the face's edge blends into the
    (shaded) fill as it would into what lies behind a real silhouette."""
    k = 2 * int(np.ceil(FACE_SEAM)) + 1
    box = _active_box(behind_alpha > 0, margin=k)
    if box is None:
        return
    alpha, face, inside = behind_alpha[box], face[box], inside[box]
    near = cv2.dilate(np.ascontiguousarray(alpha), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    rim = (face > 0) & (inside < FACE_SEAM)
    fade = 1.0 - smoothstep(inside[rim] / np.float32(FACE_SEAM))
    alpha[rim] = np.maximum(alpha[rim], near[rim] * fade)


SamplingMaps = tuple[np.ndarray, np.ndarray]


def sampling_maps(source_xy: np.ndarray) -> SamplingMaps:
    """OpenCV's fixed-point form of a ``(h, w, 2)`` read position field, for
    sampling several images at the same positions. Bilinear ``cv2.remap``
    rounds float positions to 1/32 pixel internally, so reading through these
    maps gives bit-identical results, without converting once per image."""
    # Our pixel centres are at +0.5; OpenCV's at integers.
    return cv2.convertMaps(np.ascontiguousarray(source_xy, dtype=np.float32) - 0.5, None, cv2.CV_16SC2)


def _remap(img: np.ndarray, source_xy: np.ndarray | SamplingMaps, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Bilinear read of ``img`` at ``source_xy`` (``(h, w, 2)`` pixels, or
    :func:`sampling_maps` of them)."""
    fixed, frac = source_xy if isinstance(source_xy, tuple) else sampling_maps(source_xy)
    return cv2.remap(img, fixed, frac, cv2.INTER_LINEAR, borderMode=border)


def _remap_at(img: np.ndarray, maps: SamplingMaps, index: np.ndarray, border: int) -> np.ndarray:
    """:func:`_remap` at the flat pixel ``index (N,)`` of the maps only:
    ``(N,)`` values of the single-channel ``img``, bit for bit as in the full
    remap. (OpenCV's remap needs sides under 32767, so the N reads are laid
    out as rows of 256.)"""
    fixed, frac = maps
    n = len(index)
    padded = np.resize(index, -(-n // 256) * 256)  # repeats the first indices
    at_fixed = take_rows(np.ascontiguousarray(fixed).reshape(-1, 2), padded).reshape(-1, 256, 2)
    at_frac = np.take(frac, padded).reshape(-1, 256)
    return cv2.remap(img, at_fixed, at_frac, cv2.INTER_LINEAR, borderMode=border).reshape(-1)[:n]


def composite(
    canvas: np.ndarray,
    warped: np.ndarray,
    alpha: np.ndarray,
    revealed: np.ndarray,
    plate: np.ndarray,
    mouth_rgb: np.ndarray | None = None,
    mouth_alpha: np.ndarray | None = None,
    behind_rgb: np.ndarray | None = None,
    behind_alpha: np.ndarray | None = None,
) -> np.ndarray:
    """Layer composite at any resolution; images uint8 ``(h, w, 3)``, weights
    float32 ``(h, w)`` in [0, 1]; returns uint8.

    ``out = alpha * warped + (1 - alpha) * background``, where the background is
    the canvas except where ``revealed`` (then the inpainted ``plate``), then
    what shows behind a hidden cheek (``behind_*``) and the painted mouth on top. Where ``warped == canvas`` and nothing is revealed
    the canvas comes back bit for bit.
    """
    background = canvas
    if revealed.any():
        background = cv2.blendLinear(canvas, plate, 1.0 - revealed, revealed)
    out = cv2.blendLinear(background, warped, 1.0 - alpha, alpha)
    _over(out, behind_rgb, behind_alpha)
    _over(out, mouth_rgb, mouth_alpha)
    return out


def _over(out: np.ndarray, rgb: np.ndarray | None, alpha: np.ndarray | None) -> None:
    """Blend, in place, the layer ``rgb`` with weight ``alpha`` over ``out``."""
    if rgb is None or alpha is None:
        return
    box = _active_box(alpha > 0, margin=0)
    if box is not None:
        ys, xs = box
        m = np.ascontiguousarray(alpha[ys, xs])
        out[ys, xs] = cv2.blendLinear(np.ascontiguousarray(out[ys, xs]), np.ascontiguousarray(rgb[ys, xs]), 1.0 - m, m)


def inside_distance(mask: np.ndarray) -> np.ndarray:
    """``(h, w)`` float32: for each pixel of ``mask`` (uint8 0/1), its distance
    (pixels, OpenCV's 3x3 L2 chamfer) to the nearest pixel outside it, the
    array's border counting as outside; 0 outside. Computed over the mask's
    bounding box only (a ring of outside pixels bounds every shortest path)."""
    inside = np.zeros(mask.shape, dtype=np.float32)
    box = _active_box(mask > 0, margin=0)
    if box is not None:
        inside[box] = cv2.distanceTransform(np.pad(mask[box], 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    return inside


def _active_box(mask: np.ndarray, margin: int = 2) -> tuple[slice, slice] | None:
    """Bounding box (row slice, col slice) of a mask, grown by ``margin``."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
        slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)),
    )


def _blend_mirror(warped: np.ndarray, image8: np.ndarray, mirror_xy: np.ndarray, weight: np.ndarray) -> None:
    """Blend, in place, the mirror reading into ``warped`` where ``weight > 0``,
    after matching its mean colour to the direct reading over the blend zone
    (the two sides of a face are rarely lit alike)."""
    box = _active_box(weight > 0.01, margin=1)
    if box is None:
        return
    ys, xs = box
    w = np.ascontiguousarray(weight[ys, xs])
    direct = warped[ys, xs]
    mirrored = _remap(image8, np.ascontiguousarray(mirror_xy[ys, xs])).astype(np.float32)
    zone = (w > 0.05) & (w < 0.6)
    if zone.sum() > 20:
        gain = (direct[zone].astype(np.float32).mean(axis=0) + 1.0) / (mirrored[zone].mean(axis=0) + 1.0)
        mirrored *= np.clip(gain, 0.6, 1.6)
    mirrored = np.clip(mirrored + 0.5, 0, 255).astype(np.uint8)
    warped[ys, xs] = cv2.blendLinear(np.ascontiguousarray(direct), mirrored, 1.0 - w, w)


def _replace_far_rim(
    warped: np.ndarray,
    layers: SourceLayers,
    source_xy: "np.ndarray | SamplingMaps",
    source_float: np.ndarray,
    face: np.ndarray,
    face_scale: float,
    area_scale: float = 1.0,
) -> None:
    """Off the driving ``face``, where ``warped`` (uint8, in place) read the
    source's far rim of cheek stretched out (a head turned away from it: a
    ghost of the old silhouette), show what lies beyond the rim instead
    (:attr:`SourceLayers.far_rim_rgb`). Where the flow does not stretch the
    rim (a still or slightly moving head) it is the cheek's own edge and is
    kept. ``source_float``: the read positions ``(h, w, 2)``, crop pixels
    (``source_xy`` may be their :func:`sampling_maps`); ``face_scale``: the
    source face's area over the driving face's (a face that merely grows or
    shrinks is not a stretch); ``area_scale``: crop pixel area per output
    pixel."""
    rim_box = layers.far_rim_box
    if rim_box is None:
        return
    fixed, frac = source_xy if isinstance(source_xy, tuple) else sampling_maps(source_xy)
    # Only the pixels that read within the rim's box (integer read positions;
    # bilinear reads one more, which the margin covers).
    ry, rx = rim_box
    lower, upper = (float(rx.start), float(ry.start)), (float(rx.stop - 1), float(ry.stop - 1))
    box = _active_box(cv2.inRange(fixed, lower, upper) > 0, margin=0)
    if box is None:
        return
    ys, xs = box
    w = _remap(layers.far_rim, (np.ascontiguousarray(fixed[ys, xs]), np.ascontiguousarray(frac[ys, xs])), cv2.BORDER_CONSTANT)
    w *= 1.0 - face[ys, xs]
    # ... and of those, the ones off the face that read the rim itself.
    sub = _active_box(w > 0.01, margin=0)
    if sub is None:
        return
    w = w[sub]
    ys = slice(ys.start + sub[0].start, ys.start + sub[0].stop)
    xs = slice(xs.start + sub[1].start, xs.start + sub[1].stop)
    fixed, frac = np.ascontiguousarray(fixed[ys, xs]), np.ascontiguousarray(frac[ys, xs])
    # Area of source read per output pixel (Jacobian determinant), from
    # central differences over the box grown by a margin, then averaged over
    # a few pixels: a smeared rim is a broad stretch, not one odd pixel of
    # the blend between the face's flow and the head's.
    pad = FAR_RIM_STRETCH_PAD
    gy0, gx0 = max(ys.start - pad, 0), max(xs.start - pad, 0)
    grown = np.ascontiguousarray(source_float[gy0 : ys.stop + pad, gx0 : xs.stop + pad])
    inner = slice(ys.start - gy0, ys.stop - gy0), slice(xs.start - gx0, xs.stop - gx0)
    gx = cv2.Sobel(grown, cv2.CV_32F, 1, 0, ksize=1) * 0.5
    gy = cv2.Sobel(grown, cv2.CV_32F, 0, 1, ksize=1) * 0.5
    det = gx[:, :, 0] * gy[:, :, 1] - gx[:, :, 1] * gy[:, :, 0]
    det = cv2.GaussianBlur(det, (0, 0), FAR_RIM_STRETCH_SMOOTH)[inner] / np.float32(area_scale * face_scale)
    m = w * smoothstep((FAR_RIM_STRETCH_NONE - det) / (FAR_RIM_STRETCH_NONE - FAR_RIM_STRETCH_FULL))
    if not (m > 0.01).any():
        return
    beyond = _remap(layers.far_rim_rgb, (fixed, frac))
    m = np.ascontiguousarray(m, dtype=np.float32)
    warped[ys, xs] = cv2.blendLinear(np.ascontiguousarray(warped[ys, xs]), beyond, 1.0 - m, m)


def _face_scale(layers: SourceLayers, flow: FlowField) -> float:
    """Area of the source's face oval over the driving face's (crop pixels)."""
    return layers.face_area / max(float(np.count_nonzero(flow.face)), 1.0)


def render(layers: SourceLayers, flow: FlowField) -> Rendered:
    """Render the reenacted crop from the source layers and a flow field.

    Only the box around moving (or painted) pixels is computed; outside it the
    source crop is copied unchanged.
    """
    size = flow.face.shape[0]
    image = layers.image.copy()
    alpha = layers.person.copy()
    revealed = np.zeros((size, size), dtype=np.float32)
    behind_rgb, behind_alpha = np.zeros_like(image), np.zeros_like(revealed)
    mouth_rgb, mouth_alpha = paint_mouth(flow.mouth, flow.mouth_ut, layers.lip_rgb)
    box = _active_box(flow.moving | flow.mouth)
    if box is not None:
        ys, xs = box
        src_xy = sampling_maps(flow.source_xy[ys, xs])
        warped = _remap(layers.image, src_xy)
        _blend_mirror(warped, layers.image, flow.mirror_xy[ys, xs], flow.mirror_weight[ys, xs])
        face = flow.face[ys, xs].astype(np.uint8)
        a = _remap(layers.person, src_xy)
        # The face is person by definition; its outermost pixels blend softly
        # into what lies around it (they read the source's silhouette).
        inside = inside_distance(face)
        a = np.maximum(a, np.minimum(inside / FACE_FEATHER, 1.0))
        _replace_far_rim(warped, layers, src_xy, np.ascontiguousarray(flow.source_xy[ys, xs]), face, _face_scale(layers, flow))
        r = reveal_mask(layers.person_halo[ys, xs], a, flow.moving[ys, xs])
        out = composite(np.ascontiguousarray(layers.image[ys, xs]), warped, a, r, np.ascontiguousarray(layers.background[ys, xs]))
        b_rgb, b_alpha = behind_fill(out, hidden_face(layers.face_depth, src_xy, face, layers.deep_face_box), face, a)
        b_alpha *= flow.moving[ys, xs]
        face_rim_over(b_alpha, inside, face)
        _over(out, b_rgb, b_alpha)
        _over(out, np.ascontiguousarray(mouth_rgb[ys, xs]), np.ascontiguousarray(mouth_alpha[ys, xs]))
        image[ys, xs] = out
        alpha[ys, xs], revealed[ys, xs] = a, r
        behind_rgb[ys, xs], behind_alpha[ys, xs] = b_rgb, b_alpha
    unseen = flow.unseen | (revealed > 0.25) | (behind_alpha > 0.25)
    return Rendered(image, alpha, revealed, mouth_rgb, mouth_alpha, behind_rgb, behind_alpha, unseen)


#: Rows of the frame composited at a time by :func:`paste_back` (bounds memory).
PASTE_STRIP_ROWS = 256


def paste_back(frame: np.ndarray, crop: CropTransform, layers: SourceLayers, flow: FlowField, rendered: Rendered) -> np.ndarray:
    """The reenacted full frame, rendered at the frame's own resolution.

    The crop-resolution flow and layers are resampled onto the frame, and the
    *original* frame pixels are warped, so the face keeps the photo's
    sharpness. Only the frame box of the pixels that move (or are painted) is
    touched, in strips of :data:`PASTE_STRIP_ROWS` rows so memory stays
    bounded; the flow fades to zero at the crop border, so there is no seam.
    """
    out = frame.copy()
    active = _active_box(flow.moving | (rendered.mouth_alpha > 0), margin=2)
    if active is None:
        return out
    # The active crop box, in frame pixels, clipped to the crop's frame box.
    c2f = crop.crop_to_frame
    fx0, fy0, fx1, fy1 = crop.frame_box()
    x0 = max(fx0, int(np.floor(active[1].start * c2f[0, 0] + c2f[0, 2])))
    x1 = min(fx1, int(np.ceil(active[1].stop * c2f[0, 0] + c2f[0, 2])))
    y0 = max(fy0, int(np.floor(active[0].start * c2f[1, 1] + c2f[1, 2])))
    y1 = min(fy1, int(np.ceil(active[0].stop * c2f[1, 1] + c2f[1, 2])))
    if x1 <= x0 or y1 <= y0:
        return out
    # Warped pixels are read from the whole crop box of the original frame.
    canvas = np.ascontiguousarray(frame[fy0:fy1, fx0:fx1])
    f2c = crop.frame_to_crop
    cx_row = (np.arange(x0, x1, dtype=np.float32) + 0.5) * f2c[0, 0] + f2c[0, 2]
    # Layers that are empty (no painted mouth, nothing behind a cheek, no far
    # rim of cheek in the source) are not resampled.
    has_mouth, has_behind = bool(rendered.mouth_alpha.any()), bool(rendered.behind_alpha.any())
    face = flow.face.astype(np.float32) if layers.far_rim_box is not None else None
    face_scale, area_scale = _face_scale(layers, flow), float(f2c[0, 0] * f2c[1, 1])
    for top in range(y0, y1, PASTE_STRIP_ROWS):
        bottom = min(y1, top + PASTE_STRIP_ROWS)
        cy_col = (np.arange(top, bottom, dtype=np.float32) + 0.5) * f2c[1, 1] + f2c[1, 2]
        cx = np.ascontiguousarray(np.broadcast_to(cx_row[None, :] - 0.5, (bottom - top, x1 - x0)), dtype=np.float32)
        cy = np.ascontiguousarray(np.broadcast_to(cy_col[:, None] - 0.5, (bottom - top, x1 - x0)), dtype=np.float32)

        def up(img: np.ndarray) -> np.ndarray:
            return cv2.remap(img, cx, cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        src_crop = up(flow.source_xy)
        src = src_crop.copy()
        src[:, :, 0] = src[:, :, 0] * c2f[0, 0] + (c2f[0, 2] - fx0)
        src[:, :, 1] = src[:, :, 1] * c2f[1, 1] + (c2f[1, 2] - fy0)
        here = canvas[top - fy0 : bottom - fy0, x0 - fx0 : x1 - fx0]
        warped = _remap(canvas, src)
        if face is not None:
            _replace_far_rim(warped, layers, src_crop, src_crop, up(face), face_scale, area_scale)
        out[top:bottom, x0:x1] = composite(
            np.ascontiguousarray(here),
            warped,
            up(rendered.alpha),
            up(rendered.revealed),
            up(layers.background),
            *((up(rendered.mouth_rgb), up(rendered.mouth_alpha)) if has_mouth else (None, None)),
            *((up(rendered.behind_rgb), up(rendered.behind_alpha)) if has_behind else (None, None)),
        )
    return out
