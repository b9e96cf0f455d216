"""One place for each fact: settings declared once and derived everywhere, the objective's own declarations, the
registry driving experiments, one list of a checkpoint's contents, one naming of run directories."""

import ast
import dataclasses
import graphlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from ssvae import SemiSupervisedClassifier
from ssvae.cli import build_parser, config_from_args, main
from ssvae.core.models import MODELS, display_order, model_config, register
from ssvae.core.models.m2 import M2, M2Config
from ssvae.core.objectives import ObjectiveSettings, run_weights
from ssvae.errors import SSVAEError
from ssvae.experiments.engines import run_points
from ssvae.experiments.grid import parse_grid, points_of
from ssvae.experiments.report import build_report
from ssvae.experiments.sweep import sweep_table
from ssvae.records import rundir as rd
from ssvae.settings import declared, flag_name
from ssvae.training.config import PER_RUN, SETTINGS, TrainConfig, check_config
from ssvae.training.loop import open_run
from ssvae.training.stacked import stackable
from ssvae.training.state import COUNTERS

FAST = dict(dataset="digits", labels_per_class=5, batch_size=100, labeled_batch_size=100, warmup_epochs=1, device="cpu")


def train_parser_actions():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["train"]._actions}


def test_every_command_line_setting_is_a_flag_with_the_declared_default_and_help():
    actions, d = train_parser_actions(), TrainConfig()
    for name, s in SETTINGS.items():
        if not s.cli:
            assert name not in actions
            continue
        a = actions[name]
        assert a.option_strings == [flag_name(name)] and a.help == s.help
        assert a.default == (None if s.explicit else getattr(d, name))
    assert actions["weighting"].choices == ["sum", "mean"]
    assert actions["model"].choices is None  # the model is checked by the registry, in its own words


def test_flags_become_the_config_and_defaults_are_the_dataclass_defaults():
    args = build_parser().parse_args(["train", "--out", "x"])
    assert config_from_args(args) == TrainConfig()
    args = build_parser().parse_args(["train", "--out", "x", "--mier", "--beta", "2", "--z-dim", "8", "--lr", "1e-3"])
    cfg = config_from_args(args)
    assert (cfg.mier, cfg.beta, cfg.lr, cfg.model_options) == (True, 2.0, 1e-3, {"z_dim": 8})


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("batch_size", 0, "must be at least 1, got 0"),
        ("warmup_epochs", -1, "must be 0 or more, got -1"),
        ("beta", -0.5, "must be 0 or more, got -0.5"),
        ("lr", 0.0, "must be positive, got 0.0"),
        ("grad_clip", -1.0, "must be 0 or more, got -1.0"),
        ("mc_samples", 0, "must be at least 1, got 0"),
        ("weighting", "median", "unknown {} 'median'; known: sum, mean"),
    ],
)
def test_errors_spell_the_setting_as_the_interface_does(field, value, words):
    cfg = TrainConfig(**{field: value})
    with pytest.raises(SSVAEError) as python:
        check_config(cfg)
    with pytest.raises(SSVAEError) as flags:
        check_config(cfg, flag_name)
    spelled = words.format(field) if "{}" in words else f"{field} {words}"
    assert spelled in str(python.value) and flag_name(field) not in str(python.value)
    assert flag_name(field) in str(flags.value)


