"""dltips.chapters.landscapes: the 1-D landscape, the two forms of momentum, the saddle, Adam's moments and
the optimizer sweep."""
import math

import numpy as np
import pytest
import torch

from dltips.chapters import landscapes as L
from dltips.data import digits
from dltips.surfaces import gradient_at, loss_at
from dltips.training import History


def loss(x):
    with torch.no_grad():
        return float(L.landscape(torch.tensor(float(x), dtype=torch.float64)))


def test_landscape_has_the_advertised_shape():
    # the minima, the bump between them and their order of depth
    for x in (L.SHALLOW_MIN, L.BUMP, L.DEEP_MIN):
        assert abs(float(L.slope([x])[0])) < 5e-3, f"slope at {x} is not ~0"
    assert loss(L.BUMP) > loss(L.SHALLOW_MIN) + 0.1
    assert loss(L.SHALLOW_MIN) > loss(L.DEEP_MIN) + 1.0
    assert float(L.slope([L.SHALLOW_MIN - 0.2])[0]) < 0 < float(L.slope([L.SHALLOW_MIN + 0.2])[0])
    # the plateau is gently downhill everywhere, far flatter than the start
    plateau = L.slope(np.linspace(*L.PLATEAU, 200))
    assert np.all(plateau < -0.04) and np.all(plateau > -0.1)
    assert float(L.slope(np.linspace(0, 1, 50)).min()) < -2.0
    xs, ys = L.landscape_curve(n=50)
    assert xs.shape == ys.shape == (50,) and np.all(np.isfinite(ys))


def test_slope_matches_finite_differences():
    x = np.array([-0.3, 0.7, 2.0, 4.6, 5.5, 7.1, 9.5])
    h = 1e-6
    numeric = np.array([(loss(v + h) - loss(v - h)) / (2 * h) for v in x])
    assert np.allclose(L.slope(x), numeric, rtol=1e-5, atol=1e-7)


def test_plain_gradient_descent_stops_in_the_shallow_minimum_and_momentum_escapes():
    plain = L.roll_ball(0.0, lr=0.2, steps=400)
    assert L.outcome(plain) == "shallow minimum"
    assert abs(plain[-1] - L.SHALLOW_MIN) < 0.05
    heavy = L.roll_ball(0.9, lr=0.2, steps=400)
    assert L.outcome(heavy) == "deep minimum"
    assert abs(heavy[-1] - L.DEEP_MIN) < 0.05
    # a small learning rate without momentum is still on the plateau
    assert L.outcome(L.roll_ball(0.0, lr=0.05, steps=400)) == "plateau"


def test_roll_ball_is_torch_sgd_with_momentum():
    path = L.roll_ball(0.8, lr=0.1, steps=25, start=0.3)
    w = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.8)
    for t in range(25):
        opt.zero_grad()
        L.landscape(w).sum().backward()
        opt.step()
        assert path[t + 1] == pytest.approx(w.item(), abs=1e-14)
    assert path.shape == (26,) and path[0] == 0.3


def test_rolled_ball_is_roll_ball_computed_once():
    first = L.rolled_ball(0.9, lr=0.2, steps=40)
    np.testing.assert_array_equal(first, L.roll_ball(0.9, lr=0.2, steps=40))
    assert L.rolled_ball(0.9, 0.2, 40) is first  # cached, whatever the spelling of the call
    assert not first.flags.writeable



def _lecture_by_hand(lrs, mu, start):
    """The lecture's recursion v = mu v - lr_t g(w), w = w + v, with autograd gradients."""
    w, v, out = start, 0.0, [start]
    for lr in lrs:
        v = mu * v - lr * float(L.slope([w])[0])
        w = w + v
        out.append(w)
    return np.array(out)


def test_lecture_form_is_the_lecture_recursion_even_with_a_schedule():
    lrs = [0.2] * 15 + [0.02] * 15 + [0.3] * 10
    got = L.momentum_path(lrs, 0.9, start=0.1, form="lecture")
    assert np.allclose(got, _lecture_by_hand(lrs, 0.9, 0.1), rtol=1e-12, atol=1e-12)


def test_both_forms_agree_for_a_constant_learning_rate_only():
    constant = [0.2] * 150
    a = L.momentum_path(constant, 0.9)
    b = L.momentum_path(constant, 0.9, form="lecture")
    assert np.max(np.abs(a - b)) < 1e-10
    schedule = [0.2] * 30 + [0.02] * 120
    a = L.momentum_path(schedule, 0.9)
    b = L.momentum_path(schedule, 0.9, form="lecture")
    assert np.allclose(a[:31], b[:31], atol=1e-10)   # identical until the learning rate changes
    assert np.max(np.abs(a - b)) > 0.1                # then PyTorch rescales its whole buffer


