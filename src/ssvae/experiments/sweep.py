"""What a sweep writes beside its run directories: `sweep.json` (the command, the grid, the engine) before it
trains, and `sweep.md` / `sweep.csv` (one row per point of the grid, over its seeds) after."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..records import rundir as ck
from ..training.config import shown
from .collect import CHECKPOINTS
from .tables import fmt, md_table, summarize


def sweep_record(out: Path, command: str, source: str, runs: int, engine: str, merged: list[str]) -> None:
    """OUT/sweep.json: how the sweep was asked for, written before it trains."""
    ck.save_json(
        out / "sweep.json", {"command": command, "grid": source, "runs": runs, "engine": engine, "merged": merged}
    )


def sweep_table(out: Path, points: list[Any], varied: list[str], merged: list[str] = ()) -> list[Path]:
    """OUT/sweep.md and sweep.csv: one row per run of a sweep (its varied settings), test accuracy of the kept
    and of the last model over the seeds that finished, mean ± SD [95 % CI]; `merged` (`Grid.merged`): the
    grid's points that trained one run between them."""
    from .grid import PAPER_AXES

    cells: dict[str, list] = defaultdict(list)
    for p in points:
        cells[p.path.rsplit("/", 1)[0]].append(p)
    keys = [k for k in PAPER_AXES if k != "seed"] + [k for k in varied if k not in PAPER_AXES]
    rows, csv_rows = [], []
    for ps in cells.values():
        found = [p.run(out) / ck.METRICS for p in ps if (p.run(out) / ck.METRICS).exists()]
        metrics = [ck.read_json(path, ck.METRICS_SHAPE) for path in found]
        stats = {c: summarize([m[c]["test_accuracy"] for m in metrics]) for c in CHECKPOINTS}
        cfg = ps[0].cfg
        settings = {k: getattr(cfg, k) if shown(cfg, k) else None for k in keys}
        cells_shown = ["–" if v is None else str(v) for v in settings.values()]
        rows.append([*cells_shown, f"{len(metrics)}/{len(ps)}", fmt(stats["best"]), fmt(stats["last"])])
        csv_rows.append(
            {
                **settings,
                "finished": len(metrics),
                "seeds": len(ps),
                **{f"{c}_test_accuracy_{k}": stats[c][k] for c in CHECKPOINTS for k in ("mean", "std", "lo", "hi")},
            }
        )
    header = [*keys, "runs finished", "test acc. (best by validation)", "test acc. (last epoch)"]
    md = out / "sweep.md"
    notes = "".join(f"- {line}\n" for line in merged)
    notes = notes and f"\nPoints of the grid that train the same run, trained and listed once:\n\n{notes}"
    md.write_text(
        "# Sweep\n\nTest accuracy (%) over seeds: mean ± SD [95 % CI] n=seeds. Every number comes from the run "
        "directories under `runs/`.\n\n" + md_table(header, rows) + "\n" + notes
    )
    path = out / "sweep.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(csv_rows[0]))
        w.writeheader()
        w.writerows(csv_rows)
    return [md, path]
