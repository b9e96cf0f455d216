"""Each term of eq. 1-9 against a closed form or an independent computation."""

import math

import pytest
import torch
from conftest import DEVICE

from ssvae.core.interface import Bound, SemiSupervisedVAE, enumerated_classes
from ssvae.core.models import build_model, model_config
from ssvae.core.objectives import (
    ObjectiveConfig,
    TermWeights,
    default_alpha,
    entropy,
    labeled_bound,
    mean_weights,
    mier_bound,
    mutual_information,
    semi_supervised_loss,
    sum_weights,
    unlabeled_bound,
    unlabeled_bound_kl,
)


@pytest.fixture(autouse=True)
def on_test_device():
    """Tensors these tests create without naming a device land on SSVAE_TEST_DEVICE: the math runs there."""
    torch.set_default_device(DEVICE)
    yield
    torch.set_default_device(None)


def random_bound(b=7, k=5, seed=0):
    g = torch.Generator(DEVICE).manual_seed(seed)
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


def test_the_warmed_entropy_bonus_by_hand():
    """--warmup-entropy: U = E_q[L(x,y) with the KLs scaled by w] + w H(q(y|x)); w = 1 is eq. 3 itself."""
    q = torch.tensor([[0.25, 0.75]])
    b = Bound(q.log(), torch.tensor([[-4.0, -8.0]]), torch.tensor([[1.0, 3.0]]))
    w = 0.4
    l_per_class = [-4 - math.log(2) - w * 1, -8 - math.log(2) - w * 3]
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    expected = 0.25 * l_per_class[0] + 0.75 * l_per_class[1] + w * h
    assert unlabeled_bound(b, w, w).item() == pytest.approx(expected, abs=1e-6)
    assert unlabeled_bound(b, w, w).item() == pytest.approx(unlabeled_bound(b, w).item() - (1 - w) * h, abs=1e-6)
    assert torch.equal(unlabeled_bound(b, 1.0, 1.0), unlabeled_bound(b))


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
    logits = (0.5 * torch.randn(64, 10, generator=torch.Generator(DEVICE).manual_seed(seed))).requires_grad_()
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


W = TermWeights(1.0, 1.0, 0.7, 0.7)


@pytest.mark.parametrize("mier", [False, True])
def test_warming_the_entropy_changes_the_loss_by_exactly_the_unweighted_part_of_the_bonus(mier):
    torch.manual_seed(0)
    model = build_model("m2", 16, 3, model_config("m2", z_dim=2, hidden=8, classifier_hidden=8), seed=0).to(DEVICE)
    xl, yl, xu = torch.rand(5, 16), torch.tensor([0, 1, 2, 0, 1]), torch.rand(6, 16)
    w = TermWeights(0.3, 0.7, 0.5, 0.5)
    for kl_weight in (0.25, 1.0):
        loss = {}
        for warm in (False, True):
            cfg = ObjectiveConfig(mier=mier, beta=5.0, gamma=1.0, weights=w, warmup_entropy=warm)
            loss[warm], stats = semi_supervised_loss(
                model, xl, yl, xu, torch.Generator(DEVICE).manual_seed(1), cfg, kl_weight
            )
        # -J grows by the unlabeled weight x (1 - w) x the batch's mean entropy; MIER's own terms are untouched
        gap = w.unlabeled * (1 - kl_weight) * float(stats["entropy"])
        assert float(loss[True] - loss[False]) == pytest.approx(gap, rel=1e-5, abs=1e-7)
        if kl_weight == 1.0:
            assert torch.equal(loss[True], loss[False])


def test_mier_loss_differs_from_plain_loss_by_exactly_the_regulariser():
    torch.manual_seed(0)
    model = build_model("m2", 16, 3, model_config("m2", z_dim=2, hidden=8, classifier_hidden=8), seed=0).to(DEVICE)
    xl, yl, xu = torch.rand(5, 16), torch.tensor([0, 1, 2, 0, 1]), torch.rand(6, 16)
    cfg = ObjectiveConfig(mier=False, weights=W)
    plain, _ = semi_supervised_loss(model, xl, yl, xu, torch.Generator(DEVICE).manual_seed(1), cfg, 0.5)
    cfg_m = ObjectiveConfig(mier=True, beta=5.0, gamma=1.0, weights=W)
    mier, stats = semi_supervised_loss(model, xl, yl, xu, torch.Generator(DEVICE).manual_seed(1), cfg_m, 0.5)
    # loss = -J2 = -J - gamma I + beta H
    torch.testing.assert_close(mier - plain, -stats["mi"] + 5.0 * stats["entropy"])
    assert stats["mi"] > 0 and stats["entropy"] > 0


# --------------------------------------------------------------------------------------------------------
# Eq. 4 / 9 with sums, against J built by hand (plain floats, per example) on a tiny data set


