"""Levers on the graph teacher (issue 43): can the teacher of `--teacher` know more than Poisson learning on the
feature stage's code? Measured on a finished taught run (its feature stage, its student, its split), without
training another M2: each lever's labels for the training rows, scored on the unlabeled rows (what the teacher
hands the student) and on the validation rows, both transductively (the validation rows are nodes of every graph,
unlabeled). The test split is never read.

The levers (`--levers`):
  student        the run's own M2: q(y|x)'s class (the bar a better teacher has to clear)
  code           Poisson learning on the code, balanced from 5 labels per class (the teacher as it is)
  code-balanced  the same, balanced whatever the label count
  rounds         the graph rebuilt on the student's penultimate layer (Iscen et al.'s rounds, one round)
  selftrain:M:R  R rounds of: the M most confident rows of each class (margin) join the labels, Poisson again
  mbo            PoissonMBO (graphlearning's volume-constrained MBO) on the code
  views          the pixels' graph alone, the union of the code's and the pixels' graphs, their scores summed
  k:N            Poisson learning on the code's N-nearest-neighbour graph (the teacher's is 10)
  ensemble       Poisson learning on the codes of several feature stages side by side (`--stages`: finished
                 stage folders, e.g. the same VAE trained from other seeds), each scaled to unit variance overall
  blend          the student's q(y|x) and the graph's scores (each row's scores over their sum) averaged, and
                 multiplied: what a second round's teacher would know if it asked both
  mlp:VIEW:E     a student without the generative model: an MLP (two hidden layers of 600) trained E epochs on
                 the labels and the teacher's classes weighted by its confidence, on VIEW (pixels or code)

    python benchmarks/teacher_levers.py --run CAMPAIGN/runs/calder-n10-s0-t0.01-top2 --data-dir ../shared/data \
        --levers student code rounds selftrain:100:3 mbo views mlp:pixels:10 --out results/teacher-levers/rows.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ssvae import load_dataset
from ssvae.data.device import to_unit
from ssvae.graph.knn import K, graphlearning, knn_graph
from ssvae.graph.teacher import balanced, decided_scores, pseudo_labels
from ssvae.records.saved import load_model
from ssvae.training.stage1 import stage_encoder


class Probe:
    """A run's rows in graph order (labeled, unlabeled, validation), its code, its student's outputs."""

    def __init__(self, run: Path, data_dir: str | None, stages: list[Path]):
        self.model = load_model(run / "model-last")[0]
        ds = load_dataset(json.loads((run / "config.json").read_text())["config"]["dataset"], data_dir)
        x = to_unit(torch.from_numpy(ds.x_train.reshape(len(ds.x_train), -1))).numpy()
        split = np.load(run / "split.npz")
        order = np.concatenate([split["labeled"], split["unlabeled"], split["validation"]])
        self.x, self.y = x[order], ds.y_train[order]
        self.n_lab, self.n_unl = len(split["labeled"]), len(split["unlabeled"])
        self.num_classes = ds.num_classes
        self.code = self.each(self.model.code)
        self.graphs: dict[str, object] = {}
        self.stages = stages

    @torch.no_grad()
    def each(self, f, batch: int = 5000) -> np.ndarray:
        t = torch.from_numpy(self.x)
        return torch.cat([f(t[i : i + batch]).float() for i in range(0, len(t), batch)]).numpy()

    def graph(self, name: str, rows: np.ndarray):
        if name not in self.graphs:
            self.graphs[name] = knn_graph(rows, K)[0]
        return self.graphs[name]

    def scores(self, predicted: np.ndarray) -> dict[str, float]:
        unl = slice(self.n_lab, self.n_lab + self.n_unl)
        val = slice(self.n_lab + self.n_unl, None)
        return {
            "unlabeled": 100 * float((predicted[unl] == self.y[unl]).mean()),
            "validation": 100 * float((predicted[val] == self.y[val]).mean()),
        }

    def poisson(self, weights, labeled: np.ndarray, labels: np.ndarray, balance: bool, method: str = "poisson"):
        priors = np.bincount(labels, minlength=self.num_classes) / len(labels) if balance else None
        model = getattr(graphlearning().ssl, method)(weights, class_priors=priors)
        model.fit(labeled, labels)
        return model.predict(), decided_scores(model) if method == "poisson" else model.prob


def margins(scores: np.ndarray) -> np.ndarray:
    top2 = np.sort(scores, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def taught_by(p: Probe, weights, balance: bool | None = None, method: str = "poisson"):
    """(classes, scores) of graph learning on `weights` from the run's labels, balanced as the teacher is (from 5
    labels per class) unless `balance` says."""
    y_lab = p.y[: p.n_lab]
    usual = balanced(y_lab, p.num_classes) if balance is None else balance
    return p.poisson(weights, np.arange(p.n_lab), y_lab, usual, method)


def student(p: Probe) -> list[tuple[str, np.ndarray]]:
    return [("student", p.each(p.model.predict_log_proba).argmax(1))]


def code(p: Probe) -> list[tuple[str, np.ndarray]]:
    usual = balanced(p.y[: p.n_lab], p.num_classes)
    return [(f"code (balanced: {usual})", taught_by(p, p.graph("code", p.code))[0])]


def code_balanced(p: Probe) -> list[tuple[str, np.ndarray]]:
    return [("code, balanced", taught_by(p, p.graph("code", p.code), True)[0])]


def rounds(p: Probe) -> list[tuple[str, np.ndarray]]:
    hidden = p.each(p.model.features)
    return [("graph on the student's layer", taught_by(p, p.graph("student", hidden))[0])]


def neighbours(p: Probe, k: str) -> list[tuple[str, np.ndarray]]:
    return [(f"code, {k} neighbours", taught_by(p, knn_graph(p.code, int(k))[0])[0])]


def ensemble(p: Probe) -> list[tuple[str, np.ndarray]]:
    codes = [p.code] + [stage_encoder(folder)(p.x) for folder in p.stages]
    side_by_side = np.hstack([c / c.std() for c in codes])
    return [(f"{len(codes)} stages' codes side by side", taught_by(p, p.graph("ensemble", side_by_side))[0])]


def blend(p: Probe) -> list[tuple[str, np.ndarray]]:
    learned = np.exp(p.each(p.model.predict_log_proba))
    scores = np.clip(taught_by(p, p.graph("code", p.code))[1], 0, None)
    graph = scores / np.maximum(scores.sum(1, keepdims=True), 1e-12)
    return [
        ("student and graph averaged", (learned + graph).argmax(1)),
        ("student and graph multiplied", (learned * (graph + 1e-6)).argmax(1)),
    ]


def mbo(p: Probe) -> list[tuple[str, np.ndarray]]:
    return [("PoissonMBO on the code", taught_by(p, p.graph("code", p.code), True, "poisson_mbo")[0])]


def self_training(p: Probe, per_class: str, n_rounds: str) -> list[tuple[str, np.ndarray]]:
    weights, per = p.graph("code", p.code), int(per_class)
    usual = balanced(p.y[: p.n_lab], p.num_classes)
    predicted, scores = taught_by(p, weights)
    labeled, labels, out = np.arange(p.n_lab), p.y[: p.n_lab], []
    for r in range(int(n_rounds)):
        m = margins(scores)
        m[labeled] = -np.inf
        joined = np.concatenate(
            [np.flatnonzero(predicted == c)[np.argsort(-m[predicted == c])][:per] for c in range(p.num_classes)]
        )
        joined = joined[np.isfinite(m[joined])]
        labeled, labels = np.concatenate([labeled, joined]), np.concatenate([labels, predicted[joined]])
        predicted, scores = p.poisson(weights, labeled, labels, usual)
        out.append((f"self-training {per} a class, round {r + 1}", predicted))
    return out


def views(p: Probe) -> list[tuple[str, np.ndarray]]:
    w_code, w_pixels = p.graph("code", p.code), p.graph("pixels", p.x)
    code_scores = taught_by(p, w_code)[1]
    pixel_pred, pixel_scores = taught_by(p, w_pixels)
    return [
        ("pixels' graph", pixel_pred),
        ("union of the code's and the pixels' graphs", taught_by(p, w_code + w_pixels)[0]),
        ("code's and pixels' scores summed", (code_scores + pixel_scores).argmax(1)),
    ]


def mlp(p: Probe, view: str, epochs: str) -> list[tuple[str, np.ndarray]]:
    return [(f"MLP on the {view}, {epochs} epochs", mlp_student(p, view, int(epochs)))]


# lever name -> (row name, the class of every node) for each of its rows; arguments after ":" (`--levers`)
LEVERS = {
    "student": student,
    "code": code,
    "code-balanced": code_balanced,
    "rounds": rounds,
    "k": neighbours,
    "ensemble": ensemble,
    "blend": blend,
    "mbo": mbo,
    "selftrain": self_training,
    "views": views,
    "mlp": mlp,
}


def mlp_student(p: Probe, view: str, epochs: int) -> np.ndarray:
    """An MLP fitted to the labels (weight 10) and the teacher's classes (weight: its confidence), its last epoch."""
    rows = torch.from_numpy(p.x if view == "pixels" else p.code)
    taught = pseudo_labels(p.code[: p.n_lab], p.y[: p.n_lab], p.code[p.n_lab : p.n_lab + p.n_unl], p.num_classes)
    fit = slice(0, p.n_lab + p.n_unl)
    target = torch.from_numpy(np.concatenate([p.y[: p.n_lab], taught.labels]))
    weight = torch.from_numpy(np.concatenate([np.full(p.n_lab, 10.0, np.float32), taught.confidence]))
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(rows.shape[1], 600),
        torch.nn.Softplus(),
        torch.nn.Linear(600, 600),
        torch.nn.Softplus(),
        torch.nn.Linear(600, p.num_classes),
    )
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x_fit = rows[fit]
    for _ in range(epochs):
        for b in torch.randperm(len(x_fit), generator=gen).split(200):
            loss = (F.cross_entropy(net(x_fit[b]), target[b], reduction="none") * weight[b]).sum() / weight[b].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return net(rows).argmax(1).numpy()


