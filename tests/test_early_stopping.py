"""Chapter 6's module: the early-stopping run and gradient descent against ridge."""
import numpy as np
import pytest
import torch

from dltips.chapters import early_stopping as es


@pytest.fixture(scope="module")
def run():
    torch.set_num_threads(1)
    return es.early_stopping_run(noise=0.5, n_train=20, patience=(3, 10), epochs=80, seed=1,
                                 n_test=200)


def test_curves_have_one_entry_per_epoch(run):
    for curve in (run.train_loss, run.val_loss, run.test_loss, run.distance):
        assert curve.shape == (80,) and np.all(np.isfinite(curve))
    assert run.fits.shape == (80, len(es.GRID))
    assert run.x_train.shape == run.y_train.shape == (20,)
    assert run.x_val.shape == run.y_val.shape == (30,)
    assert np.all(run.distance > 0)


def test_watches_stop_after_patience_and_keep_the_best_validation_epoch(run):
    assert [w.patience for w in run.watches] == [3, 10] and run.watch is run.watches[0]
    for w in run.watches:
        end = len(run.val_loss) if w.stop_epoch is None else w.stop_epoch + 1
        assert w.restored_epoch == int(np.argmin(run.val_loss[:end]))
        if w.stop_epoch is not None:
            assert w.stop_epoch - w.restored_epoch == w.patience
            assert np.all(run.val_loss[w.restored_epoch + 1:end] >= run.val_loss[w.restored_epoch])


def test_restored_weights_give_the_test_loss_of_their_epoch(run):
    for w in run.watches:
        assert w.restored_test_loss == pytest.approx(run.test_loss[w.restored_epoch], rel=1e-6)


def test_min_delta_makes_improvements_harder():
    torch.set_num_threads(1)
    loose = es.early_stopping_run(n_train=20, patience=5, epochs=60, seed=2, n_test=100)
    strict = es.early_stopping_run(n_train=20, patience=5, epochs=60, seed=2, n_test=100,
                                   min_delta=0.05)
    np.testing.assert_array_equal(loose.val_loss, strict.val_loss)   # same training run
    assert strict.watch.stop_epoch is not None
    assert strict.watch.stop_epoch <= (loose.watch.stop_epoch or 60)


def test_run_is_deterministic_and_hindsight_is_the_test_minimum(run):
    again = es.early_stopping_run(noise=0.5, n_train=20, patience=(3, 10), epochs=80, seed=1,
                                  n_test=200)
    np.testing.assert_array_equal(run.val_loss, again.val_loss)
    assert run.hindsight_epoch == int(np.argmin(run.test_loss))


def test_watched_run_is_early_stopping_run_with_every_patience_at_once():
    both = es.watched_run(0.5, 20, 3, (5, 20))
    assert es.watched_run(noise=0.5, n_train=20, seed=3, patiences=(5, 20)) is both  # cached
    for watch, patience in zip(both.watches, (5, 20)):
        alone = es.early_stopping_run(noise=0.5, n_train=20, patience=patience, seed=3)
        assert watch == alone.watch
        np.testing.assert_array_equal(both.val_loss, alone.val_loss)
        np.testing.assert_array_equal(both.fits, alone.fits)



def test_patience_must_be_positive():
    with pytest.raises(ValueError):
        es.early_stopping_run(patience=0, epochs=5)


def test_gradient_descent_and_ridge_match_their_formulas():
    out = es.gd_versus_ridge([100, 10, 1000], lr=0.1)
    assert out["gd"].shape == out["ridge"].shape == (3, 12)
    assert np.all(np.diff(out["eigenvalues"]) > 0)
    np.testing.assert_allclose(out["gd"], out["gd_formula"], atol=1e-10)
    np.testing.assert_allclose(out["ridge"], out["ridge_formula"], atol=1e-10)
    # more steps (smaller alpha) reach further toward w*, along every direction
    assert np.all(out["gd"][1] < out["gd"][0]) and np.all(out["gd"][0] < out["gd"][2])
    assert np.all((out["ridge"] > 0) & (out["ridge"] < 1))
