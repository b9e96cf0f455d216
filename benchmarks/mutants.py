"""Mutation check: apply each bug that once slipped through the tests (issue 12), run the tests, expect a failure.

Usage: python benchmarks/mutants.py [PYTEST ARGS]   (default: the whole suite; every mutant must say KILLED)
The source is restored after each mutant, also when interrupted.
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "src" / "ssvae"
MUTANTS = [
    ("warm-up dropped from U", "core/objectives.py", "u = unlabeled_bound(unl, kl_weight)", "u = unlabeled_bound(unl)"),
    (
        "labeled term summed",
        "core/objectives.py",
        "big_l = labeled_bound(lab, kl_weight).mean()",
        "big_l = labeled_bound(lab, kl_weight).sum()",
    ),
    ("lr halving early", "training/build.py", "step_size=cfg.lr_decay_every,", "step_size=cfg.lr_decay_every - 1,"),
    (
        "lvae lower KL vs N(0,I)",
        "core/models/lvae.py",
        "kl = kl + kl_gaussians(mu, lv, mu_p, lv_p)",
        "kl = kl + kl_std_normal(mu, lv)",
    ),
    (
        "lvae KL reversed",
        "core/models/lvae.py",
        "kl = kl + kl_gaussians(mu, lv, mu_p, lv_p)",
        "kl = kl + kl_gaussians(mu_p, lv_p, mu, lv)",
    ),
    (
        "adgm geometric mean",
        "core/models/adgm.py",
        "return torch.logsumexp(log_q, 0) - math.log(s)",
        "return log_q.mean(0)",
    ),
    (
        "eval ELBO kl 0.5",
        "measures/metrics.py",
        "unlabeled_bound_kl(model.bound(to_unit(x[s]), None, gen))",
        "unlabeled_bound_kl(model.bound(to_unit(x[s]), None, gen), 0.5)",
    ),
]
tests = sys.argv[1:] or ["tests"]
for name, f, old, new in MUTANTS:
    p = ROOT / f
    src = p.read_text()
    assert src.count(old) == 1, (name, src.count(old))
    p.write_text(src.replace(old, new))
    try:
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            capture_output=True,
            text=True,
        )
    finally:
        p.write_text(src)
    print(f"{name:28s} {'KILLED' if r.returncode else 'SURVIVED'}  {r.stdout.strip().splitlines()[-1]}", flush=True)