class TableModel(SemiSupervisedVAE):
    """Bound pieces looked up per example (x[:, 0] is the example's row): a deterministic model."""

    def __init__(self, logits, log_px, kl):
        super().__init__()
        self.logits, self.log_px, self.kl = logits, log_px, kl
        self.num_classes = logits.shape[1]

    def bound(self, x, y, gen, top=0):
        i = x[:, 0].long()
        log_qy = torch.log_softmax(self.logits[i], -1)
        if y is None:
            classes, kept = enumerated_classes(log_qy, None, top)
            return Bound(log_qy, self.log_px[i].gather(1, classes), self.kl[i].gather(1, classes), kept)
        return Bound(log_qy, self.log_px[i, y], self.kl[i, y])


def _table(n, k, seed):
    g = torch.Generator(DEVICE).manual_seed(seed)
    return (
        2 * torch.randn(n, k, generator=g, dtype=torch.float64),
        -50 - 10 * torch.rand(n, k, generator=g, dtype=torch.float64),
        5 * torch.rand(n, k, generator=g, dtype=torch.float64),
    )


def _hand_j(model, lab, labels, unl, alpha, w, beta=0.0, gamma=0.0, top=0):
    """J = sum_L L + sum_U M + alpha sum_L log q(y|x), term by term in plain Python (eq. 1, 3, 7, 8, 9). With `top`
    = t < K each unlabeled row's U is eq. 3 over its t most probable classes, q renormalised over them; MIER's
    I and H keep the whole q (--enumerate-top)."""
    k = model.num_classes

    def q(i):
        row = [float(v) for v in model.logits[i]]
        m = max(row)
        z = sum(math.exp(v - m) for v in row)
        return [math.exp(v - m) / z for v in row]

    def big_l(i, c):
        return float(model.log_px[i, c]) - math.log(k) - w * float(model.kl[i, c])

    j_lab = sum(big_l(i, c) for i, c in zip(lab, labels))
    j_cls = sum(math.log(q(i)[c]) for i, c in zip(lab, labels))

    def kept(i):  # class -> q renormalised over the row's `top` most probable classes (all of them: q itself)
        order = sorted(range(k), key=lambda c: -q(i)[c])[: top if 0 < top < k else k]
        mass = sum(q(i)[c] for c in order)
        return {c: q(i)[c] / mass for c in order}

    ent = [-sum(p * math.log(p) for p in q(i)) for i in unl]
    u_ent = [-sum(p * math.log(p) for p in kept(i).values()) for i in unl]
    j_unl = sum(sum(p * big_l(i, c) for c, p in kept(i).items()) for i in unl) + sum(u_ent)
    marg = [sum(q(i)[c] for i in unl) / len(unl) for c in range(k)]
    mi = -sum(p * math.log(p) for p in marg) - sum(ent) / len(unl)
    j_unl += len(unl) * gamma * mi - beta * sum(ent)
    return j_lab + j_unl + alpha * j_cls


def _rows(idx):
    return torch.tensor(idx, dtype=torch.float64).unsqueeze(1)


@pytest.mark.parametrize("mier", [False, True])
@pytest.mark.parametrize("kl_weight", [1.0, 0.3])
def test_sum_weighting_on_whole_data_sets_is_j_over_n(mier, kl_weight):
    k, lab, unl = 3, [0, 1, 2, 3], [4, 5, 6, 7, 8, 9]
    model = TableModel(*_table(10, k, seed=1))
    labels = [2, 0, 1, 1]
    w = sum_weights(len(lab), len(unl))
    assert w.alpha == pytest.approx(0.1 * 10)  # Kingma et al.: alpha = 0.1 N
    cfg = ObjectiveConfig(mier=mier, beta=5.0, gamma=1.0, weights=w)
    loss, _ = semi_supervised_loss(model, _rows(lab), torch.tensor(labels), _rows(unl), None, cfg, kl_weight)
    j = _hand_j(model, lab, labels, unl, w.alpha, kl_weight, *((5.0, 1.0) if mier else (0.0, 0.0)))
    assert float(loss) == pytest.approx(-j / 10, rel=1e-9)


