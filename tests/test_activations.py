"""Tests for dltips.chapters.activations (chapter 3's demos and experiments)."""
import numpy as np
import pytest
import torch
from torch import nn

from dltips.chapters import activations
from dltips.data import digits
from dltips.models import Maxout, mlp

torch.set_num_threads(1)


@pytest.mark.parametrize("name,alpha,slope_left", [("relu", 0.3, 0.0), ("leaky_relu", 0.2, 0.2),
                                                   ("prelu", 0.2, 0.2), ("elu", 0.5, None)])
def test_activation_curve_values_and_negative_side_derivative_at_zero(name, alpha, slope_left):
    z, a_grid, da_grid, d0 = activations.activation_curve(name, alpha)
    at = [int(np.argmin(np.abs(z - v))) for v in (-2.0, 0.0, 1.5)]  # grid points -2, 0, 1.5
    np.testing.assert_allclose(z[at], [-2.0, 0.0, 1.5], atol=1e-12)
    a, da = a_grid[at], da_grid[at]
    assert a[2] == pytest.approx(1.5) and da[2] == pytest.approx(1.0)
    assert d0 == da[1]
    if name == "elu":
        assert a[0] == pytest.approx(alpha * (np.exp(-2) - 1))
        assert da[0] == pytest.approx(alpha * np.exp(-2))
        assert da[1] == pytest.approx(alpha)  # PyTorch: the negative branch at exactly 0
    else:
        assert a[0] == pytest.approx(-2 * slope_left)
        assert da[0] == pytest.approx(slope_left) and da[1] == pytest.approx(slope_left)


def test_activation_curve_is_on_the_pickers_grid_and_sigmoid_slope_at_most_a_quarter():
    z, a, da, d0 = activations.activation_curve("sigmoid")
    assert z.shape == a.shape == da.shape == (801,) and (z[0], z[-1]) == (-4.0, 4.0)
    assert da.max() <= 0.25 + 1e-12
    assert da.max() == pytest.approx(0.25) and d0 == pytest.approx(0.25)


def test_activation_curve_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown activation"):
        activations.activation_curve("swishy")


def test_relu_from_sigmoids_approaches_softplus():
    z = np.linspace(-3, 3, 61)
    softplus = np.log1p(np.exp(z))
    err = [np.max(np.abs(activations.relu_from_sigmoids(z, n) - softplus)) for n in (1, 3, 10)]
    assert err[0] > err[1] > err[2]
    assert err[2] < 0.05
    with pytest.raises(ValueError):
        activations.relu_from_sigmoids(z, 0)


def test_maxout_curve_with_a_zero_piece_is_relu():
    x = np.linspace(-3, 3, 12)  # avoids the tie at x = 0.5
    a, pieces, chosen = activations.maxout_curve(x, [2.0, 0.0], [-1.0, 0.0])
    np.testing.assert_allclose(a, np.maximum(2 * x - 1, 0))
    assert pieces.shape == (12, 2)
    np.testing.assert_array_equal(chosen, np.where(2 * x - 1 > 0, 0, 1))
    with pytest.raises(ValueError):
        activations.maxout_curve(x, [1.0, 2.0], [0.0])


def test_tangent_pieces_lie_below_a_convex_function_and_touch_it():
    points = np.array([-1.0, 0.0, 0.5, 2.0])
    w, b = activations.tangent_pieces(np.square, lambda p: 2 * p, points)
    x = np.linspace(-3, 3, 601)
    a, _, _ = activations.maxout_curve(x, w, b)
    assert np.all(a <= x ** 2 + 1e-12)
    a_at, _, _ = activations.maxout_curve(points, w, b)
    np.testing.assert_allclose(a_at, points ** 2, atol=1e-12)


