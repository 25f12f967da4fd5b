"""Per-source breakdown of a `reenact eval` report (one row per clip and method).

    python docs/eval/per_clip.py docs/eval/self/results.json

Means over each source file's samples, aggregated as `reenact eval` does
(PRMSE as the RMS of all angle errors, PSNR over finite values), printed as a
Markdown table.
"""
from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def main() -> None:
    rep = json.loads(Path(sys.argv[1]).read_text())
    metrics = ("csim", "ssim", "psnr", "prmse", "aucon") if rep["protocol"] == "self" else ("csim", "prmse", "aucon")
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in rep["samples"]:
        if s["status"] == "ok":
            groups[Path(s["source"]).name].append(s)
    methods = [m["name"] for m in rep["methods"]]
    print("| source | n | method | " + " | ".join(m.upper() for m in metrics) + " |")
    print("|---|---|---|" + "---|" * len(metrics))
    for name, samples in sorted(groups.items()):
        for method in methods:
            cells = []
            for k in metrics:
                vals = [float(s["methods"][method][k]) for s in samples if s["methods"][method][k] is not None]
                vals = [v for v in vals if not math.isinf(v)]
                if not vals:
                    cells.append("—")
                elif k == "prmse":
                    cells.append(f"{np.sqrt(np.mean(np.square(vals))):.2f}")
                else:
                    cells.append(f"{np.mean(vals):.{2 if k == 'psnr' else 3}f}")
            print(f"| {name} | {len(samples)} | {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
