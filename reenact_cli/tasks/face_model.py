"""`reenact face-model build` and `info`."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..face.build import BuildConfig, build_from_paths, collect_inputs
from ..face.model import FaceModel
from ..media.atomic import check_output
from .console import console, progress


def run_build(inputs: list[Path], output: Path, config: BuildConfig, overwrite: bool) -> FaceModel:
    """Extract landmarks from every input, build the model, save it."""
    check_output(output, overwrite)
    paths = collect_inputs(inputs)
    command = "reenact " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""
    with progress() as bar:
        task = bar.add_task("extracting landmarks", total=len(paths))

        def tick(name: str, found: bool) -> None:
            if not found:
                console.print(f"[yellow]no face in {name}; skipped[/]")
            bar.advance(task)

        model, misses = build_from_paths(paths, config, command=command, on_progress=tick)
    model.save(output, overwrite=overwrite)
    console.print(
        f"face model: {model.num_id} identity and {model.num_exp} expression components from "
        f"{model.provenance['identities']} faces ({model.provenance['frames']} frames); fingerprint {model.fingerprint}",
        soft_wrap=True,
    )
    return model


def describe(model: FaceModel) -> str:
    """Human-readable summary of a model and its provenance."""
    p = model.provenance
    lines = [
        f"fingerprint   {model.fingerprint}",
        f"components    identity {model.num_id}, expression {model.num_exp}",
        f"built         {p.get('built', '?')} by reenact {p.get('package_version', '?')}",
        f"from          {p.get('identities', '?')} faces, {p.get('frames', '?')} frames",
        f"command       {p.get('command', '?')}",
    ]
    if p.get("no_face"):
        lines.append(f"no face in    {', '.join(p['no_face'])}")
    return "\n".join(lines)