@pytest.mark.parametrize("mier", [False, True])
def test_kl_scale_weighs_every_continuous_kl_and_nothing_else(mier):
    """--kl-scale s at warm-up weight w is eq. 1-3 with the KLs of L(x,y) and of U(x)'s every class weighed s w;
    U's entropy bonus, the label term and MIER's terms keep their weights."""
    k, lab, unl = 3, [0, 1, 2, 3], [4, 5, 6, 7, 8, 9]
    model = TableModel(*_table(10, k, seed=3))
    labels = [1, 2, 0, 0]
    w = sum_weights(len(lab), len(unl))
    for scale, kl_weight in [(3.0, 1.0), (3.0, 0.4), (0.5, 0.8)]:
        cfg = ObjectiveConfig(mier=mier, beta=5.0, gamma=1.0, weights=w, kl_scale=scale)
        loss, _ = semi_supervised_loss(model, _rows(lab), torch.tensor(labels), _rows(unl), None, cfg, kl_weight)
        j = _hand_j(model, lab, labels, unl, w.alpha, scale * kl_weight, *((5.0, 1.0) if mier else (0.0, 0.0)))
        assert float(loss) == pytest.approx(-j / 10, rel=1e-9)
    plain, _ = semi_supervised_loss(model, _rows(lab), torch.tensor(labels), _rows(unl), None, cfg, 1.0)
    unscaled = ObjectiveConfig(mier=mier, beta=5.0, gamma=1.0, weights=w)
    assert float(plain) != float(
        semi_supervised_loss(model, _rows(lab), torch.tensor(labels), _rows(unl), None, unscaled, 1.0)[0]
    )


def test_sum_weighting_minibatches_are_unbiased_for_j():
    """Averaged over every labeled and unlabeled batch of the sizes used, the loss is exactly -J / N."""
    import itertools

    k, lab, unl = 3, [0, 1, 2, 3], [4, 5, 6, 7, 8]
    model = TableModel(*_table(9, k, seed=2))
    labels = {0: 1, 1: 1, 2: 0, 3: 2}
    w = sum_weights(len(lab), len(unl), alpha=2.5)
    cfg = ObjectiveConfig(mier=False, weights=w)
    losses = [
        float(
            semi_supervised_loss(model, _rows(bl), torch.tensor([labels[i] for i in bl]), _rows(bu), None, cfg, 0.5)[0]
        )
        for bl in itertools.combinations(lab, 2)
        for bu in itertools.combinations(unl, 3)
    ]
    j = _hand_j(model, lab, [labels[i] for i in lab], unl, 2.5, 0.5)
    assert sum(losses) / len(losses) == pytest.approx(-j / 9, rel=1e-9)


def test_weights_of_both_rules():
    # digits, 10 labels per class: 100 labeled and 1247 unlabeled; Fashion-MNIST 100/class: 1000 and 54000
    for n_l, n_u, rel in ((100, 1247, 10.8), (1000, 54000, 101.9)):
        w = sum_weights(n_l, n_u)
        assert w.label == pytest.approx(0.1 * n_l)
        assert w.label / w.unlabeled == pytest.approx(rel, abs=0.05)  # alpha N_L / N_U, as the issue computes
        assert w.labeled + w.unlabeled == pytest.approx(1.0)
    m = mean_weights(270, 5)
    assert (m.labeled, m.unlabeled, m.label) == (1.0, 1.0, pytest.approx(5.4))
    assert mean_weights(270, 5, alpha=3.0).label == 3.0


@pytest.mark.parametrize("mier", [False, True])
def test_mc_samples_of_a_deterministic_bound_is_j_over_n(mier):
    """--mc-samples S repeats every row S times: where the bound draws nothing (TableModel), J is unchanged, so
    each labeled row must stay with its own label and eq. 8's q(y) with the same rows."""
    k, lab, unl = 3, [0, 1, 2, 3], [4, 5, 6, 7, 8, 9]
    model = TableModel(*_table(10, k, seed=4))
    labels = [0, 2, 1, 2]
    w = sum_weights(len(lab), len(unl))
    cfg = ObjectiveConfig(mier=mier, beta=5.0, gamma=1.0, weights=w, mc_samples=3)
    loss, _ = semi_supervised_loss(model, _rows(lab), torch.tensor(labels), _rows(unl), None, cfg, 0.6)
    j = _hand_j(model, lab, labels, unl, w.alpha, 0.6, *((5.0, 1.0) if mier else (0.0, 0.0)))
    assert float(loss) == pytest.approx(-j / 10, rel=1e-9)


def test_mc_samples_average_independent_draws():
    """S draws per example: the same expected loss, about 1/S of one draw's variance (the draws are independent;
    reusing one draw S times would keep the variance)."""
    model = build_model("m2", 16, 3, model_config("m2", z_dim=2, hidden=8, classifier_hidden=8), seed=0).to(DEVICE)
    g = torch.Generator(DEVICE).manual_seed(0)
    xl, yl, xu = torch.rand(4, 16, generator=g), torch.tensor([0, 1, 2, 0]), torch.rand(4, 16, generator=g)
    losses = {}
    with torch.no_grad():
        for s in (1, 4):
            cfg = ObjectiveConfig(mier=False, weights=W, mc_samples=s)
            gen = torch.Generator(DEVICE).manual_seed(s)
            losses[s] = torch.stack([semi_supervised_loss(model, xl, yl, xu, gen, cfg, 1.0)[0] for _ in range(400)])
    ratio = float(losses[4].var() / losses[1].var())
    assert 0.15 < ratio < 0.4, ratio
    se = float((losses[1].var() / 400 + losses[4].var() / 400).sqrt())
    assert abs(float(losses[4].mean() - losses[1].mean())) < 4 * se


