"""Per-sample results, their aggregation, and the JSON / CSV report files.

A sample's record (one JSON line in ``samples.jsonl``, also in the report)::

    {"key", "protocol", "source", "source_frame", "driver", "driver_frame",
     "status": "ok" | "skipped: <why>", "driver_aus": [0/1 x K],
     "methods": {name: {"csim", "ssim", "psnr", "prmse", "aucon",
                        "angle_error": [yaw, pitch, roll], "aus": [0/1 x K],
                        "face_found", "ms"}}}

Values a method cannot have are ``null``: no face found in its output
(CSIM, PRMSE, AUCON), or the cross protocol (no ground truth: SSIM, PSNR).
An infinite PSNR (output identical to the ground truth) is the string "inf".

Aggregates per method, over the samples where the value exists: mean CSIM,
SSIM, PSNR (finite values; infinite ones are counted apart), AUCON (mean of
per-sample fractions = the pooled fraction), and PRMSE as the root mean square
over every angle error of every sample (also per angle).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

import numpy as np

METRICS = ("csim", "ssim", "psnr", "prmse", "aucon")
#: Table headings: higher (↑) or lower (↓) is better.
HEADINGS = {"csim": "CSIM ↑", "ssim": "SSIM ↑", "psnr": "PSNR ↑", "prmse": "PRMSE ↓", "aucon": "AUCON ↑"}
PROTOCOL_METRICS = {"self": METRICS, "cross": ("csim", "prmse", "aucon")}


def json_value(x: float | None) -> float | str | None:
    """A float for JSON: ``inf`` as the string "inf", NaN as null."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)


def from_json(x: float | str | None) -> float | None:
    """Inverse of :func:`json_value`."""
    return float(x) if isinstance(x, str) else x


@dataclass(frozen=True)
class Aggregate:
    """One method over all samples.

    Attributes:
        samples: samples evaluated.
        no_face: of those, outputs with no face found (no CSIM/PRMSE/AUCON).
        means: metric -> aggregate (see module docstring), None if no value.
        prmse_per_angle: RMS error of yaw, pitch, roll in degrees.
        psnr_inf: samples with an infinite PSNR (left out of the mean).
        aucon_per_au: AU code -> agreement rate.
        ms: mean milliseconds per output: the method alone, measuring excluded; a
            generator's once-per-source preparation is included.
    """

    samples: int
    no_face: int
    means: dict[str, float | None]
    prmse_per_angle: list[float] | None
    psnr_inf: int
    aucon_per_au: dict[str, float]
    ms: float

    def as_json(self) -> dict:
        return {
            "samples": self.samples,
            "no_face": self.no_face,
            **{k: json_value(v) for k, v in self.means.items()},
            "prmse_yaw_pitch_roll": self.prmse_per_angle,
            "psnr_inf": self.psnr_inf,
            "aucon_per_au": self.aucon_per_au,
            "ms_per_output": round(self.ms, 2),
        }


def aggregate(records: list[dict], method: str, protocol: str, au_codes: tuple[str, ...]) -> Aggregate:
    """Aggregate one method over the ``ok`` records."""
    rows = [r["methods"][method] for r in records if r["status"] == "ok" and method in r["methods"]]
    drivers = [r["driver_aus"] for r in records if r["status"] == "ok" and method in r["methods"]]
    means: dict[str, float | None] = {}
    psnr_inf = 0
    for k in PROTOCOL_METRICS[protocol]:
        vals = [from_json(row[k]) for row in rows if row.get(k) is not None]
        if k == "psnr":
            psnr_inf = sum(1 for v in vals if math.isinf(v))
            vals = [v for v in vals if not math.isinf(v)]
        if k == "prmse":
            means[k] = float(np.sqrt(np.mean(np.square(vals)))) if vals else None
        else:
            means[k] = float(np.mean(vals)) if vals else None
    errs = np.array([row["angle_error"] for row in rows if row.get("angle_error") is not None], dtype=np.float64)
    per_angle = [round(float(v), 3) for v in np.sqrt(np.mean(errs**2, axis=0))] if errs.size else None
    agree = np.array([np.equal(row["aus"], d) for row, d in zip(rows, drivers) if row.get("aus") is not None], dtype=bool)
    per_au = {c: round(float(v), 3) for c, v in zip(au_codes, agree.mean(axis=0))} if agree.size else {}
    ms = float(np.mean([row["ms"] for row in rows])) if rows else 0.0
    return Aggregate(len(rows), sum(1 for row in rows if not row["face_found"]), means, per_angle, psnr_inf, per_au, ms)


CSV_COLUMNS = (
    "row", "method", "key", "source", "source_frame", "driver", "driver_frame", "status", "samples", "no_face",
    *METRICS, "yaw_error", "pitch_error", "roll_error",
)


def csv_text(records: list[dict], aggregates: dict[str, Aggregate], protocol: str) -> str:
    """One row per (sample, method), then one ``aggregate`` row per method."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS, lineterminator="\n", restval="")
    w.writeheader()

    def fmt(v: float | str | None) -> str:
        return "" if v is None else str(v)

    for r in records:
        base = {k: r[k] for k in ("key", "source", "source_frame", "driver", "driver_frame", "status")}
        for name, m in r["methods"].items():
            err = m.get("angle_error") or [None] * 3
            w.writerow(
                {"row": "sample", "method": name, **base, **{k: fmt(m.get(k)) for k in METRICS},
                 "yaw_error": fmt(err[0]), "pitch_error": fmt(err[1]), "roll_error": fmt(err[2])}
            )  # fmt: skip
    for name, a in aggregates.items():
        err = a.prmse_per_angle or [None] * 3
        w.writerow(
            {"row": "aggregate", "method": name, "key": "ALL", "status": protocol, "samples": a.samples, "no_face": a.no_face,
             **{k: fmt(json_value(a.means.get(k))) for k in METRICS},
             "yaw_error": fmt(err[0]), "pitch_error": fmt(err[1]), "roll_error": fmt(err[2])}
        )  # fmt: skip
    return buf.getvalue()


def report_json(header: dict, records: list[dict], aggregates: dict[str, Aggregate]) -> str:
    """The full report: run header, aggregates, then every sample."""
    body = dict(header)
    body["aggregate"] = {name: a.as_json() for name, a in aggregates.items()}
    body["samples"] = records
    return json.dumps(body, indent=1, allow_nan=False)


def table_cells(a: Aggregate, metrics: tuple[str, ...]) -> list[str]:
    """Formatted cells for the rich table, in ``metrics`` order."""
    digits = {"csim": 3, "ssim": 3, "psnr": 2, "prmse": 2, "aucon": 3}
    out = []
    for k in metrics:
        v = a.means.get(k)
        out.append("—" if v is None else f"{v:.{digits[k]}f}")
    return out
