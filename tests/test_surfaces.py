"""Tests of dltips.surfaces (core: surfaces, torch.optim trajectories) and of
dltips.chapters.adaptive (chapter 4: step lengths, the lecture's RMSProp, the batch-size helpers)."""
import math

import numpy as np
import pytest
import torch

from dltips import surfaces as S
from dltips.chapters import adaptive as A


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(S.SURFACES))
def test_named_minimum_is_a_stationary_point_and_lowest_on_the_grid(name):
    s = S.SURFACES[name]
    assert np.abs(S.gradient_at(s, s.minimum)).max() < 2e-3
    _, _, loss = S.grid(s, n=81)
    assert S.loss_at(s, s.minimum) <= loss.min() + 1e-6


def test_gradient_matches_finite_differences():
    point = np.array([-2.3, 0.7])
    h = 1e-6
    numeric = [(S.loss_at("cliff", point + h * e) - S.loss_at("cliff", point - h * e)) / (2 * h)
               for e in np.eye(2)]
    np.testing.assert_allclose(S.gradient_at("cliff", point), numeric, rtol=1e-6)


def test_cliff_curvature_changes_along_w1():
    # steep on the wall, gentle on the plateau: the reason Adagrad's memory hurts
    wall = abs(S.gradient_at("cliff", [-3.5, 0.0])[0])
    plateau = abs(S.gradient_at("cliff", [0.0, 0.0])[0])
    assert wall > 7 and plateau < 0.25


def test_grid_shapes_and_orientation():
    w1, w2, loss = S.grid("elongated", n=5, xlim=(-1, 1), ylim=(-2, 2))
    assert w1.shape == w2.shape == loss.shape == (5, 5)
    assert w1[0, -1] == 1 and w2[-1, 0] == 2
    assert loss[2, 4] == pytest.approx(0.05)   # (w1, w2) = (1, 0)
    assert loss[4, 2] == pytest.approx(20.0)   # (0, 2)


def test_sgd_trajectory_is_the_gradient_descent_recursion():
    lr = 0.05
    path = S.trajectory("rosenbrock", "sgd", lr, 10, start=(-1.0, 2.0))
    assert path.shape == (11, 2) and path.dtype == np.float64
    w = np.array([-1.0, 2.0])
    for t in range(10):
        w = w - lr * S.gradient_at("rosenbrock", w)
        np.testing.assert_allclose(path[t + 1], w, rtol=1e-12)


def test_adagrad_first_step_is_lr_times_gradient_sign():
    path = S.trajectory("cliff", "adagrad", 0.3, 1, start=(-3.0, 1.0))
    np.testing.assert_allclose(path[1] - path[0], [0.3, -0.3], rtol=1e-6)


def test_optimizer_keywords_are_passed_on():
    a = S.trajectory("elongated", "rmsprop", 0.1, 20, alpha=0.5)
    b = S.trajectory("elongated", "rmsprop", 0.1, 20)
    assert not np.allclose(a, b)
    m1 = S.trajectory("elongated", "momentum", 0.01, 20)
    m2 = S.trajectory("elongated", "sgd", 0.01, 20, momentum=0.9)
    np.testing.assert_allclose(m1, m2)


def test_trajectory_defaults_to_surface_start_and_accepts_surface_objects():
    s = S.Surface("bowl", lambda w: (w ** 2).sum(-1), (-1, 1), (-1, 1), start=(0.5, -0.5),
                  minimum=(0, 0))
    path = S.trajectory(s, "sgd", 0.25, 3)
    np.testing.assert_allclose(path, [[0.5, -0.5], [0.25, -0.25], [0.125, -0.125],
                                      [0.0625, -0.0625]])


def test_diverging_trajectory_is_padded_with_nan():
    path = S.trajectory("elongated", "sgd", 10.0, 50)
    assert path.shape == (51, 2)
    assert np.isnan(path[-1]).all() and np.isfinite(path[0]).all()


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown optimizer"):
        S.trajectory("cliff", "lbfgs", 0.1, 3)
    with pytest.raises(ValueError, match="unknown surface"):
        S.trajectory("moon", "sgd", 0.1, 3)


def test_adagrad_stalls_on_the_cliff_where_rmsprop_arrives():
    # the chapter's experiment, in numbers
    ada = S.trajectory("cliff", "adagrad", 0.3, 300, start=(-4, 1))
    rms = S.trajectory("cliff", "rmsprop", 0.3, 300, start=(-4, 1))
    assert S.distance_to_minimum("cliff", ada)[-1] > 1.5
    assert S.distance_to_minimum("cliff", rms)[-1] < 0.05
    eff = A.effective_learning_rates("cliff", ada)[:, 0]
    assert np.all(np.diff(eff[np.isfinite(eff)]) <= 1e-12)   # Adagrad's rates only shrink
    eff_rms = A.effective_learning_rates("cliff", rms)[:, 0]
    assert eff_rms[150] > eff_rms[5] > eff[5]                  # RMSProp's recover on the plateau
    assert eff_rms[150] > 30 * eff[150]


