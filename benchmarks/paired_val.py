"""Validation accuracy (%) of two series of runs paired by seed, from their metrics.jsonl, over the first EPOCHS
epochs (one side may have run longer: its later epochs are left out), and the paired differences A − B (mean ± SD
[95% CI]) of the best epoch and of epoch EPOCHS: how a setting is chosen without reading a test number.

    python benchmarks/paired_val.py A_PATTERN B_PATTERN [--epochs 20]

A pattern holds `{seed}`, e.g. results/ema-n10/runs/ema0.999-h600-s{seed} against
results/fit-defaults-n10/runs/lr1e-3-h600-s{seed}. Also says whether the two trained the same steps (their
training statistics equal epoch by epoch, as `--ema` promises against the same run without it).
"""

import argparse
import json
from pathlib import Path

from ssvae.experiments.tables import fmt, summarize, verdict

SEEDS = (0, 1, 2)
AT = (5, 10, 15, 20)


def rows(pattern: str, seed: int, epochs: int) -> list[dict] | None:
    f = Path(pattern.format(seed=seed)) / "metrics.jsonl"
    if not f.exists():
        return None
    out = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return [r for r in out if r["epoch"] <= epochs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--epochs", type=int, default=20)
    a = p.parse_args()
    diffs: dict[str, list[float]] = {"best": [], "last": []}
    same = []
    print(f"| seed | A: val acc by epoch {' / '.join(map(str, AT))} | A best (epoch) | B: by epoch | B best (epoch) |")
    print("|---|---|---|---|---|")
    for s in SEEDS:
        ra, rb = rows(a.a, s, a.epochs), rows(a.b, s, a.epochs)
        if not ra or not rb or len(ra) < a.epochs or len(rb) < a.epochs:
            continue
        cells = []
        for r in (ra, rb):
            acc = {x["epoch"]: x["val_accuracy"] for x in r}
            best = max(r, key=lambda x: x["val_accuracy"])
            cells += [" / ".join(f"{acc[e]:.2f}" for e in AT), f"{best['val_accuracy']:.2f} ({best['epoch']})"]
        print(f"| {s} | " + " | ".join(cells) + " |")
        diffs["best"].append(max(x["val_accuracy"] for x in ra) - max(x["val_accuracy"] for x in rb))
        diffs["last"].append(ra[-1]["val_accuracy"] - rb[-1]["val_accuracy"])
        same.append(all(x["train"] == y["train"] for x, y in zip(ra, rb)))
    print()
    for which, d in diffs.items():
        s = summarize(d)
        name = "best of the epochs" if which == "best" else f"epoch {a.epochs}"
        print(f"- A − B, {name}: {fmt(s)} ({verdict(s, 'A better', 'A worse')})")
    print(f"- the same training statistics epoch by epoch, seed by seed: {same}")


if __name__ == "__main__":
    main()
