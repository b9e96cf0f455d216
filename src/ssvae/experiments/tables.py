"""Numbers and names as tables show them: a summary over seeds (mean, SD, the 95% t-interval of the mean), a
paired difference's verdict, a row's name, markdown tables.

Seeds are the unit. A cell is the mean over seeds with its sample standard deviation and the two-sided 95%
Student-t interval for the mean; with one seed there is no interval, and the text says so.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.models import MODELS
from ..evaluation.baselines import ALL_BASELINES as BASELINES


def label(model: str) -> str:
    """A row's name: the registry's display name, or the baseline's."""
    return MODELS[model].label if model in MODELS else BASELINES[model][0]


def variant(model: str, mier: bool) -> str:
    """A model's name in tables, with "+MIER" when MIER is on."""
    return label(model) + ("+MIER" if mier else "")


def summarize(values: list[float]) -> dict[str, float]:
    """Mean, standard deviation and the 95% t-interval of the mean over seeds."""
    from scipy.stats import t

    v = np.asarray([x for x in values if x is not None], dtype=float)
    n = len(v)
    if n == 0:
        return {"n": 0, "mean": math.nan, "std": math.nan, "lo": math.nan, "hi": math.nan}
    mean = float(v.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": math.nan, "lo": math.nan, "hi": math.nan}
    std = float(v.std(ddof=1))
    half = float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "lo": mean - half, "hi": mean + half}


def fmt(s: dict[str, float], digits: int = 2) -> str:
    """A summary as a table cell: mean ± SD [95% CI] n=seeds."""
    if s["n"] == 0:
        return "–"
    if s["n"] == 1:
        return f"{s['mean']:.{digits}f} (1 seed)"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f} [{s['lo']:.{digits}f}, {s['hi']:.{digits}f}] n={s['n']}"


def verdict(s: dict[str, float], better: str, worse: str) -> str:
    """What a paired difference says: better, worse, or no significant difference (its interval against 0)."""
    if s["n"] < 2:
        return "one seed: no interval"
    if s["std"] == 0:  # e.g. two seeds with the same difference (accuracies step by 0.01): a zero-width interval
        return "the same difference on every seed: no interval"
    if s["lo"] > 0:
        return better
    if s["hi"] < 0:
        return worse
    return "no significant difference"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    )


def paper_cell(v: float | None, digits: int = 2) -> str:
    """A number of the paper's, or a dash where the paper gives none."""
    return "–" if v is None else f"{v:.{digits}f}"


def format_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A markdown table from dicts (`columns`: header, key); None prints as an en dash."""

    def cell(v):
        return "–" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)

    return md_table([c for c, _ in columns], [[cell(r.get(k)) for _, k in columns] for r in rows])
