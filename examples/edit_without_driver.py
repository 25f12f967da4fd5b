"""Edit a photo with no driver: turn the head, open the mouth, smile.

    python examples/edit_without_driver.py [SOURCE] [-o edits.png]
"""
from __future__ import annotations

import argparse

from reenact_cli.face.expressions import edit_fit
from reenact_cli.media.image_io import read_image, write_image
from reenact_cli.media.visualize import contact_sheet
from reenact_cli.pipeline import Reenactor
from reenact_cli.tasks.demo import demo_portrait


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?")
    ap.add_argument("-o", "--output", default="edits.png")
    args = ap.parse_args()

    r = Reenactor()
    src = r.source(read_image(args.source or demo_portrait()))
    edits = {
        "yaw -15": dict(yaw=-15.0),
        "yaw +15": dict(yaw=15.0),
        "mouth open": dict(expressions={"mouth_open": 2.5}),
        "smile": dict(expressions={"smile": 2.0}),
        "brows up": dict(expressions={"brows_raised": 2.0}),
    }
    tiles = [src.face.image] + [r.drive(src, edit_fit(r.model, src.fit, **kw), paste_back=False).crop for kw in edits.values()]
    names = ["source"] + list(edits)
    write_image(args.output, contact_sheet([tiles[:3], tiles[3:]], [names[:3], names[3:]]), overwrite=True)
    print("wrote", args.output)


if __name__ == "__main__":
    main()
