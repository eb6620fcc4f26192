"""Chapter 5's momentum-on-a-quadratic experiment: the tuned settings, the runs and the sweep."""
import math

import numpy as np
import pytest

from dltips.chapters import landscapes as L


def test_tuned_settings_match_the_formulas():
    s = L.tuned_quadratic_settings(100.0)
    assert s["gd_lr"] == pytest.approx(2 / 1.01)
    assert s["gd_rate"] == pytest.approx(99 / 101)
    assert s["momentum_rate"] == pytest.approx(9 / 11)
    assert s["momentum"] == pytest.approx((9 / 11) ** 2)
    assert s["momentum_lr"] == pytest.approx(4 / 1.1 ** 2)
    scaled = L.tuned_quadratic_settings(100.0, largest=10.0)  # the same bowl, 10 times steeper
    assert scaled["gd_lr"] == pytest.approx(s["gd_lr"] / 10)
    assert scaled["momentum"] == pytest.approx(s["momentum"])
    assert L.tuned_quadratic_settings(1.0)["momentum"] == 0.0  # a round bowl needs no momentum
    with pytest.raises(ValueError):
        L.tuned_quadratic_settings(0.5)


def test_plain_gradient_descent_shrinks_each_coordinate_by_one_minus_lr_times_curvature():
    kappa, lr, steps = 10.0, 0.5, 30
    d = L.quadratic_distances(kappa, lr, 0.0, steps)
    t = np.arange(steps + 1)
    expected = np.hypot((1 - lr / kappa) ** t, (1 - lr) ** t)
    np.testing.assert_allclose(d, expected, rtol=1e-12)


def test_momentum_follows_the_heavy_ball_recursion():
    kappa, lr, mu, steps = 30.0, 0.7, 0.6, 40
    a = np.array([1 / kappa, 1.0])
    w_prev, w = np.ones(2), np.ones(2)
    want = [np.linalg.norm(w)]
    for _ in range(steps):
        w, w_prev = (1 + mu) * w - lr * a * w - mu * w_prev, w
        want.append(np.linalg.norm(w))
    np.testing.assert_allclose(L.quadratic_distances(kappa, lr, mu, steps), want, rtol=1e-10)


def test_until_stops_at_the_first_step_below_the_factor():
    full = L.quadratic_distances(100.0, 1.9, 0.0, 2000)
    short = L.quadratic_distances(100.0, 1.9, 0.0, 2000, until=1e-3)
    n = L.steps_to_shrink(full, 1e-3)
    assert n is not None and len(short) == n + 1
    np.testing.assert_array_equal(short, full[:n + 1])
    assert L.steps_to_shrink(full[:n], 1e-3) is None


def test_tuned_momentum_beats_tuned_gradient_descent_like_sqrt_kappa():
    out = L.conditioning_sweep([10, 100], factor=1e-4)
    np.testing.assert_array_equal(out["kappa"], [10, 100])
    # gradient descent follows its worst-direction rate to within a step
    np.testing.assert_allclose(out["gd"], out["gd_predicted"], atol=1.5)
    # momentum is far faster, and its count grows much more slowly than kappa
    assert np.all(out["momentum"] < out["gd"] / 2)
    growth = out["momentum"][1] / out["momentum"][0]
    assert 2 < growth < 5 < out["gd"][1] / out["gd"][0]
    # a double root costs extra steps: measured at or above the rate's prediction
    assert np.all(out["momentum"] >= np.floor(out["momentum_predicted"]))
    assert math.isclose(out["momentum_predicted"][1], math.log(1e-4) / math.log(9 / 11))
