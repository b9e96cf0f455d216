"""`SemiSupervisedClassifier`: a scikit-learn estimator over the same training Run as `ssvae train`.

Unlabeled rows are marked `y == -1`, as in `sklearn.semi_supervised`. The estimator only turns arrays into a
data set and a split (`ssvae.fit_inputs`) and trains a run on them in memory (`ssvae.training.loop.fit_in_memory`:
its feature stage, if any, then the model, by the one epoch loop), keeping what comes back; no second loop.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import fit_inputs as inputs
from .data import is_unlabeled, resolve_device
from .data.preprocess import Preprocessing, choose_likelihood
from .errors import SSVAEError
from .files import check_writable_folder
from .measures.metrics import predict_log_proba
from .records.saved import load_model, save_model
from .saved_estimator import restore_fitted, saved_params, saved_record
from .training.loop import fit_in_memory
from .training.time_estimate import announce
from .training.watch import QUIET, Watch


class SemiSupervisedClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Semi-supervised classification with a deep generative model (M2, ADGM, Ladder-VAE) and MIER.

    Parameters mirror `ssvae train`'s flags (the manual's CLI reference); the ones that matter most are below.
    Rows of `y` equal to -1 are unlabeled, as in `sklearn.semi_supervised`.

    Parameters
    ----------
    model
        "m2", "adgm", "lvae", or "classifier" (q(y|x) alone, trained on the labeled rows: the baseline).
    features
        "auto" (default), None, "m1" or "calder". "m1": first train Kingma et al.'s unsupervised VAE M1 (600-600,
        z = 50; "calder": Calder et al.'s, 400, z = 30) on every row of X for `feature_epochs`, then `model` on its
        code (`feature_code`); predict, transform, sample and save go through both stages. "auto": for at least
        10000 rows of intensities (images), "calder" taught by the graph at few labels per class (`teacher`), else
        "m1" up to 30 labels per class, else None (what measured best: the guide; `features_` says which).
    epochs, feature_epochs, batch_size
        passes of the model's and of the feature stage's training. "auto" (default): enough for about 5,000 (stage 1:
        9,000) optimizer steps, at least 20 (30) and at most 100, and the model at least 1,000 steps, in batches of an
        eighth of the unlabeled rows, 16 to 200 (`ssvae.training.auto`: what was measured); a fit with fewer steps
        than the rule says so (verbose) and warns (ConvergenceWarning).
    mier
        add the MIER regulariser (eq. 7/9) with weights `beta` (entropy) and `gamma` (mutual information). Off
        by default: where labels are scarce, validation preferred M2 without it (Fashion-MNIST, 10 labels per class,
        on M1's code: 72.4% against 69.3%; digits: 93.1% against 92.4%; the manual's findings).
    teacher
        the graph teacher's weight (0: off): before the model trains, Poisson learning labels the unlabeled rows on
        the k-nearest-neighbour graph of the feature stage's code (or of X), and q(y|x) is pulled towards those
        classes by their confidence; needs `ssvae[graph]`; prediction needs no graph. "auto" (default): 0.01 on
        the "calder" stage `features="auto"` picks where it measured best, else 0 (`teacher_` says which).
    enumerate_top
        the unlabeled rows' bound over only the k classes q(y|x) gives most mass, q renormalised on them: about
        k/K of their generative work (0: every class, the paper's; the manual's math page). "auto" (default): 2
        with at least 10 classes, where it measured level at half of stage 2's time, else 0 (`enumerate_top_`).
    ema
        keep an exponential moving average of the weights (decay `ema` per step, 0: off, the default) and
        predict with it; training is unchanged. A warm start begins a new average from the fitted weights.
    weighting, alpha
        how eq. 4/9's terms are weighted; "sum" with alpha = 0.1 N by default (the manual's math page).
    likelihood
        "auto" models [0, 1] intensities and uint8 images with a Bernoulli decoder, and any other
        features, standardised inside the estimator, with a Gaussian one; or "bernoulli", "gaussian",
        "continuous-bernoulli".
    early_stopping
        which epoch's model to keep. False (default): the last; right when no labels can be spared
        and training is stable (as measured for the defaults: the manual's findings). True: hold out
        `validation_fraction` of the labeled rows (per class) and keep the most accurate epoch, as MLPClassifier
        does; right when labels are plentiful enough that losing some costs less than picking a bad epoch. "elbo":
        hold out `validation_fraction` of the unlabeled rows and keep the epoch with the best ELBO on them; needs
        no labels, but the ELBO tracks how well x is modelled, not accuracy, so it guards against overfitting the
        data, not the labels.
    warm_start
        a second `fit` continues from the fitted model (and optimizer) instead of starting over.
    random_state
        seeds the split, the initialisation and the batch order and noise; None draws a seed.
    verbose
        report progress: a tqdm bar on a terminal, one line per epoch without one (a notebook's log, a job).
    tensorboard_dir
        write the fit's curves (losses, L, U, I, H, validation metrics, lr, KL weight) and, each
        epoch, reconstructions and samples as TensorBoard events into this folder (needs `ssvae[tensorboard]`).
    """

    def __init__(
        self,
        model: str = "m2",
        mier: bool = False,
        features: str | None = "auto",
        feature_epochs: int | str = "auto",
        feature_code: str = "mean",
        beta: float = 5.0,
        gamma: float = 1.0,
        alpha: float | None = None,
        weighting: str = "sum",
        epochs: int | str = "auto",
        batch_size: int | str = "auto",
        lr: float = 1e-3,
        ema: float = 0.0,
        teacher: float | str = "auto",
        enumerate_top: int | str = "auto",
        warmup_epochs: int | None = None,
        likelihood: str = "auto",
        precision: str = "auto",
        device: str = "auto",
        hidden: int | None = None,
        z_dim: int | None = None,
        classifier_hidden: int | None = None,
        early_stopping: bool | str = False,
        validation_fraction: float = 0.1,
        warm_start: bool = False,
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
        tensorboard_dir: str | None = None,
    ):
        self.model = model
        self.mier = mier
        self.features = features
        self.feature_epochs = feature_epochs
        self.feature_code = feature_code
        self.beta = beta
        self.gamma = gamma
        self.alpha = alpha
        self.weighting = weighting
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.ema = ema
        self.teacher = teacher
        self.enumerate_top = enumerate_top
        self.warmup_epochs = warmup_epochs
        self.likelihood = likelihood
        self.precision = precision
        self.device = device
        self.hidden = hidden
        self.z_dim = z_dim
        self.classifier_hidden = classifier_hidden
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.tensorboard_dir = tensorboard_dir

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # latent means come out as float32, as the network
        tags.non_deterministic = self.random_state is None
        return tags

    def fit(self, X, y) -> "SemiSupervisedClassifier":
        """Train on `X` with labels `y`: both stages when there is a feature stage, then keep the chosen epoch's model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, H, W, C)
            Every row, labeled or not: images as uint8 or intensities in [0, 1], or any real-valued features.
        y : array-like of shape (n_samples,)
            The labels, integers or strings; -1 (or "-1") marks a row without one.

        Returns
        -------
        self : SemiSupervisedClassifier
            Fitted: `model_`, `classes_`, `features_`, `teacher_`, `enumerate_top_`, `history_`, `best_epoch_`.
        """
        return self._fit(X, y, None, warm=self.warm_start and hasattr(self, "model_"))

    def partial_fit(self, X, y, classes=None) -> "SemiSupervisedClassifier":
        """One more epoch on (`X`, `y`), continuing from the fitted model and its optimizer.

        Parameters
        ----------
        X, y
            As for `fit`.
        classes : array-like, optional
            All the classes, on the first call, when its `y` does not show them all (as scikit-learn's `partial_fit`).

        Returns
        -------
        self : SemiSupervisedClassifier
        """
        if not hasattr(self, "model_") and classes is not None:
            self._fixed_classes = np.unique(np.asarray(classes))
        return self._fit(X, y, 1, warm=hasattr(self, "model_"))

    def _fit(self, X, y, epochs: int | None, warm: bool) -> "SemiSupervisedClassifier":
        """`epochs`: None for the `epochs` parameter (partial_fit: 1)."""
        params = self.get_params()
        inputs.check_params(
            params, {k: v.default for k, v in inspect.signature(type(self).__init__).parameters.items()}
        )
        if warm:
            inputs.check_warm_start(self.network_, params)
        if self.tensorboard_dir is not None:
            check_writable_folder(self.tensorboard_dir, "tensorboard_dir")
        x = inputs.check_X(X) if not warm else self._check_X(X)
        codes, classes = inputs.encode_y(x, y, self.classes_ if warm else getattr(self, "_fixed_classes", None))
        seed = self.seed_ if warm else int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        per_class = inputs.labels_per_class(codes, classes)
        if not warm:
            self.n_features_in_ = int(np.prod(x.shape[1:]))
            self.likelihood_ = choose_likelihood(x, self.likelihood)
            self.preprocessing_ = Preprocessing.fit(x, self.likelihood_)
            choices = inputs.auto_choices(params, len(x), self.likelihood_, per_class, len(classes))
            self.features_, self.teacher_, self.enumerate_top_ = choices
        xp = self.preprocessing_.transform(x)
        ds, split, select = inputs.fit_data(xp, codes, classes, self.preprocessing_, params, seed)
        params = {**params, "teacher": self.teacher_, "enumerate_top": self.enumerate_top_}
        cfg = inputs.fit_config(params, self.features_, self.likelihood_, seed, epochs, select, split, per_class)
        init = self.train_state_ if warm else None
        watch = dataclasses.replace(Watch() if self.verbose else QUIET, tensorboard=self.tensorboard_dir)
        if self.verbose:
            announce(cfg, xp.shape[1], len(classes), len(split.labeled), len(split.unlabeled), init is not None)
        trained = fit_in_memory(cfg, (ds, split), init, watch)
        self.train_state_, self.network_ = trained.resume, {k: getattr(self, k) for k in inputs.NETWORK_PARAMS}
        self.model_, self.classes_, self.seed_, self.config_ = trained.model, classes, seed, trained.record
        self.history_ = (self.history_ if warm else []) + trained.history
        self.best_epoch_ = trained.best_epoch
        self.n_iter_ = (self.n_iter_ if warm else 0) + trained.epochs
        if epochs is None:  # fit, not partial_fit (one epoch by design)
            inputs.warn_if_too_few(cfg, len(split.unlabeled))
        return self

    def _check_X(self, X) -> np.ndarray:
        """X with the fitted number of features (`fit_inputs.check_X`)."""
        return inputs.check_X(X, self.n_features_in_, self.preprocessing_.input_shape, type(self).__name__)

    def _tensor(self, X) -> torch.Tensor:
        check_is_fitted(self, "model_")
        x = self.preprocessing_.transform(self._check_X(X))
        return torch.from_numpy(x).to(next(self.model_.parameters()).device)

    def predict_log_proba(self, X) -> np.ndarray:
        """log q(y|x) of each row, in the order of `classes_` (ADGM: averaged over draws of a, seeded).

        Parameters
        ----------
        X : array-like
            Rows in the units and shape the estimator was fitted on.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        x = self._tensor(X)
        out = predict_log_proba(self.model_, x, seed=self.seed_).double().cpu().numpy()
        if not np.isfinite(out).all():  # NaN probabilities would pass for predictions (class 0) downstream
            raise SSVAEError("the model's predictions are not finite (NaN): its weights have diverged; fit it again")
        return out

    def predict_proba(self, X) -> np.ndarray:
        """q(y|x) of each row, in the order of `classes_`: the classifier of the generative model.

        Parameters
        ----------
        X : array-like
            Rows in the units and shape the estimator was fitted on.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Each row sums to 1.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row under q(y|x).

        Parameters
        ----------
        X : array-like
            Rows in the units and shape the estimator was fitted on.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from `classes_` (the labels `fit` saw, strings included).
        """
        check_is_fitted(self, "model_")
        return self.classes_[self.predict_log_proba(X).argmax(1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on the labeled rows of `y`: rows marked -1 are left out, so that a semi-labeled `y` can be scored.

        Parameters
        ----------
        X : array-like
        y : array-like of shape (n_samples,)
        sample_weight : array-like, optional

        Returns
        -------
        float
            The fraction of labeled rows predicted correctly.
        """
        y = column_or_1d(y)
        keep = ~is_unlabeled(y)
        w = None if sample_weight is None else np.asarray(sample_weight)[keep]
        return super().score(np.asarray(X)[keep], y[keep], sample_weight=w)

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """The inference network's latent means, mixed over q(y|x): features for plots and downstream models.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples, z_dim)
        """
        x = self._tensor(X)
        return torch.cat([self.model_.latent_mean(x[i : i + 2000]) for i in range(0, len(x), 2000)]).cpu().numpy()

    @torch.no_grad()
    def sample(self, n: int, y=None, random_state: int | None = None) -> np.ndarray:
        """Draws of the mean of p(x|y,z), z from the prior, in the units and shape of `X`.

        Parameters
        ----------
        n : int
            How many.
        y : label, array-like of n labels, or None
            One class for all draws, a class per draw, or None for classes drawn uniformly.
        random_state : int, optional
            Seeds the draws of z (and of y).

        Returns
        -------
        ndarray of shape (n, *input_shape)
        """
        check_is_fitted(self, "model_")
        if self.model_.supervised_only:
            raise ValueError("model='classifier' has no generative part to sample from")
        rng = check_random_state(random_state)
        if y is None:
            codes = rng.randint(len(self.classes_), size=n)
        else:
            names = np.resize(np.asarray(y, dtype=self.classes_.dtype), n)
            if not np.isin(names, self.classes_).all():
                raise ValueError(f"y must name classes among {list(self.classes_)}")
            codes = np.searchsorted(self.classes_, names)
        device = next(self.model_.parameters()).device
        gen = torch.Generator(device=device).manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        out = self.model_.sample(torch.as_tensor(codes, device=device), gen).float().cpu().numpy()
        return self.preprocessing_.inverse(out)

    def save(self, directory: str | Path) -> Path:
        """Write the fitted estimator as `directory/config.json` and `directory/model.safetensors`: no pickle.

        Parameters
        ----------
        directory : str or Path
            Created if needed; `SemiSupervisedClassifier.load(directory)` and `ssvae predict directory ...` read it.

        Returns
        -------
        Path
            The directory.
        """
        check_is_fitted(self, "model_")
        meta, info = saved_record(self)
        return save_model(directory, self.model_.state_dict(), self.model, meta, self.preprocessing_.to_json(), info)

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> "SemiSupervisedClassifier":
        """A fitted estimator from `save`'s directory, or from a run directory's exported model, ready to predict. Every
        field and tensor is checked before use; a damaged file is named in one line.

        Parameters
        ----------
        directory : str or Path
        device : str
            "auto", "cpu" or "cuda".

        Returns
        -------
        SemiSupervisedClassifier
        """
        model, config, pre = load_model(directory, resolve_device(device))
        params = saved_params(config, directory, cls._get_param_names())
        est = cls(**params)
        est.device = device
        restore_fitted(est, model, config, pre, params)
        return est


__all__ = ["SemiSupervisedClassifier", "SSVAEError"]
