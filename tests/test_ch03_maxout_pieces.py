"""Chapter 3's summary of which maxout pieces win, and where the kinks are."""
import numpy as np
import pytest
import torch

from dltips.chapters import activations
from dltips.models import Maxout


def _layer(units):
    """A one-input maxout layer; ``units`` lists each unit's pieces as (slope, intercept)."""
    layer = Maxout(1, len(units), len(units[0]))
    with torch.no_grad():  # the pieces are the rows of one nn.Linear, unit-major
        layer.linear.weight.copy_(torch.tensor([[w] for unit in units for w, _ in unit]))
        layer.linear.bias.copy_(torch.tensor([b for unit in units for _, b in unit]))
    return layer


def test_pieces_used_finds_winners_slopes_kinks_and_dead_pieces():
    layer = _layer([[(-1.0, 0.0), (1.0, 0.0), (0.0, -5.0)],   # |x|, and a dead piece
                    [(0.5, 0.0), (0.0, -9.0), (2.0, -1.0)]])  # one line wins up to x = 2/3
    used = activations.maxout_pieces_used(layer, np.linspace(1.0, -1.0, 9))  # any order
    assert used[0]["pieces"] == [0, 1]
    assert used[0]["slopes"] == pytest.approx([-1.0, 1.0])
    assert used[0]["kinks"] == pytest.approx([0.125])  # between the points 0 and 0.25
    assert used[1]["pieces"] == [0, 2]
    assert used[1]["slopes"] == pytest.approx([0.5, 2.0])
    assert used[1]["kinks"] == pytest.approx([0.625])  # between 0.5 and 0.75
    one_side = activations.maxout_pieces_used(layer, [-1.0, -0.5])
    assert one_side[0] == {"pieces": [0], "slopes": pytest.approx([-1.0]), "kinks": []}


def test_pieces_used_agrees_with_the_unit_curves_on_the_trained_network():
    model, x, _, _ = activations.train_maxout_regression(hidden=3, pieces=3, steps=200, seed=1)
    used = activations.maxout_pieces_used(model[0], x)
    _, pieces = activations.maxout_unit_curves(model[0], np.sort(x))
    for m, unit in enumerate(used):
        winners = pieces[:, m, :].argmax(axis=1)
        assert set(unit["pieces"]) == set(winners.tolist())
        assert len(unit["kinks"]) == len(unit["pieces"]) - 1