def test_dampening_is_a_smaller_learning_rate_except_for_the_first_step():
    d, lr, mu = 0.5, 0.2, 0.9
    damped = L.momentum_path([lr] * 40, mu, dampening=d)
    lecture = L.momentum_path([lr * (1 - d)] * 40, mu, form="lecture")
    # the first step is the full -lr * g (PyTorch's buffer starts at g, undamped)
    g0 = float(L.slope([L.START])[0])
    assert damped[1] == pytest.approx(L.START - lr * g0, abs=1e-12)
    assert lecture[1] == pytest.approx(L.START - lr * (1 - d) * g0, abs=1e-12)
    assert np.max(np.abs(damped - lecture)) > 0.05


def test_momentum_path_rejects_bad_arguments():
    with pytest.raises(ValueError, match="form"):
        L.momentum_path([0.1], 0.9, form="nesterov")
    with pytest.raises(ValueError, match="dampening"):
        L.momentum_path([0.1], 0.9, form="lecture", dampening=0.1)


def test_momentum_path_stops_recording_when_it_diverges():
    path = L.momentum_path([1e3] * 20, 0.9, start=9.5)
    assert np.isnan(path[-1]) or abs(path[-1]) > 1e3
    assert L.outcome(path) in ("diverged", "still moving")


def test_basin_and_outcome():
    assert L.basin(0.5) == "start"
    assert L.basin(2.0) == "plateau"
    assert L.basin(L.SHALLOW_MIN) == "shallow minimum"
    assert L.basin(L.DEEP_MIN) == "deep minimum"
    assert L.basin(float("nan")) == "diverged"
    assert L.outcome(np.full(30, L.DEEP_MIN)) == "deep minimum"
    swinging = L.DEEP_MIN + 0.5 * (-1.0) ** np.arange(30)
    assert L.outcome(swinging) == "still moving"
    assert L.outcome(np.array([1.0, np.nan])) == "diverged"


def test_escape_grid():
    grid = L.escape_grid([0.2], [0.0, 0.9], steps=400)
    assert grid.shape == (1, 2)
    assert list(grid[0]) == ["shallow minimum", "deep minimum"]


def test_escape_grid_rolls_each_ball_as_roll_ball_does():
    # all balls roll at once in one optimizer; each must end where roll_ball ends it
    lrs, momenta = [0.05, 0.4], [0.0, 0.8, 0.95, 0.99]
    grid = L.escape_grid(lrs, momenta, steps=400)
    assert grid.shape == (2, 4)
    for i, lr in enumerate(lrs):
        for j, m in enumerate(momenta):
            assert grid[i, j] == L.outcome(L.roll_ball(m, lr=lr, steps=400)), (lr, m)
    # a ball flung far away by a huge learning rate does not disturb the others
    wild = L.escape_grid([0.2, 1e3], [0.0, 0.9], steps=60, start=9.5)
    for i, lr in enumerate([0.2, 1e3]):
        for j, m in enumerate([0.0, 0.9]):
            assert wild[i, j] == L.outcome(L.roll_ball(m, lr=lr, steps=60, start=9.5)), (lr, m)
    assert list(wild[0]) == ["deep minimum", "still moving"]
    assert L.escape_grid([0.2], [0.0, 0.9], steps=5, start=float("nan"))[0, 1] == "diverged"
    assert L.escape_grid([], [0.9]).shape == (0, 1)


def test_saddle_surface():
    assert np.allclose(gradient_at(L.SADDLE, [0.0, 0.0]), 0.0)
    # a minimum along w1, a maximum along w2
    assert loss_at(L.SADDLE, [0.3, 0.0]) > 0 > loss_at(L.SADDLE, [0.0, 0.3])
    for w2 in (1.0, -1.0):
        assert loss_at(L.SADDLE, [0.0, w2]) == pytest.approx(-0.25)
        assert np.allclose(gradient_at(L.SADDLE, [0.0, w2]), 0.0)


def test_race_uses_each_learning_rate_for_its_optimizers():
    paths = L.race(L.SADDLE, lr_sgd=0.1, lr_adaptive=0.05, steps=30)
    assert list(paths) == list(L.RACE)
    start = np.array(L.SADDLE.start)
    g = gradient_at(L.SADDLE, start)
    for name, path in paths.items():
        assert path.shape == (31, 2)
        assert np.allclose(path[0], start)
    assert np.allclose(paths["sgd"][1], start - 0.1 * g)
    assert np.allclose(paths["momentum"][1], start - 0.1 * g)
    # Adam's first step is lr * sign(g) in each coordinate, whatever the gradient's size
    assert np.allclose(paths["adam"][1], start - 0.05 * np.sign(g), atol=1e-6)
    # momentum=0 turns the "momentum" path into plain SGD
    again = L.race(L.SADDLE, 0.1, 0.05, 30, momentum=0.0, optimizers=("sgd", "momentum"))
    assert np.allclose(again["sgd"], again["momentum"])


