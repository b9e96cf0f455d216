"""`ssvae demo`: the supervised-only network, M2 and M2+MIER on scikit-learn's bundled digits, on the CPU in about
a minute, then scikit-learn's baselines on the very same split and one sentence on who wins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data import Split, load_dataset
from ..evaluation.baselines import run_baselines, who_wins
from ..evaluation.evaluate import evaluate_run
from ..records import rundir as ck
from ..records.rundir import check_run_dir_path, variant_name
from ..training.config import TrainConfig
from ..training.loop import train
from ..training.stage1 import stage_encoder
from .tables import format_table, variant

DEMO_EPOCHS = 60
DEMO_LR = 1e-3  # chosen on validation (results/demo-lr: M2 93.06% against 92.17% at the paper's 3e-4)
DEMO_RUNS = [("classifier", False), ("m2", False), ("m2", True)]  # (model, MIER), in the order the demo trains
COLUMNS = [
    ("model", "model"),
    ("best epoch", "best_epoch"),
    ("val acc %", "val_accuracy"),
    ("test acc %", "test_accuracy"),
    ("test entropy", "test_entropy"),
    ("test ELBO (nats)", "test_elbo"),
]


def demo_config(
    model: str, mier: bool, out: Path, labels_per_class: int, epochs: int, seed: int, device: str, features: str
) -> TrainConfig:
    """One demo run's settings: digits at the demo's lr, batches of 100, a quarter of the epochs of warm-up."""
    return TrainConfig(
        model=model,
        mier=mier,
        dataset="digits",
        labels_per_class=labels_per_class,
        epochs=epochs,
        lr=DEMO_LR,
        warmup_epochs=epochs // 4,
        seed=seed,
        device=device,
        precision="fp32",  # the same numbers on every CPU (tiny networks: bf16 would buy nothing here)
        batch_size=100,
        labeled_batch_size=100,
        features=features,
        features_dir=str(out / "features"),  # one stage 1, shared by the three rows
    )


def run_demo(out: Path, labels_per_class: int, epochs: int, seed: int, device: str, features: str) -> None:
    """Train and evaluate each of `DEMO_RUNS` under `out`, print their table, then the baselines beside them."""
    check_run_dir_path(out)
    rows = []
    for model, mier in DEMO_RUNS:
        run = out / variant_name(model, mier)
        print(f"== {variant(model, mier)}: {run}", flush=True)
        train(demo_config(model, mier, out, labels_per_class, epochs, seed, device, features), run)
        m = evaluate_run(run, device=device, figures=True)
        rows.append({"model": variant(model, mier), **m["best"], "best_epoch": m["best_epoch"]})
    on = "" if features == "none" else f", every model on {features}'s code"
    print(
        f"\ndigits, {labels_per_class} labels per class, {epochs} epochs at lr {DEMO_LR:g}{on}, seed {seed} "
        f"(best-by-validation checkpoint; test split never used for selection)\n"
    )
    print(format_table(rows, COLUMNS))
    print(f"\nrun directories, figures and metrics under {out}/")
    print_baselines(out / "m2", rows)


def print_baselines(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """scikit-learn on the very split the runs trained on (and on the runs' code, when they have a feature stage),
    and one sentence on who wins."""
    cfg = ck.read_json(run_dir / ck.CONFIG, ck.CONFIG_SHAPE)["config"]
    ds = load_dataset(cfg["dataset"], cfg["data_dir"])
    split = Split.load(run_dir / ck.SPLIT)
    base = run_baselines(ds, split)
    if (run_dir / ck.FEATURE_STAGE).is_dir():
        base += run_baselines(ds, split, code=stage_encoder(run_dir / ck.FEATURE_STAGE))
    print("\nbaselines on the same labeled, unlabeled and test images:\n")
    cols = [("baseline", "baseline"), ("test acc %", "test_accuracy"), ("fit seconds", "fit_seconds")]
    print(format_table(base, cols))
    print("\n" + who_wins(rows, base, len(ds.y_test)))