# --------------------------------------------------------------------------------------------------------
# --enumerate-top: eq. 3 over the k classes with the most mass, q(y|x) renormalised on them (docs/math.md)


@pytest.mark.parametrize("mier", [False, True])
@pytest.mark.parametrize("top", [1, 2])
def test_enumerating_the_top_classes_is_j_over_n_by_hand(mier, top):
    """Each unlabeled row's U over its `top` most probable classes with q renormalised there, MIER's I and H on
    the whole q(y|x): against J built in plain Python (a wrong class, weight or normalisation fails)."""
    k, lab, unl = 4, [0, 1, 2, 3], [4, 5, 6, 7, 8, 9]
    model = TableModel(*_table(10, k, seed=5))
    labels = [3, 0, 1, 2]
    w = sum_weights(len(lab), len(unl))
    cfg = ObjectiveConfig(mier=mier, beta=5.0, gamma=1.0, weights=w, enumerate_top=top)
    loss, _ = semi_supervised_loss(model, _rows(lab), torch.tensor(labels), _rows(unl), None, cfg, 0.7)
    j = _hand_j(model, lab, labels, unl, w.alpha, 0.7, *((5.0, 1.0) if mier else (0.0, 0.0)), top=top)
    assert float(loss) == pytest.approx(-j / 10, rel=1e-9)
    full = ObjectiveConfig(mier=mier, beta=5.0, gamma=1.0, weights=w)
    whole, _ = semi_supervised_loss(model, _rows(lab), torch.tensor(labels), _rows(unl), None, full, 0.7)
    assert float(whole) != pytest.approx(float(loss), rel=1e-6)  # the truncation changes the loss


def test_the_truncated_bound_by_hand():
    """Two rows, K = 3, top 2: q = (0.5, 0.3, 0.2) keeps classes 0 and 1 with q_S = (5/8, 3/8); q = (0.1, 0.2,
    0.7) keeps 2 and 1 with q_S = (7/9, 2/9)."""
    log_qy = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]], dtype=torch.float64).log()
    classes, kept = enumerated_classes(log_qy, None, 2)
    assert classes.tolist() == [[0, 1], [2, 1]] and kept is classes
    log_px = torch.tensor([[-10.0, -20.0], [-30.0, -40.0]], dtype=torch.float64)
    kl = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    u = unlabeled_bound(Bound(log_qy, log_px, kl, classes), kl_weight=0.5)
    log_k = math.log(3)

    def row(qs, lp, kls):
        return sum(p * (a - log_k - 0.5 * b) for p, a, b in zip(qs, lp, kls)) - sum(p * math.log(p) for p in qs)

    expect = [row([5 / 8, 3 / 8], [-10, -20], [1, 2]), row([7 / 9, 2 / 9], [-30, -40], [3, 4])]
    torch.testing.assert_close(u, torch.tensor(expect, dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_the_truncated_bound_leaves_the_other_classes_logits_without_gradient():
    """What the truncation leaves out (docs/math.md): U_S depends on the logits of the kept classes alone; with
    every class kept, it is eq. 3 itself and every logit has a gradient."""
    g = torch.Generator(DEVICE).manual_seed(0)
    logits = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    log_px, kl = -50 * torch.rand(6, 5, generator=g, dtype=torch.float64), torch.rand(6, 5, dtype=torch.float64)
    log_qy = torch.log_softmax(logits, -1)
    classes, kept = enumerated_classes(log_qy, None, 2)
    u = unlabeled_bound(Bound(log_qy, log_px.gather(1, classes), kl.gather(1, classes), kept))
    (grad,) = torch.autograd.grad(u.sum(), logits)
    left_out = torch.ones_like(grad, dtype=torch.bool).scatter_(1, classes, False)
    assert grad[left_out].abs().max() < 1e-12 and (grad[~left_out].abs() > 1e-6).all()  # 0 up to rounding
    log_qy = torch.log_softmax(logits, -1)
    whole = unlabeled_bound(Bound(log_qy, log_px, kl))
    (grad_all,) = torch.autograd.grad(whole.sum(), logits, retain_graph=True)
    assert (grad_all != 0).all()
    every = torch.arange(5).expand(6, 5)  # every class named: q_S = q, eq. 3 up to rounding
    torch.testing.assert_close(unlabeled_bound(Bound(log_qy, log_px, kl, every)), whole, rtol=1e-12, atol=1e-10)