def test_effective_learning_rate_of_sgd_is_its_learning_rate():
    path = S.trajectory("rosenbrock", "sgd", 0.02, 5)
    np.testing.assert_allclose(A.effective_learning_rates("rosenbrock", path), 0.02, rtol=1e-9)


def test_plot_surface_draws_paths():
    from dltips.plotting import new_figure
    fig, ax = new_figure()
    paths = {"adagrad, lr 0.3": S.trajectory("cliff", "adagrad", 0.3, 5),
             "rmsprop a=0.9": S.trajectory("cliff", "rmsprop", 0.3, 5, alpha=0.9),
             "mine": S.trajectory("cliff", "sgd", 0.1, 5)}
    S.plot_surface(ax, "cliff", paths, colors={"mine": "#123456"})
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"adagrad, lr 0.3", "rmsprop a=0.9", "mine", "minimum"} <= set(lines)
    assert lines["adagrad, lr 0.3"].get_color() == S.PATH_COLORS["adagrad"]
    assert lines["rmsprop a=0.9"].get_color() == S.PATH_COLORS["rmsprop"]
    assert lines["mine"].get_color() == "#123456"
    np.testing.assert_allclose(lines["mine"].get_xydata(), paths["mine"])


def test_minibatch_training_counts_updates_and_is_reproducible():
    run = A.minibatch_training(batch_size=50, epochs=3, n=120, lr=0.05)
    assert run.updates_per_epoch == 3                       # 50 + 50 + 20
    assert len(run.update_loss) == 1 + 3 * 3 and len(run.epoch_loss) == 4
    assert run.update_loss[0] == run.epoch_loss[0]
    assert run.update_loss[3] == run.epoch_loss[1] and run.update_loss[-1] == run.epoch_loss[-1]
    np.testing.assert_allclose(run.epochs_axis[[0, 3, 9]], [0, 1, 3])
    again = A.minibatch_training(batch_size=50, epochs=3, n=120, lr=0.05)
    assert run.update_loss == again.update_loss


def test_every_batch_size_starts_from_the_same_model():
    a = A.minibatch_training(batch_size=1, epochs=1, n=40)
    b = A.minibatch_training(batch_size=40, epochs=1, n=40)
    assert a.epoch_loss[0] == b.epoch_loss[0]
    assert len(a.update_loss) == 41 and len(b.update_loss) == 2


def test_full_batch_with_tiny_steps_decreases_loss_monotonically():
    run = A.minibatch_training(batch_size=10_000, epochs=15, n=100, lr=0.02)
    assert run.batch_size == 100 and run.updates_per_epoch == 1
    assert np.all(np.diff(run.epoch_loss) < 0)


def test_gradient_noise_shrinks_with_batch_size():
    out = A.gradient_noise([1, 16, 128, 200], n=200, draws=20)
    assert np.all(np.diff(out["relative_error"]) < 0)
    assert np.all(np.diff(out["cosine"]) > 0)
    assert out["relative_error"][-1] < 1e-5 and out["cosine"][-1] == pytest.approx(1.0)


def test_seconds_per_epoch_is_positive():
    secs = A.seconds_per_epoch([1, 64], n=64, repeats=1)
    assert secs.shape == (2,) and np.all(secs > 0) and math.isfinite(secs.sum())


def test_lecture_rmsprop_starts_sigma_at_the_first_gradient():
    lr, alpha = 0.05, 0.9
    path = A.lecture_rmsprop_trajectory("cliff", lr, 30, alpha=alpha)
    np.testing.assert_allclose(A.step_lengths(path)[0], [lr, lr], rtol=1e-6)  # first step = lr
    w = np.array(S.SURFACES["cliff"].start, dtype=float)
    sigma2 = None
    for t in range(30):   # the lecture's recursion, written out
        g = S.gradient_at("cliff", w)
        sigma2 = g ** 2 if sigma2 is None else alpha * sigma2 + (1 - alpha) * g ** 2
        w = w - lr * g / (np.sqrt(sigma2) + 1e-8)
        np.testing.assert_allclose(path[t + 1], w, rtol=1e-10)
    torch_path = S.trajectory("cliff", "rmsprop", lr, 1, alpha=alpha)
    np.testing.assert_allclose(A.step_lengths(torch_path)[0], lr / np.sqrt(1 - alpha), rtol=1e-6)
