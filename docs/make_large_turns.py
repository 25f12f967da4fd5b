"""Make docs/large_turns.jpg: the 6 cross-identity pairs with the largest yaw
difference (source | driver | output), from the shared photos.

    python docs/make_large_turns.py [FACES_DIR] [-o docs/large_turns.jpg]

Pairs follow the rule of tests/test_acceptance_photos.py: every photo, sorted
by name, driven by the photos 5 and 11 places after it. Prints each pair's yaw
change and the yaw measured on the output.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from reenact_cli.eval.transfer import measure_transfer
from reenact_cli.face.regress import MeshRegressor
from reenact_cli.media.image_io import read_image, write_image
from reenact_cli.media.visualize import contact_sheet
from reenact_cli.pipeline import Reenactor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("faces", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared" / "faces"))
    ap.add_argument("-o", "--output", default=str(Path(__file__).with_name("large_turns.jpg")))
    ap.add_argument("--count", type=int, default=6)
    args = ap.parse_args()

    photos = sorted(p for p in (Path(args.faces) / "images").iterdir() if p.is_file())
    r = Reenactor()
    reg = MeshRegressor(static=True)
    analysed = {p.name: (r.source(read_image(p), p.name), r.driver(read_image(p), p.name)) for p in photos}
    names = sorted(analysed)
    rows = []
    for step in (5, 11):
        for i, s in enumerate(names):
            d = names[(i + step) % len(names)]
            src, drv = analysed[s][0], analysed[d][1]
            yaw_change = abs(float(drv.fit.pose.euler()[0] - src.fit.pose.euler()[0]))
            rows.append((yaw_change, s, d))
    rows.sort(reverse=True)
    tiles, captions = [], []
    for yaw_change, s, d in rows[: args.count]:
        src, drv = analysed[s][0], analysed[d][1]
        out = r.drive(src, drv, paste_back=False)
        m = measure_transfer(r.model, reg, out.crop, src.fit, drv.fit, drv.face.mesh.vertices)
        got = "no face" if m is None else f"err {m.pose_error[0]:+.0f}"
        print(f"{s} <- {d}: yaw change {yaw_change:.1f} deg, output yaw {got}")
        tiles.append([src.face.image, drv.face.image, out.crop])
        captions.append([s[:26], d[:26], f"turn {yaw_change:.0f} deg, yaw {got}"])
    write_image(args.output, contact_sheet(tiles, captions), overwrite=True)
    print("wrote", args.output)


if __name__ == "__main__":
    main()
