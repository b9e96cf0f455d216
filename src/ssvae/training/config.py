"""Every setting of a run, declared once (`TrainConfig`): default, help, choices, bounds, and how runs use it.

The command line's `ssvae train` flags, the estimator's checks and a grid file's checks are derived from these
declarations (`ssvae.settings`); the objective's own settings come from `ssvae.core.objectives`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass
from typing import Any

from ..core.features import CODES, FEATURES, NO_FEATURES
from ..core.models import MODELS, model_config, takes_option
from ..core.objectives import ObjectiveSettings
from ..data.tables import TABLE_LIKELIHOOD, is_table
from ..machine.cuda_graphs import GRAPH_MODES
from ..machine.hardware import COMPILE_MODES, PRECISIONS
from ..settings import ALWAYS, Spelling, check, declared, is_on, python_name, setting


def _selections() -> list[str]:
    from .selection import SELECTIONS

    return ["auto", *SELECTIONS]


@dataclass
class RunSettings:
    """The run's own settings (`TrainConfig` adds the objective's after them); defaults: the paper's 5.2."""

    model: str = setting(
        "m2",
        help="the model: one of the registry's (ssvae.core.models.MODELS)",
        choices=lambda: MODELS,
        group="run",
        flag_choices=False,
    )
    dataset: str = setting(
        "fashion-mnist",
        help="a data set name (digits, mnist, fashion-mnist, kmnist, cifar10, svhn); a folder of images (a folder "
        "per class, unlabeled/, optionally test/); a CSV, TSV or Parquet table (see --label-column); or an .npz of "
        "the arrays x_train, y_train, x_test and y_test",
        group="run",
    )
    data_dir: str | None = setting(
        None,
        help="folder with <name>.npz, or torchvision's download cache (default $SSVAE_DATA or ~/.cache/ssvae)",
        group="run",
        resumable=True,
    )
    label_column: str | None = setting(
        None,
        help="a CSV or Parquet --dataset's column of labels: an empty cell (or -1) marks an unlabeled row",
        group="data",
        before_it_existed=None,
    )
    id_column: str | None = setting(
        None,
        help="a table's column that names its rows: not a feature; ssvae predict writes it beside each prediction",
        group="data",
        before_it_existed=None,
    )
    image_size: str | None = setting(
        None,
        help="WIDTHxHEIGHT, e.g. 28x28: a folder's images are resized to it (needed when they come in several "
        "sizes; default: the one size they share)",
        group="data",
        before_it_existed=None,
    )
    grayscale: bool = setting(
        False,
        help="convert a folder's images to one channel (default: colour when any image has colour)",
        group="data",
        before_it_existed=False,
    )
    skip_unreadable: bool = setting(
        False,
        help="leave out the files of a folder that are not readable images, with one warning that counts them "
        "(default: refuse, naming the first)",
        group="data",
        before_it_existed=False,
    )
    labels_per_class: int = setting(
        100,
        help="labeled examples drawn per class (default 100); refused for data whose y_train marks unlabeled "
        "examples with -1, which keeps its own labels",
        at_least=1,
        group="run",
        explicit=True,
    )
    val_size: int | None = setting(
        None,
        help="validation images held out of the training split (default min(5000, a tenth of it)); used for "
        "model selection only",
        group="run",
    )
    seed: int = setting(0, help="fixes split, initialisation and batch order", group="run")
    epochs: int = setting(1000, help="passes over the unlabeled set", at_least=1, resumable=True)
    lr: float = setting(3e-4, help="Adam's learning rate", above=0.0)
    adam_betas: tuple[float, float] = setting((0.9, 0.999), help="Adam's betas", cli=False)
    lr_decay_every: int = setting(150, help="halve the learning rate every N epochs", at_least=1)
    lr_decay: float = setting(0.5, help="the factor of each learning-rate decay", above=0.0, cli=False)
    batch_size: int = setting(200, help="unlabeled batch size", at_least=1)
    labeled_batch_size: int = setting(200, help="labeled batch size (cycled per step)", at_least=1)
    warmup_epochs: int = setting(200, help="linear KL warm-up length", at_least=0)
    grad_clip: float = setting(
        0.0,
        help="scale each step's gradient down to at most this L2 norm over all of a run's parameters, as "
        "torch.nn.utils.clip_grad_norm_() (0: off, the paper's; the ADGM authors' code clips)",
        at_least=0.0,
        before_it_existed=0.0,
    )
    ema: float = setting(
        0.0,
        help="keep an exponential moving average of the weights, each step avg <- ema * avg + (1 - ema) * weights, "
        "and evaluate, select, export and predict with it instead of the last step's weights (0: off, the "
        "paper's; 0.999 averages over about the last 1,000 steps); training itself is unchanged",
        at_least=0.0,
        below=1.0,
        before_it_existed=0.0,
    )
    eval_every: int = setting(1, help="validate and checkpoint every N epochs", at_least=1, resumable=True)
    checkpoint_seconds: float = setting(
        0.0,
        help="at an evaluation, write the resume point (last.pt) only once this many seconds of training have "
        "passed since the last one (0: at every evaluation); the last epoch and a --time-limit stop always write "
        "it; after a crash the run repeats the epochs since, exactly",
        at_least=0,
        resumable=True,
    )
    select: str = setting(
        "auto",
        help="which epoch's model to keep as best: val-accuracy (labeled validation), val-elbo (the ELBO of "
        "held-out examples, no labels needed), last; auto: val-accuracy when validation is labeled, else last",
        choices=_selections,
        before_it_existed="auto",
    )
    device: str = setting("auto", help="auto, cpu or cuda", group="run", resumable=True)
    precision: str = setting(
        "auto",
        help="matrix products of the training step; auto: what was measured fastest on the device kind (a CPU with "
        "AVX-512 BF16 or AMX: bf16 autocast; other CPUs and CUDA: fp32); tf32: TensorFloat-32 products, CUDA only; "
        "a resumed run keeps its own. Evaluation stays fp32",
        choices=lambda: ["auto", *PRECISIONS],
    )
    compile: str = setting(
        "auto",
        help="torch.compile the training step (auto: on for CUDA, off for CPU); a failure falls back to eager",
        choices=COMPILE_MODES,
        resumable=True,
    )
    cuda_graphs: str = setting(
        "auto",
        help="record the whole training step once as a CUDA graph and replay it (auto: on for CUDA, off for CPU); "
        "the same numbers as eager steps; a capture or self-check failure falls back to eager",
        choices=GRAPH_MODES,
        resumable=True,
    )
    features: str = setting(
        NO_FEATURES,
        help="a feature stage trained first, without labels, on every training input; the model then trains on its "
        "code (Gaussian likelihood) instead of the inputs: none (the inputs), m1 (Kingma et al.'s M1: 600-600, "
        "z = 50), or calder (Calder et al.'s VAE for graphs: 400, z = 30)",
        choices=lambda: [NO_FEATURES, *FEATURES],
        group="features",
        before_it_existed=NO_FEATURES,
    )
    feature_epochs: int = setting(
        100,
        help="epochs of the feature stage",
        at_least=1,
        group="features",
        before_it_existed=100,
        shown_when="features",
    )
    feature_code: str = setting(
        "mean",
        help="what the model sees of the stage's q(z|x): its mean, or a fresh sample every step (as Kingma et al.); "
        "evaluation and prediction always use the mean",
        choices=lambda: CODES,
        group="features",
        before_it_existed="mean",
        shown_when="features",
    )
    features_dir: str | None = setting(
        None,
        help="folder where feature stages are trained and shared by every run with the same inputs, seed and "
        "stage settings (sweeps and reproduce: OUT/features); each run directory keeps a copy of its own",
        group="features",
        resumable=True,
    )
    model_options: dict[str, Any] = setting(
        default_factory=dict,
        help="the model's own options (ssvae.core.models.MODEL_OPTIONS), e.g. {'likelihood': 'gaussian'}",
        cli=False,
    )


