"""Self-reenactment on the shared clips: the clip's first frame driven by the
clip itself, compared with the real frames, beside the baseline of simply
repeating the first frame.

    python docs/video_self_reenactment.py [FACES_DIR] [--clips N] [--max-frames N]

Each clip is reenacted as a user would: ``reenact drive FIRST.png CLIP.mp4
--motion relative -o OUT.mp4`` (run as a subprocess of this interpreter, so the
package on ``PYTHONPATH`` is the one measured). For each clip: PSNR and SSIM
over the face box (the real frame's face, from MediaPipe, grown by 10 %) and
over the full frame, averaged over frames 1.. (frame 0 is the source itself),
for the reenacted video as written to disk (H.264, default quality) and for
the baseline. Whole clips unless ``--max-frames`` (then the first N frames go
in as a folder of PNG frames at the clip's frame rate).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from reenact_cli.eval.metrics import psnr, ssim
from reenact_cli.face.regress import MeshRegressor
from reenact_cli.media.image_io import write_image
from reenact_cli.media.video import decode_video, open_driver


def face_mask(reg: MeshRegressor, frame: np.ndarray, margin: float = 0.1) -> np.ndarray | None:
    found = reg.detect(frame)
    if not found:
        return None
    x0, y0, x1, y1 = found[0].bbox()
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    h, w = frame.shape[:2]
    mask = np.zeros((h, w), dtype=bool)
    mask[max(0, int(y0 - my)) : min(h, int(y1 + my)), max(0, int(x0 - mx)) : min(w, int(x1 + mx))] = True
    return mask


def evaluate_clip(clip: Path, work: Path, max_frames: int | None) -> dict[str, float]:
    real = list(decode_video(clip))
    fps = open_driver(clip).fps
    extra: list[str] = []
    if max_frames:
        real = real[:max_frames]
        driver = work / f"{clip.stem}_driver"
        driver.mkdir()
        for i, f in enumerate(real):
            write_image(driver / f"frame_{i:05d}.png", f)
        extra = ["--fps", f"{fps:g}"]
    else:
        driver = clip
    source = work / f"{clip.stem}_first.png"
    write_image(source, real[0])
    out = work / f"{clip.stem}_out.mp4"
    cmd = [sys.executable, "-c", "from reenact_cli.cli import app; app()", "drive", str(source), str(driver),
           "--motion", "relative", "-o", str(out), *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    fake = list(decode_video(out))
    assert len(fake) == len(real), (len(fake), len(real))
    reg = MeshRegressor(static=False, max_faces=1)
    rows = []
    for r, f in zip(real, fake):
        m = face_mask(reg, r)
        if m is None:
            continue
        rows.append(
            (psnr(f, r, m), ssim(f, r, m), psnr(f, r), ssim(f, r), psnr(real[0], r, m), ssim(real[0], r, m), psnr(real[0], r), ssim(real[0], r))
        )
    a = np.array(rows)
    a[np.isinf(a)] = 100.0  # identical frames (the first): cap for averaging
    keys = ("face_psnr", "face_ssim", "full_psnr", "full_ssim", "base_face_psnr", "base_face_ssim", "base_full_psnr", "base_full_ssim")
    r = dict(zip(keys, a[1:].mean(axis=0)))  # frame 0 is the source itself
    r.update(frames=len(real), scored=len(a) - 1, seconds=seconds)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("faces", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared" / "faces"))
    ap.add_argument("--clips", type=int, default=0, help="only the first N clips")
    ap.add_argument("--max-frames", type=int, default=0, help="only the first N frames of each clip")
    args = ap.parse_args()
    clips = sorted((Path(args.faces) / "videos").glob("*.mp4"))
    if args.clips:
        clips = clips[: args.clips]
    print(f"{'clip':46s} {'frames':>6s} {'face PSNR':>10s} {'base':>6s} {'face SSIM':>10s} {'base':>6s} {'full PSNR':>10s} {'base':>6s} {'full SSIM':>10s} {'base':>6s}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            r = evaluate_clip(clip, Path(tmp), args.max_frames or None)
            results.append(r)
            print(
                f"{clip.name:46s} {r['frames']:6d} {r['face_psnr']:10.2f} {r['base_face_psnr']:6.2f} {r['face_ssim']:10.3f} {r['base_face_ssim']:6.3f}"
                f" {r['full_psnr']:10.2f} {r['base_full_psnr']:6.2f} {r['full_ssim']:10.3f} {r['base_full_ssim']:6.3f}"
                f"   ({r['seconds']:.0f} s to reenact)",
                flush=True,
            )
    mean = {k: float(np.mean([r[k] for r in results])) for k in results[0]}
    total = sum(r["frames"] for r in results)
    print(
        f"{'mean':46s} {total:6d} {mean['face_psnr']:10.2f} {mean['base_face_psnr']:6.2f} {mean['face_ssim']:10.3f} {mean['base_face_ssim']:6.3f}"
        f" {mean['full_psnr']:10.2f} {mean['base_full_psnr']:6.2f} {mean['full_ssim']:10.3f} {mean['base_full_ssim']:6.3f}"
    )
    wins = sum(r["face_psnr"] > r["base_face_psnr"] for r in results)
    print(f"face-box PSNR gain over the baseline: {mean['face_psnr'] - mean['base_face_psnr']:+.2f} dB on average; better on {wins} of {len(results)} clips")


if __name__ == "__main__":
    main()
