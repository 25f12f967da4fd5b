"""How often would a *perfect* reenactment pass the "identity kept" check?

    python docs/identity_ceiling.py [FACES_DIR] [--every N]

The photo acceptance check (docs/photo_acceptance.py) calls identity kept when
the output's fitted identity coefficients lie nearer the source's than the
driver's. A perfect reenactment of source A by driver B is a real picture of A
with B's pose and expression. The shared clips hold such pictures: every frame
k of clip A is person A in some pose and expression. So, for every ordered
pair of clips (A, B) and every sampled frame k > 0 of A, take A's first frame
as the source, B's frame nearest to A_k in pose and expression as the driver,
and A_k as the output, and apply the same check. The rate printed is the
check's ceiling: what no method can beat while the identity is read from
MediaPipe's mesh through the face model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from reenact_cli.face.model import load_face_model, pose_features
from reenact_cli.face.regress import MeshRegressor
from reenact_cli.media.video import iter_frames


def clip_fits(path: Path, every: int) -> tuple[np.ndarray, np.ndarray]:
    """``(c_id (N, K_id), pose-and-expression features (N, 6 + K_exp))`` of
    every ``every``-th frame with a face."""
    model = load_face_model()
    ids, feats = [], []
    with MeshRegressor(static=False, max_faces=1) as reg:
        for frame in iter_frames(path, stride=every):
            found = reg.detect(frame)
            if not found:
                continue
            fit = model.fit(found[0].vertices)
            ids.append(fit.c_id)
            feats.append(np.concatenate([pose_features(fit.pose.rotation), fit.c_exp / model.sigma_exp]))
    return np.array(ids), np.array(feats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("faces", nargs="?", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "faces")
    ap.add_argument("--every", type=int, default=5, help="use every N-th frame")
    args = ap.parse_args()
    clips = sorted((args.faces / "videos").glob("*.mp4"))
    fits = {c.stem: clip_fits(c, args.every) for c in clips}
    kept_by_clip = {}
    for a, (ids_a, feats_a) in fits.items():
        kept = []
        for b, (ids_b, feats_b) in fits.items():
            if a == b:
                continue
            for k in range(1, len(ids_a)):
                j = int(np.argmin(np.linalg.norm(feats_b - feats_a[k], axis=1)))
                kept.append(np.linalg.norm(ids_a[k] - ids_a[0]) < np.linalg.norm(ids_a[k] - ids_b[j]))
        kept_by_clip[a] = float(np.mean(kept))
        print(f"{a:45s} {100 * kept_by_clip[a]:5.1f} % of {len(kept)} (frame, driver) pairs")
    print(f"ceiling of 'identity kept' over {len(fits)} clips: {100 * np.mean(list(kept_by_clip.values())):.1f} % "
          f"(min {100 * min(kept_by_clip.values()):.1f} %)")


if __name__ == "__main__":
    main()
