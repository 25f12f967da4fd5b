"""Wavefront .obj export of a mesh, for looking at it in any 3-D viewer."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..media.atomic import atomic_output
from .topology import face_topology


def obj_text(vertices: np.ndarray, comment: str = "") -> str:
    """.obj text of ``vertices (468, 3)`` with the face triangles (1-based)."""
    lines = [f"# {comment}"] if comment else []
    lines.append("# reenact face mesh: x right, y down, z away from the camera (pixels)")
    lines += [f"v {x:.4f} {y:.4f} {z:.4f}" for x, y, z in np.asarray(vertices, dtype=np.float64)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in face_topology().triangles]
    return "\n".join(lines) + "\n"


def write_obj(path: str | Path, vertices: np.ndarray, comment: str = "", overwrite: bool = False) -> Path:
    """Write a mesh as .obj atomically."""
    with atomic_output(path, overwrite) as tmp:
        tmp.write_text(obj_text(vertices, comment))
    return Path(path)