@dataclass
class TrainConfig(ObjectiveSettings, RunSettings):
    """Every setting of a run: `RunSettings`' fields, then `ObjectiveSettings`' (dataclasses order a class's
    fields from its last base to its first)."""

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["adam_betas"] = list(self.adam_betas)
        return d


SETTINGS = declared(TrainConfig)
FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
# Settings that say how a user's own files are read (`ssvae.data.load_dataset`'s keywords, with the seed).
SOURCE_SETTINGS = [name for name, s in SETTINGS.items() if s.group == "data"]
# Settings that may change when a run is resumed (e.g. to train longer, or on another machine).
RESUMABLE_CHANGES = {name for name, s in SETTINGS.items() if s.resumable}
# Settings added after runs were made, with the behaviour runs had before: a run directory without them in its
# config.json resumes only under that behaviour (e.g. weighting "mean"), never silently under a new default.
BEFORE_THEY_EXISTED = {name: s.before_it_existed for name, s in SETTINGS.items() if s.before_it_existed is not ALWAYS}
# Settings that may differ between runs stacked into one step (besides the seed): the objective's per-run ones.
PER_RUN = {name for name, s in SETTINGS.items() if s.per_run}


def source_options(settings: dict[str, Any]) -> dict[str, Any]:
    """`load_dataset`'s keywords from a run's settings (a TrainConfig as a dict, or a recorded config.json's)."""
    return {name: settings[name] for name in [*SOURCE_SETTINGS, "seed"] if settings.get(name) is not None}


def check_config(cfg: TrainConfig, spell: Spelling = python_name) -> None:
    """Every setting against its declaration, and the model's options against the model; messages spell the
    settings as `spell` does (`ssvae.settings.flag_name` on the command line)."""
    check(cfg, spell)
    model_config(cfg.model, spell, **cfg.model_options)


def shown(cfg: TrainConfig, name: str) -> bool:
    """Whether a setting means anything for this run (beta and gamma only with MIER on)."""
    switch = SETTINGS[name].shown_when if name in SETTINGS else None
    return switch is None or is_on(getattr(cfg, switch))


def default_of(name: str) -> Any:
    """A setting's declared default."""
    f = FIELDS[name]
    return f.default_factory() if f.default is MISSING else f.default


def idle_settings(cfg: TrainConfig) -> list[str]:
    """The settings that have no effect in this run and differ from their defaults (beta without MIER...)."""
    return [n for n in SETTINGS if not shown(cfg, n) and getattr(cfg, n) != default_of(n)]


def effective(cfg: TrainConfig) -> TrainConfig:
    """A run's identity: the settings that have no effect in it put back at their defaults, so that commands and
    grid points that train the same thing name, group, record and resume the same run."""
    idle = idle_settings(cfg)
    cfg = dataclasses.replace(cfg, **{n: default_of(n) for n in idle}) if idle else cfg
    return with_table_likelihood(cfg)


def with_table_likelihood(cfg: TrainConfig) -> TrainConfig:
    """A table's standardised columns are modelled with a Gaussian decoder (the estimator's likelihood="auto" for
    tables), unless the run names its own likelihood."""
    if not (is_table(cfg.dataset) and takes_option(cfg.model, "likelihood") and "likelihood" not in cfg.model_options):
        return cfg
    return dataclasses.replace(cfg, model_options={**cfg.model_options, "likelihood": TABLE_LIKELIHOOD})
