"""`ssvae report`: tables (mean ± std, 95% CI, the paper's value beside), paired MIER − baseline differences,
figures, and a README, rebuilt from finished run directories without training.

Statistics: seeds are the unit. A cell is the mean over seeds with its sample standard deviation and the
two-sided 95% Student-t interval for the mean. MIER − baseline is paired by seed (same split, same data),
and so is model − supervised-only. With one seed there is no interval, and the text says so.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from ..core.features import featurized
from ..core.models import MODELS, display_order, generative_models
from ..evaluation.baselines import ALL_BASELINES as BASELINES
from ..records import rundir as ck
from . import paper
from .collect import CHECKPOINTS, Index, collect
from .report_figures import figures
from .reproduce import GRID_RECORD
from .tables import fmt, label, md_table, paper_cell, summarize, variant, verdict

BASELINE_ORDER = [(slug, False) for slug in BASELINES]  # on the same splits (ssvae.evaluation.baselines)


FEATURE_KEYS = ("features", "feature_epochs", "feature_code")  # named in the protocol line when a run has a stage


# ---------------------------------------------------------------------------------------------------- tables
def csv_row(table: int, ckpt: str, d: str, model: str, mier, labels: int, metric: str, s: dict, p) -> dict:
    """One line of tableN.csv: where the cell is, its statistics (`summarize`), the paper's value."""
    return {
        "table": table,
        "checkpoint": ckpt,
        "dataset": d,
        "model": model,
        "mier": mier,
        "labels": labels,
        "metric": metric,
        **s,
        "paper": p,
    }


def paper_table1(model: str, mier: bool, d: str, labels: int) -> float | None:
    """The paper's Table 1 value for a row and data set, at its label count only."""
    return paper.TABLE1.get((model, mier), {}).get(d) if labels == paper.LABELS else None


def accuracy_rows(ix: Index, datasets: list[str], labels: int, ckpt: str, csv_rows: list[dict]) -> list[list[str]]:
    """Table 1's main block: each model's test accuracy beside the paper's, on every data set."""
    rows = []
    for model, mier in display_order() + BASELINE_ORDER:
        fitted = any(ix.values((d, model, mier, labels), ckpt, "test_accuracy") for d in datasets)
        if (model, mier) in BASELINE_ORDER and not fitted:
            continue  # a baseline nobody fit here (e.g. those on a feature stage's code, in a grid without one)
        row = [variant(model, mier)]
        for d in datasets:
            s = summarize(list(ix.values((d, model, mier, labels), ckpt, "test_accuracy").values()))
            p = paper_table1(model, mier, d, labels)
            row += [fmt(s), paper_cell(p)]
            csv_rows.append(csv_row(1, ckpt, d, model, mier, labels, "test_accuracy", s, p))
        rows.append(row)
    return rows


def mier_rows(ix: Index, datasets, labels, ckpt, csv_rows, findings) -> list[list[str]]:
    """MIER - baseline per generative model, paired by seed, and each one minus the supervised-only model."""
    rows = []
    sup_only = next((n for n, e in MODELS.items() if e.supervised_only), None)
    for model in generative_models():
        for d in datasets:
            diff = ix.paired((d, model, True, labels), (d, model, False, labels), ckpt, "test_accuracy")
            p = paper_table1(model, True, d, labels)
            pd_ = None if p is None else p - paper.TABLE1[(model, False)][d]
            v = verdict(diff, "MIER better", "MIER worse")
            sup = [
                ix.paired((d, model, mier, labels), (d, sup_only, False, labels), ckpt, "test_accuracy")
                for mier in (False, True)
            ]
            if diff["n"] == 0:
                continue
            rows.append([label(model), d, fmt(diff), paper_cell(pd_), v, fmt(sup[0]) + " / " + fmt(sup[1])])
            csv_rows.append(csv_row(1, ckpt, d, model, "diff", labels, "mier_minus_baseline_accuracy", diff, pd_))
            if ckpt == "best":
                findings.append(
                    f"{label(model)} on {d}: MIER − baseline = {fmt(diff)} points ({v}); "
                    f"paper {paper_cell(pd_)}. Minus supervised only: {label(model)} {fmt(sup[0])}, "
                    f"{label(model)}+MIER {fmt(sup[1])}."
                )
    return rows


