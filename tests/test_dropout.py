"""dltips.chapters.dropout: the dropout MLP, its training record, Monte-Carlo averaging and the
enumerated ensemble of one unit."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from dltips.chapters import dropout as D
from dltips.models import mlp


def test_dropout_mlp_has_a_dropout_after_every_hidden_layer_and_p0_is_the_plain_mlp():
    model = D.dropout_mlp(64, 10, 0.5, depth=3, width=32, p_input=0.2, seed=3)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout",
                     "Linear", "ReLU", "Dropout", "Linear"]
    assert [m.p for m in model if isinstance(m, nn.Dropout)] == [0.2, 0.5, 0.5, 0.5]
    x = torch.randn(5, 64)
    plain = mlp(64, 10, 2, 16, seed=1)
    same = D.dropout_mlp(64, 10, 0.0, depth=2, width=16, seed=1)
    with torch.no_grad():
        assert torch.equal(plain(x), same.train()(x))
    # train mode drops (different outputs each call), eval mode is deterministic
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))
        model.eval()
        assert torch.equal(model(x), model(x))


def test_train_with_dropout_records_eval_mode_curves_and_is_seeded():
    a = D.train_with_dropout(0.5, epochs=3, n_train=60, width=32, seed=0)
    b = D.train_with_dropout(0.5, epochs=3, n_train=60, width=32, seed=0)
    assert a.history == b.history
    h = a.history
    assert len(h.train_acc) == len(h.val_acc) == len(h.train_loss) == len(h.val_loss) == 3
    assert not a.model.training
    # the recorded final training numbers are the full network's, in eval mode
    with torch.no_grad():
        logits = a.model(a.split.x_train)
    accuracy = (logits.argmax(1) == a.split.y_train).float().mean().item()
    assert math.isclose(h.train_acc[-1], accuracy)
    assert math.isclose(a.gap, h.train_acc[-1] - h.val_acc[-1])
    assert math.isclose(a.loss_gap, h.val_loss[-1] - h.train_loss[-1])
    # dropout changes training, the drop rate is the only difference
    c = D.train_with_dropout(0.0, epochs=3, n_train=60, width=32, seed=0)
    assert c.history != a.history


def test_monte_carlo_average_of_thinned_networks():
    # without dropout every "thinned" network is the full one: the average is the eval network
    plain = D.train_with_dropout(0.0, epochs=3, n_train=100, width=32, seed=0)
    res = D.monte_carlo_vs_scaling(plain, samples=(1, 3), seed=0)
    assert res["samples"].tolist() == [1, 3]
    assert np.allclose(res["mc_acc"], res["scaled_acc"])
    # with dropout one thinned network is worse than the average of many
    run = D.train_with_dropout(0.5, epochs=15, n_train=150, width=64, seed=0)
    res = D.monte_carlo_vs_scaling(run, samples=(1, 50), seed=0)
    assert res["mc_acc"][0] < res["mc_acc"][1]
    assert 0.5 < res["scaled_acc"] <= 1
    assert not run.model.training


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_unit_ensemble_linear_is_weight_scaling_exactly(p):
    u = D.unit_ensemble("linear", p, weight_scale=2.0, m=6, seed=4)
    assert u.z.shape == u.prob.shape == u.y.shape == (64,)
    assert math.isclose(u.prob.sum(), 1.0, rel_tol=1e-12)
    assert math.isclose(u.mean, u.scaled, rel_tol=1e-10, abs_tol=1e-12)


def test_unit_ensemble_sigmoid_gap_and_geometric_mean():
    x, w = D._unit_inputs(5, 3.0, 2)
    u = D.unit_ensemble("sigmoid", 0.25, weight_scale=3.0, m=5, seed=2)
    # the expectation, by a direct loop over the 32 masks
    want = 0.0
    for code in range(32):
        m = torch.tensor([(code >> i) & 1 for i in range(5)], dtype=torch.float64)
        prob = float(torch.prod(torch.where(m == 1, 0.75, 0.25)))
        want += prob * float(torch.sigmoid((m * w * x).sum()))
    assert math.isclose(u.mean, want, rel_tol=1e-12)
    assert math.isclose(u.scaled, float(torch.sigmoid(0.75 * (w * x).sum())), rel_tol=1e-12)
    assert abs(u.mean - u.scaled) > 1e-3
    # Baldi & Sadowski (2013): the normalised geometric mean of a sigmoid unit IS weight scaling
    assert math.isclose(u.geometric, u.scaled, rel_tol=1e-12)
    assert math.isnan(D.unit_ensemble("tanh", 0.25, 3.0, 5, 2).geometric)


def test_ensemble_gap_grows_with_the_weights_for_nonlinear_units_only():
    scales, gaps = D.ensemble_gap("sigmoid", 0.5, scales=[0.1, 1.0, 10.0], m=6, seeds=range(5))
    assert scales.tolist() == [0.1, 1.0, 10.0]
    assert gaps[0] < gaps[1] < gaps[2] and gaps[0] < 1e-3
    _, linear = D.ensemble_gap("linear", 0.5, scales=[0.1, 10.0], m=6, seeds=range(5))
    assert np.all(linear < 1e-12)