def test_the_command_line_says_a_bad_setting_with_its_flag(tmp_path, capsys):
    assert main(["train", "--batch-size", "0", "--dataset", "digits", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--batch-size must be at least 1, got 0" in err and not (tmp_path / "r").exists()


def test_a_model_option_the_model_lacks_is_refused():
    with pytest.raises(SSVAEError, match="model lvae has no option z_dim; its options: init, latent_dims"):
        model_config("lvae", z_dim=20)
    with pytest.raises(SSVAEError, match="has no option --predict-samples"):
        model_config("m2", flag_name, predict_samples=3)
    est = SemiSupervisedClassifier(model="lvae", z_dim=20, epochs=1, device="cpu")
    x, y = torch.rand(60, 16).numpy(), (torch.arange(60) % 3).numpy()
    with pytest.raises(ValueError, match="no option z_dim"):
        est.fit(x, y)


def test_the_objective_declares_what_may_differ_between_stacked_runs():
    assert PER_RUN == {n for n, s in declared(ObjectiveSettings).items() if s.per_run} == {"mier", "beta", "gamma"}
    base = TrainConfig(**FAST)
    assert stackable([base, dataclasses.replace(base, seed=3, mier=True, beta=1.0, gamma=2.0)])
    assert not stackable([base, dataclasses.replace(base, weighting="mean")])
    assert not stackable([base, dataclasses.replace(base, lr=1e-3)])
    assert run_weights(TrainConfig(mier=False, beta=5.0, gamma=1.0)) == {"beta": 0.0, "gamma": 0.0}
    assert run_weights(TrainConfig(mier=True, beta=5.0, gamma=1.0)) == {"beta": 5.0, "gamma": 1.0}


def test_the_checkpoint_holds_exactly_the_declared_state(tmp_path):
    run = open_run(TrainConfig(model="m2", epochs=1, **FAST), tmp_path / "r")
    try:
        state = run.state_dict()
        assert set(state) == {"model", "optimizer", "scheduler", "rng", *COUNTERS}
        run.epoch, run.step, run.best_score, run.best_epoch, run.seconds = 7, 70, 81.5, 6, 12.0
        saved = run.state_dict()
        fresh = open_run(TrainConfig(model="m2", epochs=1, **FAST), None)
        fresh.load_state_dict(saved)
        assert (fresh.epoch, fresh.step, fresh.best_score, fresh.best_epoch, fresh.seconds) == (7, 70, 81.5, 6, 12.0)
        assert torch.equal(fresh.gen.get_state(), run.gen.get_state())
        for k, v in run.model.state_dict().items():
            assert torch.equal(v, fresh.model.state_dict()[k])
    finally:
        run.close()


def test_baselines_grids_and_reproduce_name_run_directories_alike():
    assert rd.run_name("x/fashion_mnist.npz", "m2", True, 10, 2) == "fashion_mnist/m2-mier/n10/seed2"
    assert rd.run_name("digits", "adgm", False, 5, 0, "beta=1.0") == "digits/adgm/n5/beta=1.0/seed0"


@dataclass
class ToyConfig(M2Config):  # M2's options, tiny sizes
    z_dim: int = 2
    hidden: int = 16
    classifier_hidden: int = 16


class Toy(M2):
    """A toy model for the registry test: M2's bound with tiny sizes."""


@pytest.fixture
def toy_model():
    register("toy", Toy, ToyConfig, "Toy VAE", "C5")
    yield "toy"
    del MODELS["toy"]


def test_a_registered_model_appears_in_a_sweep_and_its_report_without_other_edits(tmp_path, toy_model):
    assert ("toy", False) in display_order() and ("toy", True) in display_order()
    fixed = dict(FAST, model=toy_model, epochs=1, precision="fp32", compile="off")
    grid = parse_grid({"seeds": [0, 1], "fixed": fixed, "grid": {"mier": [False, True]}})
    points = points_of(grid.configs(), grid.varied(), 0)
    run_points(points, tmp_path)
    md, _ = sweep_table(tmp_path, points, grid.varied())
    text = md.read_text()
    assert "| digits | toy | False | 5 | 2/2 |" in text and "| digits | toy | True | 5 | 2/2 |" in text
    build_report(tmp_path, draw=False)
    table = (tmp_path / "table1.md").read_text()
    assert "| Toy VAE |" in table and "| Toy VAE+MIER |" in table
    assert "| Toy VAE | digits | " in table  # its MIER − baseline row, paired by seed
    cfg = json.loads((tmp_path / "runs/digits/toy-mier/n5/seed0" / rd.CONFIG).read_text())["config"]
    assert cfg["model"] == "toy"


FLOORS = [  # docs/architecture.md draws these; a module imports only from its own floor and the floors below it
    {"ssvae.settings", "ssvae.errors", "ssvae.files"},  # how a setting is declared, the error, atomic files
    {"ssvae.core"},  # the math: models, bounds, objectives
    {"ssvae.data"},  # data sets, splits, arrays on the device
    {"ssvae.measures", "ssvae.machine", "ssvae.records", "ssvae.graph"},  # metrics, images; hardware; records; graphs
    {"ssvae.training"},  # settings of a run, the run, its step and the one epoch loop, stacking
    {"ssvae.evaluation"},  # a finished run's test numbers, baselines, plots
    {"ssvae.experiments"},  # sweeps, reproduce, reports
    {"ssvae.estimator", "ssvae.fit_inputs", "ssvae.saved_estimator", "ssvae.predict", "ssvae.cli", "ssvae.flags"}
    | {"ssvae.__main__", "ssvae"},  # the doors
]
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 50  # a function's lines after its docstring
SRC = Path(__file__).resolve().parent.parent / "src"


def floor_of(module: str) -> int:
    best = max((p for floor in FLOORS for p in floor if module == p or module.startswith(p + ".")), key=len)
    return next(i for i, floor in enumerate(FLOORS) if best in floor)


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the ssvae modules it imports, every import counted (module level, inside functions, and under
    TYPE_CHECKING: a type named is a dependency too)."""
    paths = {}
    for path in sorted((root / "ssvae").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {m: set() for m in paths}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ssvae")):
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
                for a in node.names:  # `from pkg import module` imports pkg.module
                    graph[module].add(f"{target}.{a.name}" if f"{target}.{a.name}" in paths else target)
            elif isinstance(node, ast.Import):
                graph[module] |= {a.name for a in node.names if a.name.startswith("ssvae")}
        graph[module].discard(module)
    return graph


def upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((m, t) for m, ts in graph.items() for t in ts if floor_of(t) > floor_of(m))


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (its modules in order), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        return e.args[1]
    return None


def test_imports_run_only_down_the_floors():
    assert upward(import_graph()) == []


def test_no_import_circles():
    assert circle(import_graph()) is None


def test_the_floor_checks_catch_an_upward_import_and_a_circle():
    graph = import_graph()
    graph["ssvae.core.objectives"].add("ssvae.training.loop")
    assert upward(graph) == [("ssvae.core.objectives", "ssvae.training.loop")]
    graph = import_graph()
    graph["ssvae.training.config"].add("ssvae.training.run")  # run imports config
    found = circle(graph)
    assert found is not None and {"ssvae.training.config", "ssvae.training.run"} <= set(found)


def lengths(root: Path = SRC) -> dict[str, int]:
    """Each module's lines, and each function's lines after its docstring ("path:name")."""
    out = {}
    for path in sorted((root / "ssvae").rglob("*.py")):
        name, text = path.relative_to(root).as_posix(), path.read_text()
        out[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                documented = len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                start = body[1 if documented else 0].lineno
                out[f"{name}:{node.name}"] = max(out.get(f"{name}:{node.name}", 0), node.end_lineno - start + 1)
    return out


def too_long(found: dict[str, int]) -> dict[str, int]:
    return {k: n for k, n in found.items() if n > (MAX_FUNCTION_LINES if ":" in k else MAX_MODULE_LINES)}


def test_modules_and_functions_read_in_one_sitting():
    assert too_long(lengths()) == {}


def test_the_length_check_catches_a_long_module_and_a_long_function():
    assert too_long({"ssvae/x.py": 401, "ssvae/x.py:f": 51, "ssvae/y.py": 400, "ssvae/y.py:g": 50}) == {
        "ssvae/x.py": 401,
        "ssvae/x.py:f": 51,
    }
