"""
MIER's two terms on a minibatch
===============================

MIER adds to the unlabeled bound U(x) the minibatch mutual information I(y;x) and an entropy penalty
(eq. 7-8): M(x) = U(x) + gamma * I(y;x) - beta * H(q(y|x)), with I(y;x) = H(mean_b q(y|x_b)) - mean_b H(q(y|x_b)).
Here the two terms are computed by `ssvae.core.objectives` on two kinds of classifier output over a batch of 200
inputs and 10 classes, from uncertain (sharpness 0: every prediction near uniform) to confident: predictions
spread over the classes (what MIER rewards), and predictions collapsed onto one class (the failure of plain M2 at
few labels). The entropy term cannot tell the two apart; the mutual information can: only spread, confident
predictions have a high I(y;x).
"""

import matplotlib.pyplot as plt
import torch

from ssvae.core.objectives import entropy, mutual_information

torch.manual_seed(0)
batch, classes = 200, 10
sharpness = torch.linspace(0.0, 8.0, 17)  # how far the logits stand apart, from uniform to confident
kinds = {"confident, spread": torch.arange(batch) % classes, "collapsed onto one class": torch.zeros(batch).long()}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for label, winners in kinds.items():
    mi, h = [], []
    for s in sharpness:
        logits = 0.3 * torch.randn(batch, classes) + s * torch.nn.functional.one_hot(winners, classes)
        log_q = torch.log_softmax(logits, dim=1)
        mi.append(float(mutual_information(log_q)))
        h.append(float(entropy(log_q).mean()))
    axes[0].plot(sharpness, mi, marker="o", label=label)
    axes[1].plot(sharpness, h, marker="o", label=label)
axes[0].axhline(torch.log(torch.tensor(10.0)), color="grey", ls="--", lw=1, label="log 10 (its maximum)")
axes[0].set(xlabel="sharpness of q(y|x)", ylabel="I(y;x), nats", title="mutual information (eq. 8)")
axes[1].set(xlabel="sharpness of q(y|x)", ylabel="mean H(q(y|x)), nats", title="entropy penalty's term")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()
