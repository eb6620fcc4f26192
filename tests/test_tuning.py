"""dltips.chapters.tuning: the noisy quadratic's floor, the schedule runs, grid vs random on the
synthetic objective, and the digits search's configurations and scores."""
import math

import numpy as np
import pytest

from dltips.chapters import tuning as T


@pytest.mark.parametrize("lr", [0.1, 0.5])
def test_noisy_quadratic_settles_at_the_floor_proportional_to_the_rate(lr):
    q = T.noisy_quadratic(lr, steps=200, chains=4000, seed=1)
    assert q.loss.shape == (201,)
    assert math.isclose(q.floor, lr / (2 * (2 - lr)))
    assert math.isclose(q.loss[0], 4.5)                 # a/2 w0^2 with w0 = 3
    assert abs(q.loss[-50:].mean() - q.floor) < 0.05 * q.floor


def test_noisy_quadratic_with_a_decaying_rate_goes_below_the_constant_floor():
    constant = T.noisy_quadratic(0.5, steps=300, chains=2000)
    cosine = T.noisy_quadratic(0.5, "cosine", steps=300, chains=2000)
    assert cosine.floor == constant.floor          # the floor of the base rate
    assert cosine.loss[-1] < 0.5 * constant.floor
    # the first step is taken at the base rate by both
    assert cosine.loss[1] == constant.loss[1]


def test_schedules_set_the_rates_the_chapter_describes():
    runs = {name: T.train_with_schedule(name, 0.2, epochs=12, seed=0) for name in T.SCHEDULES}
    with pytest.raises(ValueError):
        T.train_with_schedule("cosine", 0.3, epochs=2)      # not one of the chapter's rates
    assert np.allclose(runs["constant"].lrs, 0.2)
    # step: x0.3 every 12 // 4 = 3 epochs
    assert np.allclose(runs["step"].lrs, [0.2 * 0.3 ** (e // 3) for e in range(12)])
    # cosine: from 0.2 at epoch 0 to 0 at the last epoch (T_max = epochs - 1)
    want = [0.1 * (1 + math.cos(math.pi * e / 11)) for e in range(12)]
    assert np.allclose(runs["cosine"].lrs, want, atol=1e-12)
    # warm-up over max(2, 12 // 10) = 2 epochs (0.1, 0.2), then cosine down to 0
    warm = runs["warmup"].lrs
    assert np.allclose(warm[:2], [0.1, 0.2]) and warm[-1] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(warm[1:]) <= 1e-12)
    for r in runs.values():
        assert r.train_loss.shape == (12,) and not r.diverged
        assert math.isclose(r.final, r.train_loss[-1])
    # the runs differ only by their rates: the first epoch is the same for constant and cosine
    assert runs["constant"].train_loss[0] == runs["cosine"].train_loss[0]
    with pytest.raises(ValueError):
        T.train_with_schedule("linear", 0.2, epochs=2)


def test_train_with_schedule_is_seeded_and_flags_divergence():
    a = T.train_with_schedule("cosine", 0.1, epochs=5, seed=3)
    b = T.train_with_schedule("cosine", 0.1, epochs=5, seed=3)
    assert np.array_equal(a.train_loss, b.train_loss)
    bad = T.train_with_schedule("constant", 0.4, epochs=3)
    assert bad.diverged and bad.final == np.inf


def test_grid_vs_random_tries_k_distinct_values_against_budget():
    r = T.grid_vs_random(9, seed=2, weight=0.1)
    assert r.grid.shape == r.random.shape == (9, 2)
    assert len(np.unique(r.grid[:, 0])) == 3 and len(np.unique(r.random[:, 0])) == 9
    assert np.all((r.random >= 0) & (r.random <= 1))
    assert np.allclose(r.grid_values, T._important(r.grid[:, 0]) + 0.1 * T._unimportant(r.grid[:, 1]))
    assert r.grid_best == r.grid_values.min() and r.random_best == r.random_values.min()
    assert r.curve_x.shape == r.important.shape == r.unimportant.shape == (200,)
    # random search is better than the 3 x 3 grid for most seeds on this objective
    wins = np.mean([T.grid_vs_random(9, s).random_best < T.grid_vs_random(9, s).grid_best
                    for s in range(200)])
    assert wins > 0.8


def test_search_configurations():
    grid = T.grid_configs(3)
    assert len(grid) == 9
    assert sorted({lr for lr, _ in grid}) == pytest.approx([1e-3, 1e-1, 10.0])
    assert sorted({wd for _, wd in grid}) == pytest.approx([1e-6, 1e-4, 1e-2])
    configs = np.array(T.random_configs(4000, seed=0))
    assert configs.shape == (4000, 2)
    assert np.all((configs[:, 0] >= 1e-3) & (configs[:, 0] <= 10))
    assert np.all((configs[:, 1] >= 1e-6) & (configs[:, 1] <= 1e-2))
    # log-uniform: the mean of log10 is the middle of the range
    assert abs(np.log10(configs[:, 0]).mean() + 1.0) < 0.15
    assert abs(np.log10(configs[:, 1]).mean() + 4.0) < 0.15
    assert T.random_configs(5, 1) == T.random_configs(5, 1) != T.random_configs(5, 2)


def test_digits_score_is_deterministic_and_diverges_at_huge_rates():
    a = T.digits_score(0.3, 1e-4, epochs=2)
    assert a == T.digits_score(0.3, 1e-4, epochs=2)
    assert a.lr == 0.3 and a.weight_decay == 1e-4
    assert 0 < a.val_loss < 2.3 and 0.5 < a.val_acc <= 1 and 0.5 < a.test_acc <= 1
    assert T.digits_score(1e-3, 1e-4, epochs=2).val_loss > a.val_loss
    assert T.digits_score(50.0, 1e-4, epochs=2).val_loss == np.inf


def test_grid_vs_random_coarse_to_fine_zooms_around_each_searchs_best():
    one = T.grid_vs_random(9, seed=3)
    two = T.grid_vs_random(9, seed=3, zoom=True)
    assert two.grid.shape == two.random.shape == (18, 2)
    assert np.array_equal(two.grid[:9], one.grid) and np.array_equal(two.random[:9], one.random)
    assert np.all((two.grid >= 0) & (two.grid <= 1) & (two.random >= 0) & (two.random <= 1))
    for points, values in [(two.grid, two.grid_values), (two.random, two.random_values)]:
        best = points[:9][np.argmin(values[:9])]
        second = points[9:]
        # the second round lies in a square of side 1/3 that contains the first round's best
        assert np.all(second.max(0) - second.min(0) <= 1 / 3 + 1e-12)
        assert np.all(np.abs(second - best) <= 1 / 3 + 1e-12)
        assert values.min() <= values[:9].min()
