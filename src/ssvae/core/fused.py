"""The Bernoulli log-likelihood as one autograd Function: the CPU step's largest non-product cost, fused."""

from __future__ import annotations

import torch
from torch import Tensor


class BernoulliLogLik(torch.autograd.Function):
    """sum_d [x_d l_d - softplus(l_d)] = sum_d log Bernoulli(x_d; sigmoid(l_d)), with its gradient x - sigmoid(l).

    The same density as torch.distributions.Bernoulli(logits=l).log_prob(x).sum(-1), but on the CPU it is a
    sixth of the M2 step's time that way: this torch's log_sigmoid and log1p kernels are not vectorised (7-8 ms
    for [200, 10, 784] logits, against 0.7 ms for exp), and autograd keeps several full-size temporaries.
    Here `softplus(l) = max(l, 0) + log(1 + exp(-|l|))` runs in place on two buffers, and the backward is one
    sigmoid (benchmarks/RESULTS.md, 'Cutting the CPU step'). `log(1 + e)` for `e = exp(-|l|) <= 1` is within
    1e-7 of log1p(e), which is far below the float32 rounding of the 784-term sum.
    """

    generate_vmap_rule = True  # stacked runs (ssvae.training.stacked) vmap the step through this function

    @staticmethod
    def forward(logits: Tensor, x: Tensor) -> Tensor:
        if torch.compiler.is_compiling():  # inductor fuses the chain itself; in-place steps would only stop
            # its tracing (a compiled, vmapped step records them for autograd and refuses the in-place exp)
            return (x * logits - logits.clamp(min=0) - torch.log1p(torch.exp(-logits.abs()))).sum(-1)
        softplus = logits.abs().neg_().exp_().add_(1.0).log_().add_(logits.clamp(min=0))
        return softplus.sub_(logits * x).sum(-1).neg_()  # addcmul_ has no vmap batching rule

    @staticmethod
    def setup_context(ctx, inputs: tuple[Tensor, Tensor], output: Tensor) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        logits, x = ctx.saved_tensors
        g = grad.unsqueeze(-1)
        grad_logits = None
        if ctx.needs_input_grad[0]:
            compiling = torch.compiler.is_compiling()
            grad_logits = (x - torch.sigmoid(logits)) * g if compiling else torch.sigmoid(logits).neg_().add_(x).mul_(g)
        grad_x = None
        if ctx.needs_input_grad[1]:  # x broadcast against the logits: sum the gradient back to x's shape
            full = logits * g
            dims = [i for i, (a, b) in enumerate(zip(x.shape, full.shape)) if a == 1 and b != 1]
            grad_x = full.sum(dims, keepdim=True) if dims else full
        return grad_logits, grad_x
