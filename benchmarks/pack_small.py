"""The small files of a results folder as one archive, for what comes back from a borrowed GPU machine (a device
call brings back at most 8 files, and run directories do not outlive the machine): each run's config, split,
per-epoch history and metrics, the grid's record and the report's tables and README; never a checkpoint. Enough
for `ssvae report` to rebuild the tables on any machine.

    python benchmarks/pack_small.py ARCHIVE.tgz ROOT [FOLDER ...]   # FOLDERs under ROOT (default: all of ROOT)

Paths in the archive are relative to ROOT.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

from ssvae.experiments.reproduce import GRID_RECORD
from ssvae.records import rundir as rd

SMALL = {rd.CONFIG, rd.SPLIT, rd.HISTORY, rd.METRICS, GRID_RECORD}
REPORT = (".md", ".csv")


def pack(archive: Path, root: Path, folders: list[str]) -> int:
    """Write the small files under ROOT/FOLDER for each folder into `archive`; returns how many."""
    files = sorted(
        f
        for folder in folders
        for f in (root / folder).rglob("*")
        if f.is_file() and (f.name in SMALL or f.suffix in REPORT)
    )
    with tarfile.open(archive, "w:gz") as tar:
        for f in files:
            tar.add(f, str(f.relative_to(root)))
    return len(files)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print("usage: python benchmarks/pack_small.py ARCHIVE.tgz ROOT [FOLDER ...]", file=sys.stderr)
        sys.exit(2)
    archive, root, *folders = sys.argv[1:]
    n = pack(Path(archive), Path(root), folders or ["."])
    print(f"packed {n} small files into {archive}")
