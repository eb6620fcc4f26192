"""dltips.chapters.preprocessing: standardising with whose statistics, the zig-zag of
all-positive inputs, whitening, symmetric initialisation, and the deep networks of the demo and
the experiment."""
import math

import numpy as np
import pytest
import torch

from dltips.chapters import preprocessing as P
from dltips.models import linear_layers


def test_own_statistics_hurt_small_batches_and_single_examples_become_zero():
    r = P.own_statistics_accuracy(batch_sizes=(597, 1), epochs=3)
    assert r["batch_sizes"].tolist() == [597, 1]
    assert 0.8 < r["train_stats"] <= 1
    # one example standardised with its own statistics is all zeros: one prediction for all
    assert r["own_stats"][1] < 0.2 < r["own_stats"][0]
    assert 0 <= r["two_classes_own_stats"] <= 1 and 0 <= r["two_classes_train_stats"] <= 1


@pytest.mark.parametrize("inputs", P.INPUTS)
def test_sgd_path_records_steps_and_gradient_signs(inputs):
    p = P.sgd_path(inputs, steps=25, lr=0.5, n=50, seed=1)
    assert p.path.shape == (26, 2) and p.grads.shape == (25, 2) and p.losses.shape == (25,)
    assert np.array_equal(p.path[0], [0.0, 0.0]) and np.array_equal(p.target, [1.0, -1.0])
    # SGD: every step is the learning rate times the recorded gradient
    assert np.allclose(np.diff(p.path, axis=0), -0.5 * p.grads)
    if inputs == "raw":
        assert np.all(p.x > 0) and p.same_sign == 1.0
    else:
        assert np.allclose(p.x.mean(0), 0, atol=1e-12) and p.same_sign < 1.0
    if inputs == "standardised":
        assert np.allclose(p.x.std(0), 1.0)
    with pytest.raises(ValueError):
        P.sgd_path("whitened")


def test_whitening_steps_end_with_identity_covariance():
    s = P.whitening_steps(n=300, seed=2)
    cov = s["covariances"]
    assert np.allclose(s["centred"].mean(0), 0, atol=1e-12)
    assert abs(cov["raw"][0, 1]) > 0.1
    assert abs(cov["decorrelated"][0, 1]) < 1e-10
    assert np.allclose(cov["whitened"], np.eye(2), atol=1e-10)
    assert np.all(np.abs(s["raw"].mean(0)) > 1)


def test_symmetric_initialisation_keeps_every_hidden_unit_identical():
    zero = P.symmetric_training("zero", epochs=2, width=8)
    const = P.symmetric_training("constant", epochs=2, width=8)
    rand = P.symmetric_training("random", epochs=2, width=8)
    assert zero["unit_spread"] == 0.0 and const["unit_spread"] == 0.0
    assert rand["unit_spread"] > 0.1
    assert rand["train_acc"] > const["train_acc"]


@pytest.mark.parametrize("scheme, want", [("normal", lambda i, o: 0.5),
                                          ("xavier", lambda i, o: 0.5 * math.sqrt(2 / (i + o))),
                                          ("he", lambda i, o: 0.5 * math.sqrt(2 / i))])
def test_deep_net_draws_each_layer_with_the_scheme_std(scheme, want):
    model = P.deep_net("relu", scheme, 0.5, depth=3, width=300, in_features=400,
                       out_features=200, seed=3)
    layers = linear_layers(model)
    assert len(layers) == 4
    for layer in layers:
        fan_out, fan_in = layer.weight.shape
        assert torch.all(layer.bias == 0)
        std = float(layer.weight.detach().std())
        assert abs(std / want(fan_in, fan_out) - 1) < 0.03
    same = P.deep_net("relu", scheme, 0.5, depth=3, width=300, in_features=400,
                      out_features=200, seed=3)
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(layers, linear_layers(same)))
    with pytest.raises(ValueError):
        P.deep_net("relu", "lecun")


def test_layer_activations_collapse_saturate_or_keep_their_size():
    tiny = P.layer_activations("tanh", "normal", 0.01, depth=6, width=64, n=100)
    assert len(tiny) == 6 and tiny[0].shape == (100, 64)
    assert tiny[-1].std() < 1e-5 * tiny[0].std()
    big = P.layer_activations("tanh", "normal", 1.0, depth=6, width=64, n=100)
    assert np.mean(np.abs(big[-1]) > 0.99) > 0.5
    he = P.layer_activations("relu", "he", 1.0, depth=6, width=64, n=100)
    assert 0.3 < he[-1].std() / he[0].std() < 3
    assert np.all(he[-1] >= 0)


def test_layer_gradients_one_per_weight_matrix():
    g = P.layer_gradients("tanh", "xavier", 1.0, depth=4, width=32, n=50)
    assert g.shape == (5,) and np.all(g > 0)
    tiny = P.layer_gradients("tanh", "normal", 0.01, depth=4, width=32, n=50)
    assert np.all(tiny < 1e-3 * g)


def test_train_deep_records_eval_mode_curves_and_is_seeded():
    a = P.train_deep("relu", "he", epochs=2, depth=3, width=32)
    b = P.train_deep("relu", "he", epochs=2, depth=3, width=32)
    assert a == b
    assert len(a.train_acc) == len(a.val_acc) == len(a.train_loss) == len(a.val_loss) == 2
    stuck = P.train_deep("tanh", "normal", 0.01, epochs=2, depth=6, width=32)
    assert abs(stuck.train_loss[-1] - math.log(10)) < 0.01
    assert a.train_acc[-1] > stuck.train_acc[-1]
    # a diverging run records NaN, not inf
    wild = P.train_deep("relu", "normal", 1.0, epochs=1, depth=6, width=64, lr=0.1)
    assert all(math.isnan(v) or math.isfinite(v) for v in wild.train_loss)
