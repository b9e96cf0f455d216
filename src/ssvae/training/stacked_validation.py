"""Validation of R stacked runs in one vmapped no-grad pass and one read back to the host (issue 22, item 4).

One run at a time, validating a group costs R passes of small products and R reads, each a host stall on a GPU;
here the runs' stacked parameters go through one vmapped `predict_log_proba` per chunk of rows, each run on its own
validation images, and every run's numbers (`validation.watched_numbers`) come back in one `tolist`. Each run's
noise (ADGM's draws of a) comes from a generator seeded as `evaluation.metrics.predict_log_proba` seeds its own, in
the same order, so the numbers are a per-run pass's up to the float rounding of batched products (tested).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ..core import distributions
from ..core.distributions import NoiseTape
from ..data.device import to_unit
from ..measures.metrics import PREDICT_ROWS, chunks


class _Predict(nn.Module):
    """forward = log q(y|x), so that functional_call can swap in one run's parameters."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, noise: list[Tensor]) -> Tensor:
        return self.model.predict_log_proba(x, NoiseTape(noise))


class StackedValidation:
    """A stacked group's validation in one vmapped no-grad pass, each run on its own rows and noise."""

    def __init__(self, runs: list[Any], params: dict[str, Tensor], buffers: dict[str, Tensor]):
        """`runs`: the group's `run.Run`s; `params`, `buffers`: their stacked weights ([R, ...] each)."""
        self.runs, self.params, self.buffers = runs, params, buffers
        self.x = torch.stack([r.x_watch for r in runs])
        meta = copy.deepcopy(_Predict(runs[0].model)).to("meta").eval()
        # each chunk of rows with the shapes of the noise a prediction on it draws: recorded once, not per evaluation
        self.chunks = [
            (rows, _noise_shapes(runs[0].model, to_unit(self.x[0, rows])))
            for rows in chunks(self.x.shape[1], PREDICT_ROWS)
        ]

        def one(p, b, x, noise):
            return functional_call(meta, {f"model.{k}": v for k, v in {**p, **b}.items()}, (x, noise))

        self._batched = vmap(one, randomness="error")

    @torch.no_grad()
    def log_proba(self) -> Tensor:
        """q(y|x) of every run on its own validation images: [runs, rows, classes]."""
        gens = [torch.Generator(device=self.x.device).manual_seed(r.cfg.seed) for r in self.runs]
        params = {k: v.detach() for k, v in self.params.items()}
        out = []
        for rows, shapes in self.chunks:
            x = to_unit(self.x[:, rows])
            noise = [torch.stack([distributions.standard_normal(s, g, x) for g in gens]) for s in shapes]
            out.append(self._batched(params, self.buffers, x, noise))
        return torch.cat(out, 1)

    def rows(self) -> list[dict[str, Any]]:
        """Every run's evaluation row (`Run.log_evaluation`), their numbers read back together."""
        log_q = self.log_proba()
        values = torch.stack([r.watched(log_q[j]) for j, r in enumerate(self.runs)]).tolist()  # the one read
        return [r.log_evaluation(v) for r, v in zip(self.runs, values)]


@torch.no_grad()
def _noise_shapes(model: nn.Module, x: Tensor) -> list[tuple[int, ...]]:
    """The shapes, in order, of the noise one prediction on `x` draws (recorded with a dry pass)."""
    recorder = distributions.NoiseRecorder(x)
    model.eval()
    model.predict_log_proba(x, recorder)
    return recorder.shapes