def test_cached_race_is_race_and_reruns_only_what_momentum_changes():
    fresh = L.race(L.SADDLE, 0.1, 0.05, 30, momentum=0.5)
    cached = L.cached_race(L.SADDLE, 0.1, 0.05, 30, momentum=0.5)
    assert list(cached) == list(fresh)
    for name in fresh:
        np.testing.assert_array_equal(cached[name], fresh[name])
    other = L.cached_race(L.SADDLE, 0.1, 0.05, 30, momentum=0.9)
    for name in ("sgd", "rmsprop", "adam"):
        assert other[name] is cached[name]
    assert not np.array_equal(other["momentum"], cached["momentum"])



def test_adaptive_methods_leave_the_saddle_first():
    paths = L.race(L.SADDLE, 0.1, 0.05, 300)
    steps = {name: L.saddle_escape_step(path) for name, path in paths.items()}
    assert all(s is not None for s in steps.values()), steps
    assert steps["rmsprop"] < steps["adam"] < steps["momentum"] < steps["sgd"]
    assert L.saddle_escape_step(np.zeros((10, 2))) is None


def test_minimum_fraction_matches_known_values():
    f = L.minimum_fraction([1, 2, 3, 5], samples=20000, seed=1)
    assert f[0] == pytest.approx(0.5, abs=0.015)
    # 2x2 matrices with N(0,1) diagonal and N(0,1/2) off-diagonal: P(positive definite)
    # = (2 - sqrt(2)) / 4
    assert f[1] == pytest.approx((2 - math.sqrt(2)) / 4, abs=0.01)
    assert f[1] < 0.25 and f[2] < 0.125 / 2          # faster than 2^-n
    assert np.all(np.diff(f) < 0)


def test_adam_moments_are_torch_state_without_correction():
    g = np.array([2.0, 2.0, 2.0, 2.0, 2.0])
    moments = L.adam_moments(g, betas=(0.9, 0.99))
    t = np.arange(1, 6)
    assert np.allclose(moments["m"], 2.0 * (1 - 0.9 ** t))
    assert np.allclose(moments["v"], 4.0 * (1 - 0.99 ** t))
    two_d = L.adam_moments(np.ones((3, 4)))
    assert two_d["m"].shape == (3, 4)
    assert np.allclose(two_d["m"][0], 0.1)


@pytest.fixture(scope="module")
def small_split():
    return digits(seed=0, n_train=200)


def test_optimizer_sweep_runs_every_combination_from_the_same_start(small_split):
    torch.set_num_threads(1)
    results = L.optimizer_sweep(("sgd", "adam"), lrs=(1e-3, 1e-2), epochs=2, width=16,
                                split=small_split)
    assert set(results) == {("sgd", 1e-3), ("sgd", 1e-2), ("adam", 1e-3), ("adam", 1e-2)}
    for history in results.values():
        assert len(history.train_loss) == len(history.val_acc) == 2
    # same initial weights: a tiny learning rate barely changes the first epoch's loss
    a = results[("sgd", 1e-3)].train_loss[0]
    b = results[("adam", 1e-3)].train_loss[0]
    assert abs(a - b) < 0.5
    # Adam at 1e-2 trains the small MLP faster than SGD at 1e-3
    assert results[("adam", 1e-2)].train_loss[-1] < results[("sgd", 1e-3)].train_loss[-1]


def _history(losses):
    h = History()
    for x in losses:
        h.record((x, 0.5), (x, 0.5))
    return h


def test_best_runs_picks_the_lowest_mean_training_loss():
    results = {("sgd", 0.1): _history([2.0, 1.0]), ("sgd", 0.3): _history([1.0, 0.9]),
               ("sgd", 1.0): _history([0.1, float("nan")]), ("adam", 1e-3): _history([0.5, 0.2])}
    best = L.best_runs(results)
    assert list(best) == ["sgd", "adam"]
    assert best["sgd"][0] == 0.3   # the diverged run's NaN counts as infinitely bad
    assert best["adam"][0] == 1e-3
    assert L.mean_train_loss(results[("sgd", 1.0)]) == math.inf
    assert L.mean_train_loss(results[("sgd", 0.1)]) == pytest.approx(1.5)


def test_plot_ball_draws_every_path():
    from dltips.plotting import new_figure
    fig, (a, b) = new_figure(ncols=2)
    L.plot_ball(a, b, {"plain": L.roll_ball(0.0, steps=10), "heavy": L.roll_ball(0.9, steps=10)})
    assert len(b.lines) >= 2
    assert [t.get_text() for t in a.get_legend().get_texts()] == ["plain", "heavy"]
