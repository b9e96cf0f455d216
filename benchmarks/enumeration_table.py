"""Issue 45: each `--enumerate-top k` variant against the same runs with every class enumerated, paired by seed.

    python benchmarks/enumeration_table.py --out results/enumerate-top/table \
        --compare "calder code, 10/class, k=2" 'RUNS/calder-n10-s*-t0.01' 'RUNS/calder-n10-s*-t0.01-top2' ...

Each `--compare NAME REFERENCE_GLOB VARIANT_GLOB` reads the evaluated run directories (`metrics.json`) on both
sides, matches them by seed and reports, mean over seeds: validation accuracy at the last epoch (what chooses),
test accuracy at the last epoch (the estimator's default keeps it) and best by validation, each as the variant's
mean and its paired difference from the reference (mean ± SD [95% t-interval]); and the training seconds of
stage 2 (the runs' own `train_seconds`, measured beside other work: their ratio, not their size, is the finding;
the quiet fit-time benchmark says what a fit takes). Writes OUT.md and OUT.json (one record per comparison).
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np

from ssvae.experiments.tables import fmt, summarize


def read_runs(pattern: str) -> dict[int, dict]:
    """seed -> metrics.json of every evaluated run directory matching the glob (a directory whose name goes on
    past the glob's last character is not a match: the reference's glob must not take in the variants)."""
    out = {}
    for run in sorted(glob.glob(pattern)):
        path = Path(run) / "metrics.json"
        if path.exists():
            m = json.loads(path.read_text())
            out[m["seed"]] = m
    return out


MEASURES = {  # name -> how to read it from one run's metrics.json
    "val_last": lambda m: m["last"]["val_accuracy"],
    "test_last": lambda m: m["last"]["test_accuracy"],
    "test_best": lambda m: m["best"]["test_accuracy"],
}


def compare(name: str, reference: str, variant: str) -> dict:
    ref, var = read_runs(reference), read_runs(variant)
    seeds = sorted(set(ref) & set(var))
    row: dict = {"name": name, "seeds": seeds}
    for key, read in MEASURES.items():
        row[key] = float(np.mean([read(var[s]) for s in seeds])) if seeds else None
        row[key + "_reference"] = float(np.mean([read(ref[s]) for s in seeds])) if seeds else None
        row[key + "_difference"] = summarize([read(var[s]) - read(ref[s]) for s in seeds])
    row["seconds"] = float(np.mean([var[s]["train_seconds"] for s in seeds])) if seeds else None
    row["seconds_ratio"] = (
        float(np.mean([var[s]["train_seconds"] / ref[s]["train_seconds"] for s in seeds])) if seeds else None
    )
    return row


def markdown(rows: list[dict]) -> str:
    out = [
        "| comparison | seeds | validation, last epoch | − every class | test, last epoch | − every class "
        "| test, best by validation | − every class | stage-2 time / every class's |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r["seeds"]:
            out.append(f"| {r['name']} | none yet | | | | | | | |")
            continue
        cells = []
        for key in MEASURES:
            cells += [f"{r[key]:.2f} ({r[key + '_reference']:.2f})", fmt(r[key + "_difference"])]
        seeds = ", ".join(map(str, r["seeds"]))
        out.append(f"| {r['name']} | {seeds} | " + " | ".join(cells) + f" | {r['seconds_ratio']:.2f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compare", nargs=3, action="append", metavar=("NAME", "REFERENCE", "VARIANT"), required=True)
    p.add_argument("--out", type=Path, required=True, help="OUT.md and OUT.json")
    p.add_argument("--skip-empty", action="store_true", help="leave out comparisons with no seed on both sides")
    a = p.parse_args()
    rows = [r for r in (compare(*c) for c in a.compare) if r["seeds"] or not a.skip_empty]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    a.out.with_suffix(".md").write_text(markdown(rows))
    print(markdown(rows), end="")


if __name__ == "__main__":
    main()