def baseline_rows(ix: Index, datasets, labels, ckpt, findings) -> list[list[str]]:
    """Each model minus the best baseline on the same splits, paired by seed."""
    rows = []
    for d in datasets:
        means = {
            slug: summarize(list(ix.values((d, slug, False, labels), ckpt, "test_accuracy").values()))["mean"]
            for slug, _ in BASELINE_ORDER
        }
        means = {k: v for k, v in means.items() if not math.isnan(v)}
        if not means:
            continue
        best = max(means, key=means.get)
        for model, mier in display_order():
            diff = ix.paired((d, model, mier, labels), (d, best, False, labels), ckpt, "test_accuracy")
            if diff["n"] == 0:
                continue
            v = verdict(diff, "ssvae better", "ssvae worse")
            rows.append([variant(model, mier), d, label(best), fmt(diff), v])
            if ckpt == "best":
                findings.append(f"{variant(model, mier)} on {d} − {label(best)}: {fmt(diff)} points ({v}).")
    return rows


def table1(ix: Index, datasets: list[str], labels: int, csv_rows: list[dict]) -> tuple[str, list[str]]:
    """Table 1 (test accuracy, paired differences and verdicts) as Markdown, and its findings in sentences."""
    out, findings = (
        [
            f"# Table 1: semi-supervised test accuracy (%), {labels} labels per class\n",
            "Cells: mean ± std [95% CI] over the n seeds (paired differences: the n seeds both sides have). "
            "Paper: Niloy et al., Table 1.\n",
        ],
        [],
    )
    for ckpt in CHECKPOINTS:
        out.append(f"\n## {ckpt}-{'by-validation' if ckpt == 'best' else 'epoch'} checkpoint\n")
        header = ["model"] + [h for d in datasets for h in (d, "paper")]
        out.append(md_table(header, accuracy_rows(ix, datasets, labels, ckpt, csv_rows)))
        out.append("\n\nMIER − baseline, paired by seed (percentage points), and each model − supervised only:\n")
        mier_header = ["model", "dataset", "MIER − baseline", "paper", "verdict"]
        mier_header.append("model − supervised only (baseline / MIER)")
        out.append(md_table(mier_header, mier_rows(ix, datasets, labels, ckpt, csv_rows, findings)))
        out.append("\n\nEach model − the best baseline on the same splits, paired by seed (points):\n")
        rows = baseline_rows(ix, datasets, labels, ckpt, findings)
        out.append(md_table(["model", "dataset", "best baseline", "model − baseline", "verdict"], rows))
    return "\n".join(out) + "\n", findings


def table2(ix: Index, datasets: list[str], labels: int, csv_rows: list[dict]) -> str:
    """Table 2 (test entropy, ELBO and IWAE bounds) as Markdown."""
    out = [
        f"# Table 2: test entropy of q(y|x) and bounds on log p(x) (nats), {labels} labels per class\n",
        "Entropy: mean H(q(y|x)) over the test set. ELBO: eq. 2 with one z per class. "
        "IWAE: importance-weighted bound (`iw_samples` per class), tighter. Paper: Table 2 (its bound is eq. 2).\n",
    ]
    for ckpt in CHECKPOINTS:
        for d in datasets:
            out.append(f"\n## {d}, {ckpt} checkpoint\n")
            rows = []
            for model, mier in display_order():
                if MODELS[model].supervised_only:  # no generative bound
                    continue
                key = (d, model, mier, labels)
                cells = {
                    m: summarize(list(ix.values(key, ckpt, m).values()))
                    for m in ("test_entropy", "test_elbo", "test_iwae")
                }
                p = paper.TABLE2.get((model, mier), {}).get(d) if labels == paper.LABELS else None
                rows.append(
                    [
                        variant(model, mier),
                        fmt(cells["test_entropy"], 4),
                        paper_cell(p and p[0], 4),
                        fmt(cells["test_elbo"]),
                        paper_cell(p and p[1]),
                        fmt(cells["test_iwae"]),
                    ]
                )
                for m, s in cells.items():
                    pm = None if p is None or m == "test_iwae" else p[m != "test_entropy"]
                    csv_rows.append(csv_row(2, ckpt, d, model, mier, labels, m, s, pm))
            out.append(md_table(["model", "entropy", "paper", "ELBO (eq. 2)", "paper", "IWAE"], rows))
    return "\n".join(out) + "\n"