def test_piecewise_linear_view_slope_is_constant_between_kinks():
    net = mlp(1, 1, depth=3, width=8, seed=0)
    x = np.linspace(-3, 3, 2001)
    view = activations.piecewise_linear_view(net, x)
    assert len(view["kinks"]) >= 3
    edges = np.concatenate([[-np.inf], view["kinks"], [np.inf]])
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (x > lo) & (x < hi)
        slopes = view["slope"][inside]
        np.testing.assert_allclose(slopes, slopes[0], atol=1e-5)
    # the slope matches finite differences of the output away from the kinks
    fd = np.gradient(view["f"], x)
    far = np.min(np.abs(x[:, None] - view["kinks"][None, :]), axis=1) > 0.01
    np.testing.assert_allclose(fd[far], view["slope"][far], atol=1e-3)


def test_relu_activation_pattern_needs_relu_layers():
    with pytest.raises(ValueError, match="no nn.ReLU"):
        activations.relu_activation_pattern(nn.Sequential(nn.Linear(2, 2), nn.Tanh()),
                                            torch.zeros(1, 2))


def test_pool_gradients_route_and_spread():
    x = activations.POOL_IMAGE
    dout = activations.POOL_UPSTREAM
    np.testing.assert_array_equal(x, [[1.0, 2.0, 5.0, 5.0], [3.0, 4.0, 1.0, 0.0],
                                      [0.0, -1.0, 2.0, 2.0], [-2.0, -3.0, 2.0, 7.0]])
    g = activations.pool_gradients()
    np.testing.assert_allclose(g["max_out"], [[4.0, 5.0], [0.0, 7.0]])
    want = np.zeros((4, 4))
    want[1, 1], want[0, 2], want[2, 0], want[3, 3] = 1.0, 2.0, 3.0, 4.0  # tie at (0,2),(0,3)
    np.testing.assert_allclose(g["max_dx"], want)
    np.testing.assert_allclose(g["avg_out"], [[2.5, 2.75], [-1.5, 3.25]])
    np.testing.assert_allclose(g["avg_dx"], np.kron(dout, np.ones((2, 2))) / 4)
    # every window sends its whole gradient back: to one position, or spread over four
    assert g["max_dx"].sum() == g["avg_dx"].sum() == dout.sum()
    assert np.count_nonzero(g["max_dx"]) == 4


def test_dead_unit_fraction_counts_units_off_for_every_input():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    with torch.no_grad():
        model[0].bias[:3] = -100.0   # three units of layer 1 can never be on
        model[0].bias[3:] = 100.0    # the others always are
        model[2].bias[:] = 100.0     # layer 2 always on
    fractions = activations.dead_unit_fraction(model, torch.randn(50, 4))
    assert fractions == [0.5, 0.0]


def test_train_depths_small_run():
    split = digits(seed=0, n_train=200)
    runs = activations.train_depths([1, 3], configs={"relu": ("relu", "he"),
                                                     "maxout": ("maxout", "lecun")},
                                    epochs=3, width=16, batch_size=16, split=split)
    assert set(runs) == {"relu", "maxout"}
    for by_depth in runs.values():
        assert set(by_depth) == {1, 3}
        for run in by_depth.values():
            assert 0.0 <= run["train_acc"] <= 1.0 and len(run["history"].train_acc) == 3
    assert runs["relu"][1]["train_acc"] > 0.5  # it learns something in 3 epochs


def test_train_maxout_regression_fits_and_unit_curves_are_convex():
    model, x, y, losses = activations.train_maxout_regression(hidden=4, pieces=3, steps=300)
    assert x.shape == y.shape == (200,) and len(losses) == 300
    assert losses[-1] < 0.5 * losses[0]
    grid = np.linspace(-1, 1, 201)
    units, pieces = activations.maxout_unit_curves(model[0], grid)
    assert units.shape == (201, 4) and pieces.shape == (201, 4, 3)
    np.testing.assert_allclose(units, pieces.max(axis=2))
    second_difference = units[2:] - 2 * units[1:-1] + units[:-2]
    assert np.all(second_difference > -1e-5)  # a max of lines is convex
    with pytest.raises(ValueError):
        activations.maxout_unit_curves(Maxout(2, 3, 2), grid)
