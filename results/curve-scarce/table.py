"""The tables of results/curve-scarce/README.md from the committed run files: test accuracy (%) of M1+M2 and of every
baseline at 1 and 5 labels per class (mean ± SD [95% CI] over the seeds run), and M1+M2 minus each baseline, paired
by seed; the baselines' fit seconds (one thread, beside other work: no speed measurement).

    python results/curve-scarce/table.py
"""

import json
from pathlib import Path

import numpy as np

from ssvae.evaluation.baselines import ALL_BASELINES
from ssvae.experiments.tables import fmt, summarize

RUNS = Path(__file__).parent / "runs" / "fashion-mnist"
LABELS = (1, 5)
OURS = "m1-m2"


def accuracy(slug: str, n: int, which: str = "best") -> dict[int, float]:
    out = {}
    for f in sorted((RUNS / slug / f"n{n}").glob("seed*/metrics.json")):
        m = json.loads(f.read_text())
        out[int(f.parent.name[4:])] = m[which]["test_accuracy"]
    return out


def seconds(slug: str, n: int) -> float:
    files = sorted((RUNS / slug / f"n{n}").glob("seed*/metrics.json"))
    return float(np.mean([json.loads(f.read_text())["train_seconds"] for f in files]))


def name(slug: str) -> str:
    return ALL_BASELINES[slug][0]


def main() -> None:
    slugs = sorted(p.name for p in RUNS.iterdir() if p.name != OURS)
    head = " | ".join(f"{n} label{'s' if n > 1 else ''}/class" for n in LABELS)
    print(f"| test accuracy (%) | {head} | M1+M2 − it, paired: " + " | ".join(f"{n}" for n in LABELS) + " |")
    print("|---|" + "---|" * (2 * len(LABELS)))
    for which in ("best", "last"):
        cells = [fmt(summarize(list(accuracy(OURS, n, which).values()))) for n in LABELS]
        label = "best by validation" if which == "best" else "last epoch"
        print(f"| M1+M2, 30 + 20 epochs, lr 1e-3 ({label}) | " + " | ".join(cells) + " |" + " |" * len(LABELS))
    ranked = sorted(slugs, key=lambda s: -np.mean(list(accuracy(s, LABELS[-1]).values())))
    for slug in ranked:
        cells, diffs = [], []
        for n in LABELS:
            theirs, ours = accuracy(slug, n), accuracy(OURS, n)
            cells.append(fmt(summarize(list(theirs.values()))))
            seeds = sorted(set(theirs) & set(ours))
            diffs.append(fmt(summarize([ours[s] - theirs[s] for s in seeds])))
        print(f"| {name(slug)} | " + " | ".join(cells) + " | " + " | ".join(diffs) + " |")
    print()
    print("| baseline | " + " | ".join(f"fit seconds, {n}/class" for n in LABELS) + " |")
    print("|---|" + "---|" * len(LABELS))
    for slug in ranked:
        print(f"| {name(slug)} | " + " | ".join(f"{seconds(slug, n):.1f}" for n in LABELS) + " |")


if __name__ == "__main__":
    main()
