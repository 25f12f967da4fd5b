"""Print the photo-reenactment figures of the foundation issue, on the shared photos.

    python docs/photo_acceptance.py [FACES_DIR]

Faces found, self-reenactment PSNR over the crop, and for the fixed set of
cross-identity pairs of tests/test_acceptance_photos.py (every photo driven by
the photos 5 and 11 places after it): pose RMS error, identity kept, expression
correlation and mouth opening/width correlation, overall and for turns under
20 degrees.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from reenact_cli.eval.transfer import measure_transfer, summarise
from reenact_cli.face.regress import MeshRegressor
from reenact_cli.media.image_io import read_image
from reenact_cli.pipeline import Reenactor


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def main() -> None:
    faces = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "faces"
    photos = sorted(p for p in (faces / "images").iterdir() if p.is_file())
    r = Reenactor()
    reg = MeshRegressor(static=True)
    analysed, misses = {}, []
    for p in photos:
        image = read_image(p)
        if not reg.detect(image):
            misses.append(p.name)
            continue
        analysed[p.name] = (r.source(image, p.name), r.driver(image, p.name))
    print(f"faces found          {len(analysed)} of {len(photos)} photos; misses: {misses or 'none'}")
    self_psnr = [psnr(r.drive(s, d, paste_back=False).crop, s.face.image) for s, d in analysed.values()]
    print(f"self-drive PSNR      min {min(self_psnr):.1f} dB over {len(self_psnr)} photos (inf = bit-identical)")
    names = sorted(analysed)
    measures = []
    for step in (5, 11):
        for i, s in enumerate(names):
            src, drv = analysed[s][0], analysed[names[(i + step) % len(names)]][1]
            out = r.drive(src, drv, paste_back=False)
            measures.append(measure_transfer(r.model, reg, out.crop, src.fit, drv.fit, drv.face.mesh.vertices))
    print("all pairs:")
    print("\n".join("  " + line for line in summarise(measures).lines()))
    small = [m for m in measures if m is not None and m.yaw_change < 20.0]
    print(f"pairs turning < 20 degrees ({len(small)}):")
    print("\n".join("  " + line for line in summarise(small).lines()))


if __name__ == "__main__":
    main()