def table3(ix: Index, datasets: list[str], ablation: list[int], csv_rows: list[dict]) -> str:
    """Table 3 (M2 over the label counts) as Markdown."""
    out = ["# Table 3: M2 test accuracy (%) by labels per class\n"]
    for ckpt in CHECKPOINTS:
        out.append(f"\n## {ckpt} checkpoint\n")
        rows = []
        for d in datasets:
            for n in ablation:
                base, mier = ((d, paper.FIGURE_MODEL, m, n) for m in (False, True))
                sb, sm = (summarize(list(ix.values(k, ckpt, "test_accuracy").values())) for k in (base, mier))
                diff = ix.paired(mier, base, ckpt, "test_accuracy")
                p = paper.TABLE3.get(d, {}).get(n)
                rows.append(
                    [
                        d,
                        str(n),
                        fmt(sb),
                        paper_cell(p and p[0]),
                        fmt(sm),
                        paper_cell(p and p[1]),
                        fmt(diff),
                        verdict(diff, "MIER better", "MIER worse"),
                    ]
                )
                for m, s in (("m2", sb), ("m2+mier", sm), ("diff", diff)):
                    csv_rows.append(csv_row(3, ckpt, d, m, m != "m2", n, "test_accuracy", s, None))
        out.append(
            md_table(["dataset", "labels", "M2", "paper", "M2+MIER", "paper", "MIER − M2 (paired)", "verdict"], rows)
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------- report
def build_report(root: str | Path, data_dir: str | None = None, draw: bool = True) -> list[Path]:
    """Tables, figures and a README from the run directories under `root`; the paths written."""
    root = Path(root)
    recs = collect(root)
    ix = Index(recs)
    grid = ck.read_json(root / GRID_RECORD, {}) if (root / GRID_RECORD).exists() else {}
    datasets = grid.get("datasets") or list(dict.fromkeys(r.dataset for r in recs))
    datasets = [Path(d).stem.replace("_", "-") for d in datasets]
    non_ablation = [r.labels for r in recs if r.model != paper.FIGURE_MODEL] or [r.labels for r in recs]
    labels = grid.get("labels") or Counter(non_ablation).most_common(1)[0][0]
    ablation = grid.get("ablation") or sorted({r.labels for r in recs if r.model == paper.FIGURE_MODEL})
    tables = set(grid.get("tables", [1, 2, 3]))
    csv_rows: list[dict] = []
    written: list[Path] = []
    findings: list[str] = []
    if tables & {1, 2}:
        text, findings = table1(ix, datasets, labels, csv_rows)
        (root / "table1.md").write_text(text)
        written.append(root / "table1.md")
    if 2 in tables:
        (root / "table2.md").write_text(table2(ix, datasets, labels, csv_rows))
        written.append(root / "table2.md")
    if 3 in tables:
        (root / "table3.md").write_text(table3(ix, datasets, ablation, csv_rows))
        written.append(root / "table3.md")
    for t in sorted({r["table"] for r in csv_rows}):
        path = root / f"table{t}.csv"
        rows = [r for r in csv_rows if r["table"] == t]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        written.append(path)
    figs = figures(ix, datasets, labels, root, data_dir) if draw else []
    written += [root / f for f in figs]
    (root / "README.md").write_text(readme(recs, grid, datasets, labels, ablation, tables, findings, figs))
    return written + [root / "README.md"]


def readme(recs, grid, datasets, labels, ablation, tables, findings, figs) -> str:
    """The report's README: what was run, on what, for how long, and what agrees with the paper."""
    fit = defaultdict(list)
    for r in recs:
        if r.model in BASELINES:
            fit[r.model].append(r.metrics["train_seconds"])
    recs = [r for r in recs if r.model not in BASELINES]  # the scikit-learn rows are not training runs
    lines = [*readme_header(recs, grid, datasets, labels, ablation, tables, fit)]
    lines += [f"- {f}" for f in findings] or ["- (Table 1 not run)"]
    unavailable = grid.get("unavailable", {})
    missing = sorted({"fashion-mnist", "kmnist", "cifar10", "svhn"} - set(datasets) - set(unavailable))
    if unavailable:
        lines += ["", "Asked for but not run, because the data set could not be loaded here:", ""]
        lines += [f"- {d}: {why}" for d, why in unavailable.items()]
    if missing:
        lines += ["", f"Not in this grid: {', '.join(missing)}."]
    lines += ["", "## Files", ""]
    lines += [
        f"- `{f}`"
        for f in ["table1.md", "table2.md", "table3.md"]
        if int(f[5]) in tables or (f == "table1.md" and 2 in tables)
    ]
    lines += [f"- `{f}`" for f in figs]
    return "\n".join(lines) + "\n"


def readme_header(recs, grid, datasets, labels, ablation, tables, fit) -> list[str]:
    """The README's opening: the runs, the protocol beside the paper's, the device and time, the command."""
    seeds = sorted({r.seed for r in recs})
    epochs = Counter(r.metrics["epochs"] for r in recs)
    train_h = sum(r.metrics["train_seconds"] for r in recs) / 3600
    device = grid.get("device_name", "not recorded")
    keys = ("epochs", "warmup_epochs", "precision", "weighting", "alpha", "beta", "gamma", *FEATURE_KEYS)
    return [
        "# Reproduction of Niloy et al., Tables 1-3 and Figures 2-4",
        "",
        f"- Runs: {len(recs)} ({', '.join(f'{n} with {e} epochs' for e, n in sorted(epochs.items()))}); "
        f"datasets {', '.join(datasets)}; seeds {seeds}; {labels} labels per class"
        + (f"; Table 3 ablation {ablation}" if 3 in tables else "")
        + ".",
        "- Protocol: "
        + "; ".join(
            f"{key} {', '.join(sorted({str(r.config.get(key, '–')).replace('None', 'default') for r in recs}))}"
            for key in keys
            if key not in FEATURE_KEYS or any(featurized(r.config.get("features")) for r in recs)
        )
        + " (the paper: 1000 epochs, warm-up 200, beta 5, gamma 1; alpha not given; no feature stage).",
        f"- Device: {device}; training time summed over runs {train_h:.2f} h"
        + (f"; wall time of the grid {grid['wall_seconds'] / 3600:.2f} h" if "wall_seconds" in grid else "")
        + ".",
        f"- Command: `{grid['command']}`" if "command" in grid else "- Command: not recorded (by `ssvae report`).",
        *(
            [
                "- baselines on the same splits, mean fit seconds: "
                + ", ".join(f"{label(k)} {np.mean(v):.1f} s" for k, v in fit.items())
                + "."
            ]
            if fit
            else []
        ),
        "- Built by `ssvae report`: every number comes from the run directories under `runs/` (the test split is "
        "read only at evaluation; the best checkpoint is chosen on a validation set held out of the training split).",
        "",
        "## What agrees and what does not (best-by-validation checkpoints)",
        "",
    ]
