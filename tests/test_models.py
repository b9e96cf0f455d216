"""Model bounds: enumeration, exactness against quadrature, gradients. Parametrised over the registry."""

import math

import pytest
import torch

import ssvae.models.base as base
from ssvae.evaluate import elbo, iwae
from ssvae.models import MODELS, build_model, model_config
from ssvae.objectives import ObjectiveConfig, labeled_bound, loss_function, unlabeled_bound

GENERATIVE = [name for name, (cls, _) in MODELS.items() if not cls.supervised_only]
TINY = {"z_dim": 2, "hidden": 16, "classifier_hidden": 16, "a_dim": 2, "latent_dims": (4, 3, 2)}


def tiny(name, d=12, k=3, seed=0, **over):
    return build_model(name, d, k, model_config(name, **{**TINY, **over}), seed=seed).double()


@pytest.fixture
def no_noise(monkeypatch):
    monkeypatch.setattr(
        base, "standard_normal", lambda shape, gen, like: torch.zeros(shape, dtype=like.dtype, device=like.device)
    )


@pytest.mark.parametrize("name", GENERATIVE)
def test_enumeration_equals_loop_over_classes(name, no_noise):
    model = tiny(name)
    x = torch.rand(5, 12, dtype=torch.float64)
    enum = model.bound(x, None, None)
    assert enum.log_qy.shape == enum.log_px.shape == enum.kl.shape == (5, 3)
    for k in range(3):
        one = model.bound(x, torch.full((5,), k), None)
        torch.testing.assert_close(one.log_px, enum.log_px[:, k])
        torch.testing.assert_close(one.kl, enum.kl[:, k])
        torch.testing.assert_close(one.log_qy, enum.log_qy)
    # U(x) from the enumerated grid equals sum_y q(y|x) L(x,y) + H built from the per-class calls
    u_loop = sum(enum.log_qy[:, k].exp() * labeled_bound(model.bound(x, torch.full((5,), k), None)) for k in range(3))
    u_loop = u_loop - (enum.log_qy.exp() * enum.log_qy).sum(-1)
    torch.testing.assert_close(unlabeled_bound(enum), u_loop)


@pytest.mark.parametrize("name", GENERATIVE)
def test_gradients_reach_every_parameter(name):
    model = tiny(name).float()
    loss_fn = loss_function(model)
    x, y = torch.rand(6, 12), torch.tensor([0, 1, 2, 0, 1, 2])
    loss, _ = loss_fn(
        model, x, y, torch.rand(7, 12), torch.Generator().manual_seed(0), ObjectiveConfig(mier=True, alpha=1.0), 1.0
    )
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def exact_log_px_m2(model, x, grid=20001, lim=12.0):
    """log p(x) = log sum_y p(y) int p(x|y,z) N(z; 0, 1) dz, by quadrature over a 1-D z."""
    z = torch.linspace(-lim, lim, grid, dtype=torch.float64)
    dz = z[1] - z[0]
    k = model.num_classes
    out = []
    for xb in x:
        per_class = []
        for c in range(k):
            cls = torch.full((grid, 1), c)
            logits = model.decode_logits(z.view(grid, 1, 1), cls)
            log_lik = base.log_likelihood(model.cfg.likelihood, logits, xb.expand(grid, -1)).squeeze(1)
            per_class.append(torch.logsumexp(log_lik + base.std_normal_log_prob(z.view(grid, 1)), 0) + dz.log())
        out.append(torch.logsumexp(torch.stack(per_class), 0) - math.log(k))
    return torch.stack(out)


@torch.no_grad()
def test_bounds_below_exact_log_px_and_iwae_tightens():
    model = build_model("m2", 40, 3, model_config("m2", z_dim=1, hidden=12, classifier_hidden=8), seed=3).double()
    model.dec_in.linear.weight[:, :1].mul_(8.0)  # a decoder that depends strongly on z: the posterior is
    model.dec[-1].weight.mul_(8.0)  # far from q(z|x,y), so the gaps are large
    x = (torch.rand(4, 40, generator=torch.Generator().manual_seed(0)) > 0.5).double()
    exact = exact_log_px_m2(model, x)
    reps = 4000
    elbo_mean = elbo(model, x.repeat(reps, 1), seed=0).view(reps, 4).mean(0)
    assert (elbo_mean < exact - 1.0).all(), (elbo_mean, exact)
    iw = {s: iwae(model, x.repeat(50, 1), s, seed=1, progress=False).view(50, 4).mean(0) for s in (1, 10, 1000)}
    assert (elbo_mean < iw[1]).all() and (iw[1] < iw[10]).all(), iw  # summing y exactly beats eq. 2 here
    assert iw[10].mean() <= iw[1000].mean() + 0.005
    assert (iw[1000] <= exact + 0.01).all() and (exact - iw[1000] < 0.03).all(), (iw[1000], exact)


@pytest.mark.parametrize("name", GENERATIVE)
def test_reconstruct_and_sample_shapes(name):
    model = tiny(name).float().eval()
    x, y = torch.rand(4, 12), torch.tensor([0, 1, 2, 0])
    r = model.reconstruct(x, y)
    s = model.sample(y, torch.Generator().manual_seed(0))
    assert r.shape == s.shape == (4, 12)
    assert ((r >= 0) & (r <= 1)).all() and ((s >= 0) & (s <= 1)).all()
    assert model.features(x).dim() == 2


def test_joint_input_equals_linear_on_concatenated_onehot():
    layer = base.JointInput(5, 3, 4)
    v, cls = torch.randn(2, 5), torch.tensor([[0, 2], [1, 1]])
    got = layer(v, cls)
    onehot = torch.nn.functional.one_hot(cls, 3).float()
    expected = layer.linear(torch.cat([v.unsqueeze(1).expand(2, 2, 5), onehot], -1))
    torch.testing.assert_close(got, expected)


def test_log_variance_is_unconstrained():
    head = base.Gaussian(4, 2)
    with torch.no_grad():
        head.logvar.bias.fill_(-6.0)
        head.logvar.weight.zero_()
    _, logvar = head(torch.randn(3, 4))
    assert (logvar.exp() < 0.01).all()  # a softplus floor would force variance >= 1


def test_init_is_seeded_and_device_independent():
    a = build_model("m2", 8, 3, model_config("m2"), seed=5)
    b = build_model("m2", 8, 3, model_config("m2"), seed=5)
    c = build_model("m2", 8, 3, model_config("m2"), seed=6)
    for (_, p), (_, q), (_, r) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        assert torch.equal(p, q) and not torch.equal(p, r)
