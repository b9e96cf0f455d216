"""Each term of eq. 1-9 against a closed form or an independent computation."""

import math

import pytest
import torch

from ssvae.models import build_model, model_config
from ssvae.models.base import Bound
from ssvae.objectives import (
    ObjectiveConfig,
    default_alpha,
    entropy,
    labeled_bound,
    mier_bound,
    mutual_information,
    semi_supervised_loss,
    unlabeled_bound,
    unlabeled_bound_kl,
)


def random_bound(b=7, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    log_qy = torch.log_softmax(3 * torch.randn(b, k, generator=g, dtype=torch.float64), -1)
    return Bound(
        log_qy,
        -100 * torch.rand(b, k, generator=g, dtype=torch.float64),
        10 * torch.rand(b, k, generator=g, dtype=torch.float64),
    )


@pytest.mark.parametrize("w", [0.0, 0.3, 1.0])
def test_eq2_equals_eq3(w):
    for seed in range(5):
        b = random_bound(seed=seed)
        torch.testing.assert_close(unlabeled_bound_kl(b, w), unlabeled_bound(b, w), rtol=0, atol=1e-10)


def test_labeled_bound_closed_form():
    b = Bound(torch.log_softmax(torch.zeros(2, 4), -1), torch.tensor([-10.0, -20.0]), torch.tensor([1.0, 2.0]))
    # L = log p(x|y,z) + log p(y) - KL, with p(y) = 1/4 and the KL scaled by the warm-up weight
    torch.testing.assert_close(labeled_bound(b, 0.5), torch.tensor([-10 - math.log(4) - 0.5, -20 - math.log(4) - 1.0]))


def test_unlabeled_bound_by_hand():
    q = torch.tensor([[0.25, 0.75]])
    b = Bound(q.log(), torch.tensor([[-4.0, -8.0]]), torch.tensor([[1.0, 3.0]]))
    l_per_class = [-4 - math.log(2) - 1, -8 - math.log(2) - 3]
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    expected = 0.25 * l_per_class[0] + 0.75 * l_per_class[1] + h
    assert unlabeled_bound(b).item() == pytest.approx(expected, abs=1e-6)
    assert unlabeled_bound_kl(b).item() == pytest.approx(expected, abs=1e-6)


def test_unlabeled_bound_is_below_best_class_bound_plus_entropy_bound():
    # U(x) <= log sum_y exp L(x,y): the bound on log p(x) can never beat the exact marginal of the L's
    for seed in range(5):
        b = random_bound(seed=seed)
        assert (unlabeled_bound(b) <= torch.logsumexp(labeled_bound(b), -1) + 1e-9).all()


def test_entropy_closed_form():
    k = 7
    assert entropy(torch.full((k,), -math.log(k))).item() == pytest.approx(math.log(k))
    q = torch.tensor([0.5, 0.25, 0.25])
    assert entropy(q.log()).item() == pytest.approx(1.5 * math.log(2))


def test_mutual_information_by_hand():
    q1, q2 = [0.9, 0.1], [0.2, 0.8]
    m = [(a + b) / 2 for a, b in zip(q1, q2)]

    def h(p):
        return -sum(v * math.log(v) for v in p)

    expected = h(m) - (h(q1) + h(q2)) / 2
    got = mutual_information(torch.tensor([q1, q2]).log()).item()
    assert got == pytest.approx(expected, abs=1e-6)
    assert expected > 0


def test_mutual_information_limits():
    k = 4
    # every x gets the same q(y|x): y carries no information about x
    same = torch.log_softmax(torch.randn(1, k), -1).expand(10, k)
    assert mutual_information(same).item() == pytest.approx(0.0, abs=1e-6)
    # confident and balanced over classes: I = log K
    onehot = torch.log_softmax(50 * torch.eye(k).repeat(3, 1), -1)
    assert mutual_information(onehot).item() == pytest.approx(math.log(k), abs=1e-4)


def test_mier_bound_matches_eq7():
    log_qy = torch.log_softmax(torch.randn(8, 3), -1)
    u = torch.randn(8)
    expected = u.mean() + 2.0 * mutual_information(log_qy) - 5.0 * entropy(log_qy).mean()
    torch.testing.assert_close(mier_bound(u, log_qy, beta=5.0, gamma=2.0), expected)


@pytest.mark.parametrize("seed", range(5))
def test_mier_gradient_step_raises_mi_and_lowers_entropy(seed):
    logits = (0.5 * torch.randn(64, 10, generator=torch.Generator().manual_seed(seed))).requires_grad_()
    log_qy = torch.log_softmax(logits, -1)
    mi0, h0 = mutual_information(log_qy).item(), entropy(log_qy).mean().item()
    # the MIER term alone: maximise gamma I - beta H, i.e. descend on its negation
    reg = mier_bound(torch.zeros(64), log_qy, beta=5.0, gamma=1.0)
    (-reg).backward()
    with torch.no_grad():
        log_qy1 = torch.log_softmax(logits - 0.1 * logits.grad, -1)
    assert mutual_information(log_qy1).item() > mi0
    assert entropy(log_qy1).mean().item() < h0


def test_default_alpha():
    # Fashion-MNIST, 100 labels per class: 54000 unlabeled / 200 = 270 batches, 1000 labeled / 200 = 5
    assert default_alpha(270, 5) == pytest.approx(5.4)


def test_mier_loss_differs_from_plain_loss_by_exactly_the_regulariser():
    torch.manual_seed(0)
    model = build_model("m2", 16, 3, model_config("m2", z_dim=2, hidden=8, classifier_hidden=8), seed=0)
    xl, yl, xu = torch.rand(5, 16), torch.tensor([0, 1, 2, 0, 1]), torch.rand(6, 16)
    cfg = ObjectiveConfig(mier=False, alpha=0.7)
    plain, _ = semi_supervised_loss(model, xl, yl, xu, torch.Generator().manual_seed(1), cfg, 0.5)
    cfg_m = ObjectiveConfig(mier=True, beta=5.0, gamma=1.0, alpha=0.7)
    mier, stats = semi_supervised_loss(model, xl, yl, xu, torch.Generator().manual_seed(1), cfg_m, 0.5)
    # loss = -J2 = -J - gamma I + beta H
    torch.testing.assert_close(mier - plain, -stats["mi"] + 5.0 * stats["entropy"])
    assert stats["mi"] > 0 and stats["entropy"] > 0
