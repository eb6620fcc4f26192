"""Chapter 1's computations (dltips.chapters.diagnosis): the checks before training, the
baselines, and the degradation experiment's network and measurements."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dltips.chapters import diagnosis

torch.set_num_threads(1)  # small networks: one thread is faster, and the numbers are deterministic

LN10 = math.log(10)


def test_expected_initial_loss_is_ln_k_and_matches_small_random_logits():
    assert diagnosis.expected_initial_loss(0.0) == pytest.approx(LN10)
    assert diagnosis.expected_initial_loss(0.0, n_classes=4) == pytest.approx(math.log(4))
    gen = torch.Generator().manual_seed(0)
    for s in (0.2, 0.5):
        logits = s * torch.randn(200_000, 10, generator=gen)
        labels = torch.randint(0, 10, (200_000,), generator=gen)
        measured = F.cross_entropy(logits, labels).item()
        assert measured == pytest.approx(diagnosis.expected_initial_loss(s), abs=0.01)


def test_initial_loss_is_near_ln10_and_grows_with_the_output_scale():
    loss, std = diagnosis.initial_loss(1.0)
    assert abs(loss - LN10) < 0.25 and 0 < std < 1
    big_loss, big_std = diagnosis.initial_loss(30.0)
    assert big_std == pytest.approx(30 * std, rel=0.1)   # the bias is not scaled
    assert big_loss > 5 * LN10


def test_a_tiny_subset_is_memorised_unless_softmax_is_applied_twice():
    losses, acc = diagnosis.overfit_tiny_subset(n_examples=20, steps=60)
    assert losses.shape == (60,)
    assert losses[0] == pytest.approx(LN10, abs=0.3)
    assert losses[-1] < 0.05 and acc == 1.0
    buggy, _ = diagnosis.overfit_tiny_subset(n_examples=20, steps=60, softmax_twice=True)
    assert buggy.min() >= math.log(1 + 9 / math.e) - 1e-6


def test_loss_curve_shapes_and_divergence():
    good = diagnosis.loss_curve(0.3, epochs=1)
    assert good.shape == (math.ceil(1079 / 64),) and np.all(np.isfinite(good))
    assert good[-5:].mean() < good[0]
    exploded = diagnosis.loss_curve(10.0, epochs=1)
    assert exploded[-1] == math.inf and len(exploded) < len(good)
    assert diagnosis.read_loss_curve(exploded) == "diverged"


@pytest.mark.parametrize("curve, regime", [
    (np.full(50, LN10) - np.linspace(0, 0.05, 50), "too low"),
    (LN10 * np.exp(-np.linspace(0, 5, 50)), "reasonable"),
    (np.concatenate([np.linspace(LN10, 0.5, 25), np.linspace(0.5, 1.8, 25)]), "too high"),
    (np.array([2.3, 2.0, np.nan]), "diverged"),
    (np.array([2.3, 50.0, 2.3, 2.3]), "diverged"),
])
def test_read_loss_curve_names_the_regime(curve, regime):
    assert diagnosis.read_loss_curve(curve) == regime


def test_nearest_neighbour_is_a_strong_baseline():
    assert 0.9 < diagnosis.nearest_neighbour_accuracy(0) <= 1.0


def test_best_of_k_inflation_grows_with_k_and_vanishes_for_one_model():
    one = diagnosis.best_of_k_inflation(0.96, 359, 1, trials=5000)
    five, twenty = (diagnosis.best_of_k_inflation(0.96, 359, k, trials=5000) for k in (5, 20))
    assert abs(one) < 0.002
    assert 0.005 < five < twenty < 0.03
    se = math.sqrt(0.96 * 0.04 / 359)           # the best of 20 normals is about 1.87 SE high
    assert twenty == pytest.approx(1.87 * se, rel=0.25)


def test_bn_mlp_is_plain_batch_normalised_and_he_initialised():
    model = diagnosis.bn_mlp(64, 10, depth=3, width=16, seed=0)
    again = diagnosis.bn_mlp(64, 10, depth=3, width=16, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values()))
    assert len(model) == 3 * 3 + 1
    kinds = [type(m) for m in model[:3]]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU] and model[0].bias is None
    assert model(torch.randn(8, 64)).shape == (8, 10)
    wide = diagnosis.bn_mlp(64, 10, depth=1, width=2000, seed=0)
    assert wide[0].weight.var().item() == pytest.approx(2 / 64, rel=0.05)


def test_degradation_returns_one_run_per_seed_and_depth():
    runs = diagnosis.degradation(depths=(1, 2), width=8, epochs=2, seeds=(0, 1))
    assert sorted(runs) == [1, 2] and all(len(r) == 2 for r in runs.values())
    for run in runs[1] + runs[2]:
        assert len(run.history.train_acc) == len(run.history.val_acc) == 2
        assert 0 <= run.train_error <= 1 and 0 <= run.val_error <= 1


def test_first_layer_gradient_vanishes_in_deep_tanh_nets_but_not_with_batch_norm():
    tanh_ratio = diagnosis.first_layer_gradient(20, "tanh") / diagnosis.first_layer_gradient(2, "tanh")
    bn_ratio = diagnosis.first_layer_gradient(20, "bn") / diagnosis.first_layer_gradient(2, "bn")
    assert tanh_ratio < 1e-3
    assert bn_ratio > 1
    with pytest.raises(ValueError, match="unknown kind"):
        diagnosis.first_layer_gradient(2, "sigmoid")


def test_train_mlp_takes_plain_sgd():
    history = diagnosis.train_mlp(depth=1, width=16, epochs=2, lr=0.1, momentum=0.0)
    assert len(history.train_loss) == 2 and history.train_loss[1] < history.train_loss[0]


def test_demo_history_is_train_mlp_cut_to_length():
    full = diagnosis.train_mlp(depth=2, activation="sigmoid", width=16, epochs=4, n_train=300)
    assert diagnosis.demo_history(2, "sigmoid", 16, 4, n_train=300) == full
    short = diagnosis.train_mlp(depth=2, activation="sigmoid", width=16, epochs=2, n_train=300)
    assert diagnosis.demo_history(2, "sigmoid", 16, 2, n_train=300) == short
    longer = diagnosis.demo_history(2, "sigmoid", 16, diagnosis.DEMO_EPOCHS + 1, n_train=300)
    assert len(longer.train_loss) == diagnosis.DEMO_EPOCHS + 1
    assert longer.val_acc[:4] == full.val_acc
    with pytest.raises(ValueError, match="epochs"):
        diagnosis.demo_history(2, "sigmoid", 16, 0, n_train=300)
