"""dltips.chapters.gradients: gradient norms at initialisation, the nudge experiment, the depth sweep."""
import math

import pytest
import torch
from torch import nn

from dltips.chapters import gradients
from dltips.data import digits
from dltips.initialisation import HE_SCALE, scale_weights
from dltips.models import linear_layers, mlp

torch.set_num_threads(1)


def test_scale_weights_multiplies_weights_only():
    plain = mlp(64, 10, depth=3, width=16, activation="relu", seed=4)
    scaled = scale_weights(mlp(64, 10, depth=3, width=16, activation="relu", seed=4), 2.5)
    for a, b in zip(linear_layers(plain), linear_layers(scaled)):
        torch.testing.assert_close(b.weight, 2.5 * a.weight)
        torch.testing.assert_close(b.bias, a.bias)
    with pytest.raises(ValueError):
        scale_weights(mlp(64, 10, depth=3, activation="relu"), 0.0)


def test_he_scale_gives_he_uniform_bound():
    model = scale_weights(mlp(64, 10, depth=2, width=200, activation="relu", seed=0), HE_SCALE)
    hidden = linear_layers(model)[1]  # 200 inputs
    bound = math.sqrt(6 / 200)
    assert hidden.weight.abs().max().item() <= bound + 1e-6
    assert hidden.weight.abs().max().item() > 0.95 * bound
    assert hidden.weight.var().item() == pytest.approx(2 / 200, rel=0.05)  # He: variance 2/fan_in


def test_gradient_norms_match_a_plain_backward_pass():
    norms = gradients.gradient_norms_at_init(4, "tanh", width=16, seed=1, n_examples=100)
    model = mlp(64, 10, depth=4, width=16, activation="tanh", seed=1).double()
    split = digits(seed=1)
    loss = nn.functional.cross_entropy(model(split.x_train[:100].double()), split.y_train[:100])
    loss.backward()
    expected = [layer.weight.grad.norm().item() for layer in linear_layers(model)]
    assert len(norms) == 5
    assert all(isinstance(n, float) for n in norms)
    assert norms == pytest.approx(expected, rel=1e-9)


def test_sigmoid_gradients_vanish_towards_the_input_and_relu_with_he_init_does_not():
    sig = gradients.gradient_norms_at_init(8, "sigmoid")
    assert all(a < b for a, b in zip(sig[1:-1], sig[2:]))  # hidden layers grow towards the output
    assert sig[0] / sig[-1] < 1e-4
    per_layer = (sig[8] / sig[1]) ** (1 / 7)
    assert 4 < per_layer < 12  # the chapter's estimate: about sqrt(48) ~ 7 per layer
    relu = gradients.gradient_norms_at_init(8, "relu", weight_scale=HE_SCALE)
    assert 0.1 < relu[0] / relu[-1] < 10


def test_large_weights_make_relu_gradients_explode_with_depth():
    first = [gradients.gradient_norms_at_init(d, "relu", weight_scale=4.0)[0] for d in (2, 10)]
    assert first[1] > 10 * first[0]


def test_gradient_norms_reject_bad_batch_sizes():
    with pytest.raises(ValueError):
        gradients.gradient_norms_at_init(2, "relu", n_examples=0)
    with pytest.raises(ValueError):
        gradients.gradient_norms_at_init(2, "relu", n_examples=10**6)


def test_change_through_layers_fades_for_sigmoid_only():
    changes, loss_change = gradients.change_through_layers(6, "sigmoid")
    assert len(changes) == 6
    assert all(a > b > 0 for a, b in zip(changes, changes[1:]))
    assert changes[-1] < 1e-3 * changes[0]
    he, he_loss = gradients.change_through_layers(6, "relu", weight_scale=HE_SCALE)
    assert 0.1 < he[-1] / he[0] < 10
    assert he_loss > 100 * loss_change


def test_change_through_layers_moves_the_chosen_weight():
    # Pixel 0 of the digits is blank in every image, so its weight cannot change anything.
    changes, loss_change = gradients.change_through_layers(3, "sigmoid", feature=0)
    assert changes == [0.0, 0.0, 0.0] and loss_change == 0.0
    zero, _ = gradients.change_through_layers(3, "sigmoid", delta=0.0)
    assert zero == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        gradients.change_through_layers(3, "sigmoid", feature=64)


def test_depth_sweep_separates_sigmoid_from_relu():
    budget = dict(depths=[1, 6], width=32, epochs=4, lr=0.1, batch_size=32)
    sig = gradients.train_accuracy_vs_depth("sigmoid", **budget)
    relu = gradients.train_accuracy_vs_depth("relu", weight_scale=HE_SCALE, **budget)
    assert len(sig) == len(relu) == 2
    assert all(0.0 <= a <= 1.0 for a in sig + relu)
    assert sig[1] < 0.3  # near chance on its own training data
    assert relu[0] > 0.9 and relu[1] > 0.9
    assert gradients.train_accuracy_vs_depth("sigmoid", **budget) == sig  # seeded


def test_balanced_learning_rates_change_the_training():
    budget = dict(depths=[3], width=32, epochs=4, lr=0.1, batch_size=32)
    plain = gradients.train_accuracy_vs_depth("sigmoid", **budget)
    balanced = gradients.train_accuracy_vs_depth("sigmoid", balance_layers=True, **budget)
    assert plain[0] < 0.15 and balanced[0] > plain[0] + 0.1  # the first layers finally move
