"""Test accuracy over the number of labels per class, one line per method, from finished run directories.

    python benchmarks/label_curve.py --out curve.png --labels 10 30 100 \
        --series "M1+M2" "runs/n{n}/fashion-mnist/m2/n{n}/seed*" \
        --series "self-training" "runs/n{n}/fashion-mnist/sklearn-selftraining/n{n}/seed*"

`{n}` in a pattern is replaced by each label count, and `|` joins patterns (runs of one method kept in several
campaigns' folders; by seed, a later pattern's seed wins); each point is the mean over the seeds found, with its 95%
Student-t interval as an error bar (`ssvae.experiments.tables.summarize`, as the reports use); a label count
without runs for a series breaks that line there. `--series-at N NAME PATTERN` gives the series NAME another
pattern at N labels per class, in place of its own (a default whose rule picks another method there, as
`curve_summary.py --default-at` does). Prints the numbers as a markdown table too.
"""

from __future__ import annotations

import argparse

from ssvae.evaluation import plots
from ssvae.experiments.collect import accuracies_by_seed
from ssvae.experiments.tables import fmt, summarize


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the figure (.png)")
    p.add_argument("--labels", type=int, nargs="+", required=True)
    p.add_argument("--series", nargs=2, action="append", metavar=("NAME", "PATTERN"), required=True)
    p.add_argument("--series-at", nargs=3, action="append", default=[], metavar=("N", "NAME", "PATTERN"))
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--title", default="")
    p.add_argument("--ylim", type=float, nargs=2, default=None, help="the accuracy axis' range (default: matplotlib's)")
    p.add_argument("--legend", default="best", help="where the legend goes: matplotlib's loc, or 'outside' (right)")
    a = p.parse_args()
    instead = {(int(n), name): pattern for n, name, pattern in a.series_at}
    unknown = {name for _, name in instead} - {name for name, _ in a.series}
    if unknown:
        p.error(f"--series-at names no --series: {sorted(unknown)}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    print("| method | " + " | ".join(f"{n} labels/class" for n in a.labels) + " |")
    print("|---|" + "---|" * len(a.labels))
    for name, pattern in a.series:
        xs, means, errs, cells = [], [], [], []
        for n in a.labels:
            found: dict[int, float] = {}
            for one in instead.get((n, name), pattern).replace("{n}", str(n)).split("|"):
                found.update(accuracies_by_seed(one, a.checkpoint))
            acc = list(found.values())
            s = summarize(acc)
            xs.append(n)  # a count without runs is NaN: the line breaks there instead of drawing through it
            means.append(s["mean"])
            errs.append(s["mean"] - s["lo"] if len(acc) > 1 else 0.0)
            cells.append(fmt(s) if acc else "–")
        print(f"| {name} | " + " | ".join(cells) + " |")
        if any(c != "–" for c in cells):
            ax.errorbar(xs, means, yerr=errs, marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_xticks(a.labels, [str(n) for n in a.labels])
    ax.set_xlabel("labels per class")
    ax.set_ylabel(f"test accuracy, % ({'best by validation' if a.checkpoint == 'best' else 'last epoch'})")
    ax.set_title(a.title)
    if a.ylim:
        ax.set_ylim(*a.ylim)
    ax.grid(alpha=0.3)
    if a.legend == "outside":  # many series: beside the axes, where it hides no point
        fig.set_size_inches(9.6, 4.2)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
        fig.tight_layout()
    else:
        ax.legend(fontsize=8, loc=a.legend)
    plots.save_figure(fig, a.out)


if __name__ == "__main__":
    main()