def table(rows_path: Path) -> str:
    """The markdown table of a rows file: per run, each row's accuracies and its difference from the teacher as it is
    (the run's "code" row) on validation."""
    rows = [json.loads(line) for line in rows_path.read_text().splitlines() if line.strip()]
    latest = {(r["run"], r["row"]): r for r in rows}  # a rerun's row replaces the earlier one
    out = [
        "| labels per class | seed | lever | unlabeled | validation | validation − the teacher |",
        "|---|---|---|---|---|---|",
    ]
    for (run, name), r in sorted(latest.items(), key=lambda kv: (kv[1]["labels_per_class"], kv[1]["seed"])):
        teacher = next((t for (rn, _), t in latest.items() if rn == run and t["lever"] == "code"), None)
        diff = f"{r['validation'] - teacher['validation']:+.2f}" if teacher and r is not teacher else ""
        n, seed, unl, val = r["labels_per_class"], r["seed"], r["unlabeled"], r["validation"]
        out.append(f"| {n} | {seed} | {name} | {unl:.2f} | {val:.2f} | {diff} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, help="a finished taught run (ssvae train --teacher)")
    ap.add_argument("--data-dir")
    ap.add_argument("--levers", nargs="+", default=["student", "code"])
    ap.add_argument("--out", type=Path, help="append one JSON row per result here")
    ap.add_argument("--stages", type=Path, nargs="*", default=[], help="more feature stage folders (ensemble)")
    ap.add_argument("--table", type=Path, help="print the markdown table of these rows and stop")
    a = ap.parse_args()
    if a.table:
        print(table(a.table))
        return
    unknown = [lever for lever in a.levers if lever.split(":")[0] not in LEVERS]
    if unknown:
        raise SystemExit(f"unknown lever {unknown[0]!r}: one of {', '.join(LEVERS)}")
    torch.set_num_threads(1)
    probe = Probe(a.run, a.data_dir, a.stages)
    config = json.loads((a.run / "config.json").read_text())["config"]
    for lever in a.levers:
        t0 = time.perf_counter()
        name, *args = lever.split(":")
        for row_name, predicted in LEVERS[name](probe, *args):
            row = {
                "run": a.run.name,
                "labels_per_class": config["labels_per_class"],
                "seed": config["seed"],
                "lever": lever,
                "row": row_name,
                **probe.scores(predicted),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            print(json.dumps(row), flush=True)
            if a.out:
                a.out.parent.mkdir(parents=True, exist_ok=True)
                with a.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
