"""dltips.chapters.regularisation: the shrinkage paths, the one-weight and 2-D minima, the
regularised training runs behind the demo and the experiment, and Adam against AdamW."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dltips.chapters import regularisation as R
from dltips.models import mlp

torch.set_num_threads(1)


def test_shrinkage_paths_follow_the_update_rules():
    lr, lam, steps = 0.1, 1.0, 30
    paths = R.shrinkage_paths(lr=lr, lam=lam, steps=steps)
    start = np.array(R.SHRINK_STARTS)
    for name in ("L2", "L1", "L1 proximal"):
        assert paths[name].shape == (steps + 1, 3)
        assert np.allclose(paths[name][0], start)
    # L2: geometric decay, never zero
    assert np.allclose(paths["L2"], start * (1 - lr * lam) ** np.arange(steps + 1)[:, None])
    assert np.all(paths["L2"] > 0)
    # L1 (subgradient): a constant step lr*lam while positive, then oscillation within lr*lam
    assert np.allclose(paths["L1"][1, :2], start[:2] - lr * lam)
    assert np.all(np.abs(paths["L1"][-5:]) <= lr * lam + 1e-12)
    assert np.any(paths["L1"][-5:, 2] != 0)
    # proximal: reaches exactly 0 and stays
    assert np.all(paths["L1 proximal"][-1] == 0.0)
    assert np.all(np.diff(paths["L1 proximal"], axis=0) <= 0)


def test_penalised_minimum_is_the_minimiser():
    lam = 0.7
    one = R.penalised_minimum(lam, n=41)
    w = np.linspace(-4, 4, 80001)
    for a, l2, l1 in zip(one["a"], one["L2"], one["L1"]):
        assert abs(w[np.argmin(0.5 * (w - a) ** 2 + lam / 2 * w ** 2)] - l2) < 2e-4
        assert abs(w[np.argmin(0.5 * (w - a) ** 2 + lam * np.abs(w))] - l1) < 2e-4
    inside = np.abs(one["a"]) <= lam
    assert np.all(one["L1"][inside] == 0) and np.all(one["L2"][one["a"] != 0] != 0)


def test_norm_ball_minimum_l1_at_a_corner_l2_not():
    l1 = R.norm_ball_minimum("L1", 1.0)
    l2 = R.norm_ball_minimum("L2", 1.0)
    assert np.allclose(l1, [1.0, 0.0], atol=1e-3)
    assert abs(np.linalg.norm(l2) - 1) < 1e-9 and l2[1] > 0.2
    # the found points beat the rest of their boundaries
    t = np.linspace(0, 2 * np.pi, 997)
    circle = np.stack([np.cos(t), np.sin(t)], 1)
    assert R.geometry_loss(*l2) <= R.geometry_loss(circle[:, 0], circle[:, 1]).min() + 1e-6
    with pytest.raises(ValueError):
        R.norm_ball_minimum("L3", 1.0)


def test_train_regularised_penalises_only_the_weight_matrices():
    split = R.digits_split(0, n_train=60)
    plain = R.train_regularised(split, "none", 0.0, steps=40)
    l2 = R.train_regularised(split, "L2", 0.05, steps=40)
    l1 = R.train_regularised(split, "L1", 0.01, steps=40)
    assert plain.weights.shape == (64 * 64 + 64 * 10,) and plain.first_layer.shape == (64, 64)
    assert np.abs(l2.weights).mean() < np.abs(plain.weights).mean()
    assert l1.zero_fraction > 0.1 and plain.zero_fraction == 0 and l2.zero_fraction == 0
    assert l1.small_fraction() >= l1.zero_fraction
    # biases are never thresholded: the L1 run keeps nonzero biases
    biases = [p for p in l1.model.parameters() if p.dim() == 1]
    assert all(bool((b != 0).all()) for b in biases)
    assert 0 <= l1.test_acc <= 1 and 0 <= l1.train_acc <= 1
    with pytest.raises(ValueError):
        R.train_regularised(split, "L0", 0.1)


def test_train_regularised_l2_is_sgd_weight_decay_on_matrices():
    """One step of the run equals one manual step with lam*w added to the matrices' gradients."""
    split = R.digits_split(1, n_train=30)
    lam, lr = 0.3, 0.1
    run = R.train_regularised(split, "L2", lam, steps=1, lr=lr, momentum=0.0, seed=3)
    ref = mlp(64, 10, depth=1, width=64, seed=3)
    loss = F.cross_entropy(ref(split.x_train), split.y_train)
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    with torch.no_grad():
        for p, g in zip(ref.parameters(), grads):
            p -= lr * (g + (lam * p if p.dim() >= 2 else 0))
    for p, q in zip(run.model.parameters(), ref.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_train_moons_surface():
    run, surface = R.train_moons("L2", 0.01, steps=60, grid=20)
    assert surface["p"].shape == surface["x1"].shape == (20, 20)
    assert np.all((surface["p"] >= 0) & (surface["p"] <= 1))
    assert run.train_acc > 0.7


def test_train_moons_is_cached():
    first = R.train_moons("L1", 0.01, steps=30, grid=10)
    assert R.train_moons("L1", 0.01, steps=30, grid=10) is first
    assert R.moons_split(0) is R.moons_split(0)



def test_lambda_sweep_shapes_and_sparsity():
    out = R.lambda_sweep("L1", [0.0, 0.03], seeds=(0,), n_train=60, steps=60)
    for key in ("train_acc", "test_acc", "zero", "small", "mean_abs"):
        assert out[key].shape == (2, 1)
    assert out["zero"][0, 0] == 0 and out["zero"][1, 0] > 0.5
    assert out["mean_abs"][1, 0] < out["mean_abs"][0, 0]


def test_adam_l2_decays_noisy_weights_less_than_adamw():
    out = R.adam_decay_by_gradient_scale(scales=[1e-4, 10.0], lam=1.0, lr=1e-3, steps=300,
                                         copies=32)
    assert np.allclose(out["AdamW, no noise"], (1 - 1e-3) ** 300)
    # AdamW: the same decay whatever the noise
    assert abs(out["AdamW"][0] - out["AdamW, no noise"][0]) < 0.02
    assert abs(out["AdamW"][1] - out["AdamW, no noise"][0]) < 0.05
    # Adam + L2: strong decay without noise, little with large noise
    assert out["Adam + L2"][1] > out["AdamW"][1] + 0.1
    assert out["Adam + L2"][0] < out["AdamW"][0]
