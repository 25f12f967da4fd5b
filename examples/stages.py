"""Each pipeline stage called on its own, from Python.

    python examples/stages.py [SOURCE DRIVER] [-o stages_demo.png]

regress -> fit -> compose -> flow -> render -> paste back, with the shape of
every intermediate printed. Without arguments the built-in portrait is driven
by its own mirror image.
"""
from __future__ import annotations

import argparse

import numpy as np

from reenact_cli.face.model import Take, load_face_model
from reenact_cli.face.regress import MeshRegressor
from reenact_cli.face.segmentation import PersonSegmenter
from reenact_cli.flow.geometric import geometric_flow
from reenact_cli.media.image_io import read_image, write_image
from reenact_cli.media.visualize import contact_sheet, draw_wireframe, flow_to_rgb, mask_to_rgb
from reenact_cli.render.geometric import paste_back, prepare_layers, render
from reenact_cli.tasks.demo import demo_portrait


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?")
    ap.add_argument("driver", nargs="?")
    ap.add_argument("-o", "--output", default="stages_demo.png")
    args = ap.parse_args()

    source_image = read_image(args.source or demo_portrait())
    driver_image = read_image(args.driver) if args.driver else np.ascontiguousarray(source_image[:, ::-1])

    # 1. Mesh regression: face found, cropped square at 256 px, mesh on the crop.
    regressor = MeshRegressor(static=True)
    src = regressor.face_crop(source_image, 256, source="source")
    drv = regressor.face_crop(driver_image, 256, source="driver")
    print("crop", src.image.shape, "mesh", src.mesh.vertices.shape, "iris", src.mesh.iris.shape)

    # 2. Face-model fit: pose [sR|t] (12 numbers), identity, expression, residual.
    model = load_face_model()
    fit_s, fit_d = model.fit(src.mesh.vertices), model.fit(drv.mesh.vertices)
    print("pose p", fit_s.pose_vector().shape, "c_id", fit_s.c_id.shape, "c_exp", fit_s.c_exp.shape)
    print("yaw/pitch/roll source", fit_s.pose.euler().round(1), "driver", fit_d.pose.euler().round(1))

    # 3. Compose: source identity + driver expression, posed with the driver's rotation.
    m_s = model.source_mesh(fit_s)
    m_d = model.compose(fit_s, fit_d, Take(pose=True, expression=True))
    print("M_s", m_s.shape, "M_d", m_d.shape)

    # 4. Flow: backward sampling grid from the two meshes.
    flow = geometric_flow(m_s, m_d, 256, rigid_weights=model.pose_weights, mirror=model.mirror)
    print("grid", flow.grid.shape, "face pixels", int(flow.face.sum()), "unseen", int(flow.unseen.sum()))

    # 5. Render: layered warp of the source crop.
    layers = prepare_layers(src.image, m_s, PersonSegmenter())
    rendered = render(layers, flow)

    # 6. Paste back into the full source photo at its own resolution.
    frame = paste_back(source_image, src.crop, layers, flow, rendered)
    print("output crop", rendered.image.shape, "output photo", frame.shape)

    sheet = contact_sheet(
        [
            [src.image, drv.image, draw_wireframe(src.image, m_s)],
            [flow_to_rgb(flow.displacement), mask_to_rgb(rendered.unseen), rendered.image],
        ],
        [["source crop", "driver crop", "M_s"], ["flow", "unseen", "output"]],
    )
    write_image(args.output, sheet, overwrite=True)
    print("wrote", args.output)


if __name__ == "__main__":
    main()
